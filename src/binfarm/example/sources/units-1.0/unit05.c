#include "units.h"

static long f0(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 3 + k;
	for (int r = 0; r < 2; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 1) + 5;
	return a[15] % 13;
}

static long f1(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 4 + k;
	for (int r = 0; r < 3; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 2) + 5;
	return a[15] % 20;
}

static long f2(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 5 + k;
	for (int r = 0; r < 4; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 3) + 5;
	return a[15] % 27;
}

static long f3(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 6 + k;
	for (int r = 0; r < 5; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 4) + 5;
	return a[15] % 34;
}

static long f4(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 7 + k;
	for (int r = 0; r < 6; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 5) + 5;
	return a[15] % 41;
}

static long f5(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 8 + k;
	for (int r = 0; r < 7; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 1) + 5;
	return a[15] % 48;
}

static long f6(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 9 + k;
	for (int r = 0; r < 8; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 2) + 5;
	return a[15] % 55;
}

static long f7(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 10 + k;
	for (int r = 0; r < 2; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 3) + 5;
	return a[15] % 62;
}

static long f8(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 11 + k;
	for (int r = 0; r < 3; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 4) + 5;
	return a[15] % 69;
}

static long f9(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 12 + k;
	for (int r = 0; r < 4; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 5) + 5;
	return a[15] % 76;
}

static long f10(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 13 + k;
	for (int r = 0; r < 5; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 1) + 5;
	return a[15] % 83;
}

static long f11(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 14 + k;
	for (int r = 0; r < 6; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 2) + 5;
	return a[15] % 90;
}

static long f12(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 15 + k;
	for (int r = 0; r < 7; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 3) + 5;
	return a[15] % 97;
}

static long f13(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 16 + k;
	for (int r = 0; r < 8; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 4) + 5;
	return a[15] % 104;
}

static long f14(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 17 + k;
	for (int r = 0; r < 2; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 5) + 5;
	return a[15] % 111;
}

static long f15(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 18 + k;
	for (int r = 0; r < 3; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 1) + 5;
	return a[15] % 118;
}

static long f16(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 19 + k;
	for (int r = 0; r < 4; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 2) + 5;
	return a[15] % 125;
}

static long f17(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 20 + k;
	for (int r = 0; r < 5; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 3) + 5;
	return a[15] % 132;
}

static long f18(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 21 + k;
	for (int r = 0; r < 6; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 4) + 5;
	return a[15] % 139;
}

static long f19(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 22 + k;
	for (int r = 0; r < 7; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 5) + 5;
	return a[15] % 146;
}

static long f20(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 23 + k;
	for (int r = 0; r < 8; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 1) + 5;
	return a[15] % 153;
}

static long f21(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 24 + k;
	for (int r = 0; r < 2; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 2) + 5;
	return a[15] % 160;
}

static long f22(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 25 + k;
	for (int r = 0; r < 3; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 3) + 5;
	return a[15] % 167;
}

static long f23(long x)
{
	long a[16];
	for (int k = 0; k < 16; k++)
		a[k] = x * 26 + k;
	for (int r = 0; r < 4; r++)
		for (int k = 1; k < 16; k++)
			a[k] ^= (a[k - 1] << 4) + 5;
	return a[15] % 174;
}

long unit5(long x)
{
	long s = 0;
	s += f0(x + 0);
	s += f1(x + 1);
	s += f2(x + 2);
	s += f3(x + 3);
	s += f4(x + 4);
	s += f5(x + 5);
	s += f6(x + 6);
	s += f7(x + 7);
	s += f8(x + 8);
	s += f9(x + 9);
	s += f10(x + 10);
	s += f11(x + 11);
	s += f12(x + 12);
	s += f13(x + 13);
	s += f14(x + 14);
	s += f15(x + 15);
	s += f16(x + 16);
	s += f17(x + 17);
	s += f18(x + 18);
	s += f19(x + 19);
	s += f20(x + 20);
	s += f21(x + 21);
	s += f22(x + 22);
	s += f23(x + 23);
	return s;
}

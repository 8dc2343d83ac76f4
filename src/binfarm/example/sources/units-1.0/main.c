#include <stdio.h>
#include "units.h"

int main(void)
{
	long s = 0;
	s += unit0(0);
	s += unit1(1);
	s += unit2(2);
	s += unit3(3);
	s += unit4(4);
	s += unit5(5);
	s += unit6(6);
	s += unit7(7);
	s += unit8(8);
	s += unit9(9);
	s += unit10(10);
	s += unit11(11);
	printf("units: checksum %ld\n", s);
	return 0;
}

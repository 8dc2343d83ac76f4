#!/bin/sh
# gen.sh unit N: compile unit N (40 functions); gen.sh main UNITS: main.c calling them all.
case $1 in
unit)
	i=$2 j=0
	while [ "$j" -lt 40 ]; do
		echo "static long f$j(long x) { long a[16]; for (int k = 0; k < 16; k++) a[k] = x * $((j + 3)) + k;"
		echo "  for (int r = 0; r < $((j % 7 + 2)); r++) for (int k = 1; k < 16; k++) a[k] ^= (a[k - 1] << $((j % 5 + 1))) + $i;"
		echo "  return a[15] % $((j * 7 + 13)); }"
		j=$((j + 1))
	done
	echo "long unit$i(long x) { long s = 0;"
	j=0
	while [ "$j" -lt 40 ]; do echo "  s += f$j(x + $j);"; j=$((j + 1)); done
	echo "  return s; }"
	;;
main)
	echo "#include <stdio.h>"
	i=0
	while [ "$i" -lt "$2" ]; do echo "long unit$i(long x);"; i=$((i + 1)); done
	echo "int main(void) { long s = 0;"
	i=0
	while [ "$i" -lt "$2" ]; do echo "  s += unit$i($i);"; i=$((i + 1)); done
	printf '%s\n' '  printf("units: checksum %ld\n", s); return 0; }'
	;;
esac

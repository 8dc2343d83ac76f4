#ifndef UNITS_H
#define UNITS_H
long unit0(long x);
long unit1(long x);
long unit2(long x);
long unit3(long x);
long unit4(long x);
long unit5(long x);
long unit6(long x);
long unit7(long x);
long unit8(long x);
long unit9(long x);
long unit10(long x);
long unit11(long x);
#endif

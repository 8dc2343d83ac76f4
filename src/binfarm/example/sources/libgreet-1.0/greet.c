#include "greet.h"
const char *greet_message(void) { return "libgreet 1.0"; }
int greet_add(int a, int b) { return a + b; }

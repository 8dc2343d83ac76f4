#include <stdio.h>
int main(void) { puts("slowpoke: finally"); return 0; }

#include <stdio.h>
#include <greet.h>
#include "config.h"
int main(void) {
#ifdef ENABLE_NLS
    printf("hello: nls on, %s\n", greet_message());
#else
    printf("hello: nls off, %s\n", greet_message());
#endif
#ifdef HELLO_DEBUG
    printf("hello: debug build, 2+3=%d\n", greet_add(2, 3));
#endif
    return 0;
}

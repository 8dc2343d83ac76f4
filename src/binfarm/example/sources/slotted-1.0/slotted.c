#include <stdio.h>
#include <greet.h>
int main(void) {
    printf("slotted: %s, 20+22=%d\n", greet_message(), greet_add(20, 22));
    return 0;
}

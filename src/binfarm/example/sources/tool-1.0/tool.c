#include <stdio.h>
#ifdef WITH_SSL
#include <greet.h>
#endif
int main(void) {
#ifdef WITH_SSL
    printf("tool: ssl on, %s\n", greet_message());
#else
    printf("tool: ssl off\n");
#endif
    return 0;
}

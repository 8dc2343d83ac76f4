#include <ctype.h>
#include <stdio.h>
int main(void) {
    int c, words = 0, inword = 0;
    while ((c = getchar()) != EOF) {
        if (isspace(c)) inword = 0;
        else if (!inword) { inword = 1; words++; }
    }
    printf("%d\n", words);
    return 0;
}

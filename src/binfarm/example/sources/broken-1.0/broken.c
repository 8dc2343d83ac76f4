/* Deliberately does not compile: the example repository's failing package. */
int main(void) { return this_symbol_does_not_exist; }

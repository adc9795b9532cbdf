/* nullderef: writes through a NULL pointer and so dies of SIGSEGV. */
#include <stdio.h>

int main(void) {
	printf("about to fault\n");
	fflush(stdout);
	*(volatile int *)0 = 1;
	printf("survived\n");
	return 0;
}

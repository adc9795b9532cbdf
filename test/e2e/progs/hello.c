/* hello: prints a line and exits with status 3. */
#include <stdio.h>

int main(void) {
	printf("hello from a static program\n");
	return 3;
}

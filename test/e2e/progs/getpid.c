/* getpid: prints getpid() and getppid() (raw calls). */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	printf("%ld %ld\n", syscall(SYS_getpid), syscall(SYS_getppid));
	return 0;
}

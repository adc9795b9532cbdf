/* enosys: calls syscall number 500, which Linux x86-64 does not define, three times, and
 * exits 0 only if each call failed with ENOSYS. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	int ok = 1;
	for (int i = 0; i < 3; i++) {
		errno = 0;
		long r = syscall(500, 1, 2, 3);
		printf("syscall(500) = %ld %s\n", r, r == -1 ? strerrorname_np(errno) : "");
		ok &= r == -1 && errno == ENOSYS;
	}
	return ok ? 0 : 1;
}

/* exit and exit_group.
 *
 * Every other case program ends through glibc's exit(), that is exit_group(2), and the
 * runner checks its status. This one ends with the raw exit(2) of its only thread, which
 * ends the process with that status: the runner sees 0 and the DONE line only if the
 * output written before it and the status both arrive. */
#include "check.h"

int main(void) {
	/* Status bits above the low 8 are dropped: exit_group(256) would be status 0. That
	 * cannot be observed from inside without fork; the e2e tests check exit statuses. */
	CHECK_EQ(getpid_before_exit, syscall(SYS_getpid) > 0, 1);
	int status = check_done();
	fflush(stdout);
	syscall(SYS_exit, status);
	/* Not reached. */
	printf("FAIL exit_returned: exit(2) returned\n");
	return 1;
}

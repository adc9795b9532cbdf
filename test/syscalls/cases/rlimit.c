/* prlimit64, getrlimit, getrusage. */
#include "check.h"
#include <sys/resource.h>

int main(void) {
	struct rlimit rl, old;

	/* getrlimit (raw) */
	CHECK_OK(getrlimit_nofile, syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl));
	CHECK_TRUE(getrlimit_nofile_sane, rl.rlim_cur > 3 && rl.rlim_cur <= rl.rlim_max);
	CHECK_OK(getrlimit_stack, syscall(SYS_getrlimit, RLIMIT_STACK, &rl));
	CHECK_TRUE(getrlimit_stack_nonzero, rl.rlim_cur > 0);
	CHECK_OK(getrlimit_as, syscall(SYS_getrlimit, RLIMIT_AS, &rl));
	CHECK_ERR(getrlimit_bad_resource, syscall(SYS_getrlimit, 999, &rl), EINVAL);
	CHECK_ERR(getrlimit_efault, syscall(SYS_getrlimit, RLIMIT_NOFILE, BADPTR), EFAULT);

	/* prlimit64: read, lower the soft limit, read back, restore. */
	CHECK_OK(prlimit_get, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old));
	struct rlimit low = {64, old.rlim_max};
	CHECK_OK(prlimit_set, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &low, NULL));
	CHECK_OK(prlimit_get_after_set, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl));
	CHECK_EQ(prlimit_read_back, rl.rlim_cur, 64);
	CHECK_OK(getrlimit_agrees, syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl));
	CHECK_EQ(getrlimit_read_back, rl.rlim_cur, 64);
	/* The new limit is enforced: fds at or above 64 are refused. */
	CHECK_ERR(nofile_limit_enforced, fcntl(0, F_DUPFD, 64), EINVAL);
	CHECK_OK(prlimit_self_pid, syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, &old, &rl));
	CHECK_EQ(prlimit_returns_old, rl.rlim_cur, 64);
	CHECK_OK(prlimit_get_restored, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl));
	CHECK_EQ(prlimit_restored, rl.rlim_cur, old.rlim_cur);
	struct rlimit inverted = {old.rlim_max, 16};
	CHECK_ERR(prlimit_soft_above_hard, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &inverted, NULL), EINVAL);
	CHECK_ERR(prlimit_bad_resource, syscall(SYS_prlimit64, 0, 999, NULL, &rl), EINVAL);
	CHECK_ERR(prlimit_no_such_pid, syscall(SYS_prlimit64, 999999999, RLIMIT_NOFILE, NULL, &rl), ESRCH);
	CHECK_ERR(prlimit_efault_new, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, BADPTR, NULL), EFAULT);
	CHECK_ERR(prlimit_efault_old, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, BADPTR), EFAULT);

	/* getrusage */
	struct rusage ru;
	volatile unsigned long spin = 0;
	for (unsigned long i = 0; i < 20000000UL; i++)
		spin += i;
	memset(&ru, 0xff, sizeof ru);
	CHECK_OK(getrusage_self, syscall(SYS_getrusage, RUSAGE_SELF, &ru));
	CHECK_TRUE(getrusage_self_cpu_time, ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0 || ru.ru_stime.tv_usec > 0);
	CHECK_TRUE(getrusage_usec_range, ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
	CHECK_TRUE(getrusage_maxrss, ru.ru_maxrss >= 0);
	CHECK_OK(getrusage_children, syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
	CHECK_OK(getrusage_thread, syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
	CHECK_ERR(getrusage_bad_who, syscall(SYS_getrusage, 99, &ru), EINVAL);
	CHECK_ERR(getrusage_efault, syscall(SYS_getrusage, RUSAGE_SELF, BADPTR), EFAULT);
	return check_done();
}

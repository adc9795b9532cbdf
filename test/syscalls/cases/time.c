/* clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep. */
#include "check.h"
#include <sys/time.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
	struct timespec a, b, res;
	struct timeval tv;

	/* clock_gettime: raw, so that the vDSO does not hide the syscall (and so that the
	 * EFAULT case returns an error rather than faulting inside the vDSO). */
	clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
	                      CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
	int all_ok = 1;
	for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		a.tv_nsec = -1;
		if (syscall(SYS_clock_gettime, clocks[i], &a) != 0 || a.tv_nsec < 0 || a.tv_nsec >= 1000000000) {
			printf("  clock %d failed\n", clocks[i]);
			all_ok = 0;
		}
	}
	CHECK_TRUE(clock_gettime_all_clocks, all_ok);
	CHECK_OK(clock_gettime_monotonic, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a));
	CHECK_OK(clock_gettime_monotonic_again, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b));
	CHECK_TRUE(clock_monotonic_nondecreasing, ns(b) >= ns(a));
	CHECK_OK(clock_gettime_realtime, syscall(SYS_clock_gettime, CLOCK_REALTIME, &a));
	CHECK_TRUE(clock_realtime_after_2020, a.tv_sec > 1577836800);
	CHECK_OK(clock_gettime_vdso, clock_gettime(CLOCK_MONOTONIC, &b));
	CHECK_ERR(clock_gettime_bad_clock, syscall(SYS_clock_gettime, 1000, &a), EINVAL);
	CHECK_ERR(clock_gettime_efault, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BADPTR), EFAULT);

	/* clock_getres */
	CHECK_OK(clock_getres_monotonic, syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res));
	CHECK_TRUE(clock_getres_fine, res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
	CHECK_OK(clock_getres_realtime, syscall(SYS_clock_getres, CLOCK_REALTIME, &res));
	CHECK_OK(clock_getres_null, syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));
	CHECK_ERR(clock_getres_bad_clock, syscall(SYS_clock_getres, 1000, &res), EINVAL);
	CHECK_ERR(clock_getres_efault, syscall(SYS_clock_getres, CLOCK_MONOTONIC, BADPTR), EFAULT);

	/* gettimeofday agrees with CLOCK_REALTIME to within a few seconds. */
	CHECK_OK(gettimeofday_ok, syscall(SYS_gettimeofday, &tv, NULL));
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
	CHECK_TRUE(gettimeofday_matches_realtime, tv.tv_sec <= a.tv_sec && a.tv_sec - tv.tv_sec <= 5);
	CHECK_TRUE(gettimeofday_usec_range, tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK_OK(gettimeofday_null, syscall(SYS_gettimeofday, NULL, NULL));
	CHECK_ERR(gettimeofday_efault, syscall(SYS_gettimeofday, BADPTR, NULL), EFAULT);

	/* time */
	time_t t1 = 0;
	long t0 = CHECK_OK(time_ok, syscall(SYS_time, NULL));
	CHECK_TRUE(time_matches_realtime, t0 >= a.tv_sec && t0 - a.tv_sec <= 5);
	long t2 = syscall(SYS_time, &t1);
	CHECK_EQ(time_stores_result, t1, t2);

	/* nanosleep sleeps at least as long as asked. */
	struct timespec d = {0, 20 * 1000 * 1000}, rem;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	CHECK_OK(nanosleep_ok, syscall(SYS_nanosleep, &d, &rem));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	CHECK_TRUE(nanosleep_slept, ns(b) - ns(a) >= 20 * 1000 * 1000);
	struct timespec zero = {0, 0};
	CHECK_OK(nanosleep_zero, syscall(SYS_nanosleep, &zero, NULL));
	struct timespec neg = {-1, 0}, badns = {0, 1000000000};
	CHECK_ERR(nanosleep_negative_einval, syscall(SYS_nanosleep, &neg, NULL), EINVAL);
	CHECK_ERR(nanosleep_bad_nsec_einval, syscall(SYS_nanosleep, &badns, NULL), EINVAL);
	struct timespec negns = {0, -1};
	CHECK_ERR(nanosleep_negative_nsec_einval, syscall(SYS_nanosleep, &negns, NULL), EINVAL);
	CHECK_ERR(nanosleep_efault, syscall(SYS_nanosleep, BADPTR, NULL), EFAULT);

	/* clock_nanosleep, relative and absolute. */
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	CHECK_OK(clock_nanosleep_relative, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &d, NULL));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	CHECK_TRUE(clock_nanosleep_relative_slept, ns(b) - ns(a) >= 20 * 1000 * 1000);
	struct timespec until = b;
	until.tv_nsec += 20 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	CHECK_OK(clock_nanosleep_abstime, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	CHECK_TRUE(clock_nanosleep_abstime_reached, ns(a) >= ns(until));
	CHECK_OK(clock_nanosleep_abstime_past, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &zero, NULL));
	CHECK_OK(clock_nanosleep_realtime, syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &zero, NULL));
	CHECK_ERR(clock_nanosleep_bad_clock, syscall(SYS_clock_nanosleep, 1000, 0, &d, NULL), EINVAL);
	/* Linux 6.x: EOPNOTSUPP for the calling thread's CPU clock. */
	CHECK_ERR(clock_nanosleep_thread_cputime, syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EOPNOTSUPP);
	CHECK_ERR(clock_nanosleep_negative, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &neg, NULL), EINVAL);
	CHECK_ERR(clock_nanosleep_efault, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, BADPTR, NULL), EFAULT);
	/* The glibc wrapper returns the error number instead of setting errno. */
	CHECK_EQ(clock_nanosleep_glibc_returns_error, clock_nanosleep(1000, 0, &d, NULL), EINVAL);
	return check_done();
}

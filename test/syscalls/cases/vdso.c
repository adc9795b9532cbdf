/* The vDSO: AT_SYSINFO_EHDR, and clock_gettime, gettimeofday, time, clock_getres and getcpu
 * through glibc (which calls the vDSO) agreeing with the raw syscalls, in this process, in a
 * forked child and after an execve. */
#include "check.h"
#include <elf.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long raw_ns(clockid_t c) {
	struct timespec t = {0, 0};
	syscall(SYS_clock_gettime, c, &t);
	return ns(t);
}

/* vdso_image reports whether AT_SYSINFO_EHDR points at an x86-64 ELF shared object. */
static int vdso_image(void) {
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	return eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_type == ET_DYN && eh->e_machine == EM_X86_64;
}

/* monotonic_ok calls clock_gettime(CLOCK_MONOTONIC) N times and reports whether it never
 * went backwards and every result was well formed. */
static int monotonic_ok(long n, long long *back) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long long prev = ns(t);
	int ok = 1;
	*back = 0;
	for (long i = 0; i < n; i++) {
		if (clock_gettime(CLOCK_MONOTONIC, &t) != 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000)
			ok = 0;
		long long v = ns(t);
		if (v < prev) {
			ok = 0;
			if (prev - v > *back)
				*back = prev - v;
		}
		prev = v;
	}
	return ok;
}

/* What a forked child or an exec'd image checks: it has the vDSO and its time is sane.
 * Exit status 0 if so. */
static int child_checks(void) {
	long long back;
	long long r1 = raw_ns(CLOCK_MONOTONIC);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long long r2 = raw_ns(CLOCK_MONOTONIC);
	if (!vdso_image())
		return 1;
	if (!monotonic_ok(100000, &back))
		return 2;
	if (ns(t) < r1 - 100000 || ns(t) > r2 + 100000)
		return 3;
	return 0;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
		return child_checks();

	CHECK_TRUE(auxv_sysinfo_ehdr, getauxval(AT_SYSINFO_EHDR) != 0);
	CHECK_TRUE(sysinfo_ehdr_is_elf, vdso_image());

	/* Each clock through glibc lies between a raw syscall on the same clock before it and
	 * one after it, within 100 us (the sandbox's vDSO tracks the host to tens of
	 * nanoseconds). The call after is on the fine clock for a coarse one: a coarse clock
	 * lags its fine clock by a tick or more (a tickless host updates it late), and all it
	 * promises is not to go back and not to be ahead of the fine clock. Many rounds, so that
	 * they cross the sentry's refreshes of the vDSO's parameters. */
	struct {
		clockid_t id, after;
		const char *name;
	} clocks[] = {
		{CLOCK_REALTIME, CLOCK_REALTIME, "realtime"},
		{CLOCK_MONOTONIC, CLOCK_MONOTONIC, "monotonic"},
		{CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_RAW, "monotonic_raw"},
		{CLOCK_REALTIME_COARSE, CLOCK_REALTIME, "realtime_coarse"},
		{CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, "monotonic_coarse"},
		{CLOCK_BOOTTIME, CLOCK_BOOTTIME, "boottime"},
		{CLOCK_TAI, CLOCK_TAI, "tai"},
	};
	for (unsigned c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
		long long tol = 100000, worst = 0;
		int ok = 1;
		for (int i = 0; i < 300; i++) {
			struct timespec v = {-1, -1};
			long long s1 = raw_ns(clocks[c].id);
			int r = clock_gettime(clocks[c].id, &v);
			long long s2 = raw_ns(clocks[c].after);
			if (r != 0 || v.tv_nsec < 0 || v.tv_nsec >= 1000000000)
				ok = 0;
			long long d = ns(v) < s1 ? s1 - ns(v) : ns(v) > s2 ? ns(v) - s2 : 0;
			if (d > worst)
				worst = d;
		}
		if (worst > tol) {
			printf("  %s: %lld ns outside [syscall before, syscall after], tolerance %lld\n", clocks[c].name, worst, tol);
			ok = 0;
		}
		char name[64];
		snprintf(name, sizeof name, "clock_gettime_%s_matches_syscall", clocks[c].name);
		if (ok)
			check_pass(name);
		else
			check_fail(name, "clock_gettime(%s) through glibc disagrees with the syscall", clocks[c].name);
	}

	/* Clocks the vDSO leaves to the syscall. */
	struct timespec t = {-1, -1};
	CHECK_OK(clock_gettime_process_cputime, clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t));
	CHECK_TRUE(clock_gettime_process_cputime_sane, t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
	CHECK_OK(clock_gettime_thread_cputime, clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t));
	CHECK_ERR(clock_gettime_bad_clock, clock_gettime(1000, &t), EINVAL);
	CHECK_ERR(clock_gettime_negative_clock, clock_gettime(-1000, &t), EINVAL);
	CHECK_ERR(clock_gettime_clock_16, clock_gettime(16, &t), EINVAL);

	/* CLOCK_MONOTONIC never goes backwards over a million calls. */
	long long back = 0;
	int mono_ok = monotonic_ok(1000000, &back);
	if (!mono_ok)
		printf("  went backwards by up to %lld ns\n", back);
	CHECK_TRUE(monotonic_never_backwards, mono_ok);

	/* gettimeofday and time agree with clock_gettime(CLOCK_REALTIME). */
	struct timespec a, b;
	struct timeval tv;
	struct timezone tz = {123, 456};
	clock_gettime(CLOCK_REALTIME, &a);
	CHECK_OK(gettimeofday_ok, gettimeofday(&tv, &tz));
	clock_gettime(CLOCK_REALTIME, &b);
	long long us = tv.tv_sec * 1000000LL + tv.tv_usec;
	CHECK_TRUE(gettimeofday_matches_clock_gettime, us >= ns(a) / 1000 && us <= ns(b) / 1000 && tv.tv_usec < 1000000);
	CHECK_TRUE(gettimeofday_timezone_utc, tz.tz_minuteswest == 0 && tz.tz_dsttime == 0);
	time_t stored = 0;
	clock_gettime(CLOCK_REALTIME, &a);
	time_t now = time(&stored);
	clock_gettime(CLOCK_REALTIME, &b);
	CHECK_TRUE(time_matches_clock_gettime, now >= a.tv_sec && now <= b.tv_sec);
	CHECK_EQ(time_stores_result, stored, now);

	/* clock_getres through glibc equals the syscall for every clock. */
	clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
	                   CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI};
	int res_ok = 1;
	for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct timespec g = {-1, -1}, s = {-2, -2};
		int rg = clock_getres(ids[i], &g);
		long rs = syscall(SYS_clock_getres, ids[i], &s);
		if (rg != rs || g.tv_sec != s.tv_sec || g.tv_nsec != s.tv_nsec) {
			printf("  clock %d: glibc %d %ld.%09ld, syscall %ld %ld.%09ld\n", ids[i], rg, (long)g.tv_sec, g.tv_nsec, rs,
			       (long)s.tv_sec, s.tv_nsec);
			res_ok = 0;
		}
	}
	CHECK_TRUE(clock_getres_matches_syscall, res_ok);
	CHECK_OK(clock_getres_null, clock_getres(CLOCK_MONOTONIC, NULL));
	CHECK_ERR(clock_getres_bad_clock, clock_getres(1000, &t), EINVAL);

	/* getcpu: a CPU this thread may run on. */
	unsigned cpu = 99999, node = 99999;
	CHECK_OK(getcpu_ok, getcpu(&cpu, &node));
	cpu_set_t set;
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	CHECK_TRUE(getcpu_in_affinity, cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set));
	CHECK_TRUE(getcpu_node_sane, node < 1024);
	int sc = sched_getcpu();
	CHECK_TRUE(sched_getcpu_in_affinity, sc >= 0 && sc < CPU_SETSIZE && CPU_ISSET(sc, &set));

	/* A forked child has the vDSO too (its pages are mapped on first touch). */
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_checks());
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK_TRUE(fork_child_has_vdso, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("  child status %#x\n", status);

	/* So does a new image after execve. */
	pid = fork();
	if (pid == 0) {
		execl(argv[0], argv[0], "exec-child", (char *)NULL);
		_exit(100);
	}
	status = -1;
	waitpid(pid, &status, 0);
	CHECK_TRUE(exec_image_has_vdso, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("  exec'd child status %#x\n", status);
	return check_done();
}

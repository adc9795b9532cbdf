/* Resource limits honoured (RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_NPROC, RLIMIT_CORE's
 * inheritance), resource accounting (getrusage SELF/THREAD/CHILDREN, times, wait4's
 * rusage, the CPU-time clocks), sched_* and getcpu. */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static int wait_exit(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile unsigned long sink;
/* burn spends ms of CPU time in user mode (bounded by 20 times as much wall time, should
 * the CPU-time clock not advance). */
static long ts_ms(struct timespec t) { return t.tv_sec * 1000 + t.tv_nsec / 1000000; }
static void burn(long ms) {
	struct timespec w0, w1, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (;;) {
		for (int i = 0; i < 100000; i++)
			sink += i * i;
		clock_gettime(CLOCK_MONOTONIC, &w1);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (ts_ms(c1) - ts_ms(c0) >= ms || ts_ms(w1) - ts_ms(w0) >= 20 * ms)
			return;
	}
}

static long tv_ms(struct timeval tv) { return tv.tv_sec * 1000 + tv.tv_usec / 1000; }

/* recurse uses about depth KiB of stack. */
static int recurse(int depth) {
	volatile char buf[1024];
	buf[0] = (char)depth;
	if (depth == 0)
		return buf[0];
	return recurse(depth - 1) + buf[0];
}

static void *burn_thread(void *arg) {
	burn((long)arg);
	return NULL;
}

int main(void) {
	struct rlimit rl;

	/* RLIMIT_NOFILE: open and dup beyond it fail. */
	pid_t pid = fork();
	if (pid == 0) {
		rl.rlim_cur = rl.rlim_max = 10;
		setrlimit(RLIMIT_NOFILE, &rl);
		int r = 0, last = -1;
		for (int i = 0; i < 20; i++) {
			int fd = open("/dev/null", O_RDONLY);
			if (fd < 0) {
				r |= errno == EMFILE ? 1 : 0;
				break;
			}
			last = fd;
		}
		r |= last == 9 ? 2 : 0;
		r |= dup2(0, 10) == -1 && errno == EBADF ? 4 : 0;
		r |= fcntl(0, F_DUPFD, 10) == -1 && errno == EINVAL ? 8 : 0;
		int p[2];
		r |= pipe(p) == -1 && errno == EMFILE ? 16 : 0;
		/* Raising the soft limit up to the hard one works again. */
		rl.rlim_cur = 10;
		rl.rlim_max = 20;
		r |= setrlimit(RLIMIT_NOFILE, &rl) == -1 && errno == EPERM ? 32 : 0;
		_exit(r);
	}
	CHECK_EQ(rlimit_nofile, wait_exit(pid), 63);

	/* RLIMIT_STACK: the main stack grows up to the limit; beyond it, SIGSEGV. */
	pid = fork();
	if (pid == 0) {
		_exit(recurse(6000) == 0 ? 1 : 0); /* ~6 MiB within the 8 MiB default */
	}
	CHECK_EQ(stack_grows_to_limit, wait_exit(pid), 0);
	pid = fork();
	if (pid == 0) {
		rl.rlim_cur = rl.rlim_max = 1 << 20;
		setrlimit(RLIMIT_STACK, &rl);
		recurse(4000);
		_exit(0);
	}
	CHECK_EQ(stack_beyond_limit_segv, wait_exit(pid), 128 + SIGSEGV);

	/* RLIMIT_NPROC, for a user that is not root: fork fails with EAGAIN at the limit. */
	pid = fork();
	if (pid == 0) {
		setresgid(54321, 54321, 54321);
		setresuid(54321, 54321, 54321);
		rl.rlim_cur = rl.rlim_max = 2;
		setrlimit(RLIMIT_NPROC, &rl);
		int r = 0;
		pid_t c = fork();
		if (c == 0) {
			sleep(1);
			_exit(0);
		}
		r |= c > 0 ? 1 : 0;
		pid_t c2 = fork();
		if (c2 == 0)
			_exit(0);
		r |= c2 == -1 && errno == EAGAIN ? 2 : 0;
		/* Threads count too. */
		pthread_t th;
		r |= pthread_create(&th, NULL, burn_thread, (void *)1L) == EAGAIN ? 4 : 0;
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		pid_t c3 = fork();
		if (c3 == 0)
			_exit(0);
		r |= c3 > 0 ? 8 : 0;
		waitpid(c3, NULL, 0);
		_exit(r);
	}
	CHECK_EQ(rlimit_nproc, wait_exit(pid), 15);
	/* Root is not held to it. */
	pid = fork();
	if (pid == 0) {
		rl.rlim_cur = rl.rlim_max = 1;
		setrlimit(RLIMIT_NPROC, &rl);
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		_exit(c > 0 ? 0 : 1);
	}
	CHECK_EQ(rlimit_nproc_root_exempt, wait_exit(pid), 0);

	/* Limits are inherited by fork and kept by exec. */
	getrlimit(RLIMIT_CORE, &rl);
	struct rlimit core = {4096, rl.rlim_max};
	setrlimit(RLIMIT_CORE, &core);
	pid = fork();
	if (pid == 0) {
		getrlimit(RLIMIT_CORE, &rl);
		_exit(rl.rlim_cur == 4096 ? 0 : 1);
	}
	CHECK_EQ(rlimit_inherited, wait_exit(pid), 0);
	core.rlim_cur = 0;
	setrlimit(RLIMIT_CORE, &core);

	/* getrusage(RUSAGE_SELF) counts our CPU time; RUSAGE_THREAD the calling thread's. */
	struct rusage before, after, th_ru;
	getrusage(RUSAGE_SELF, &before);
	burn(100);
	getrusage(RUSAGE_SELF, &after);
	long used = tv_ms(after.ru_utime) + tv_ms(after.ru_stime) - tv_ms(before.ru_utime) - tv_ms(before.ru_stime);
	CHECK_TRUE(rusage_self_counts_cpu, used >= 50 && used <= 1000);
	CHECK_TRUE(rusage_self_user_time, tv_ms(after.ru_utime) - tv_ms(before.ru_utime) >= 40);
	CHECK_TRUE(rusage_maxrss, after.ru_maxrss > 0);
	/* A thread's work counts for the process but not for another thread. */
	getrusage(RUSAGE_THREAD, &before);
	pthread_t th;
	pthread_create(&th, NULL, burn_thread, (void *)100L);
	pthread_join(th, NULL);
	getrusage(RUSAGE_THREAD, &th_ru);
	getrusage(RUSAGE_SELF, &after);
	CHECK_TRUE(rusage_thread_excludes_other, tv_ms(th_ru.ru_utime) + tv_ms(th_ru.ru_stime) - tv_ms(before.ru_utime) - tv_ms(before.ru_stime) < 50);
	CHECK_TRUE(rusage_self_includes_threads, tv_ms(after.ru_utime) + tv_ms(after.ru_stime) >= 150);

	/* Children: counted once waited for, with wait4's rusage too. */
	struct rusage ch0, ch1, wru;
	getrusage(RUSAGE_CHILDREN, &ch0);
	pid = fork();
	if (pid == 0) {
		burn(100);
		_exit(0);
	}
	int st;
	memset(&wru, 0, sizeof wru);
	wait4(pid, &st, 0, &wru);
	getrusage(RUSAGE_CHILDREN, &ch1);
	CHECK_TRUE(wait4_rusage_child_cpu, tv_ms(wru.ru_utime) + tv_ms(wru.ru_stime) >= 50);
	CHECK_TRUE(rusage_children_after_wait, tv_ms(ch1.ru_utime) + tv_ms(ch1.ru_stime) - tv_ms(ch0.ru_utime) - tv_ms(ch0.ru_stime) >= 50);
	/* Grandchildren reaped by children count too. */
	getrusage(RUSAGE_CHILDREN, &ch0);
	pid = fork();
	if (pid == 0) {
		pid_t g = fork();
		if (g == 0) {
			burn(100);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	getrusage(RUSAGE_CHILDREN, &ch1);
	CHECK_TRUE(rusage_children_include_grandchildren, tv_ms(ch1.ru_utime) + tv_ms(ch1.ru_stime) - tv_ms(ch0.ru_utime) - tv_ms(ch0.ru_stime) >= 50);

	/* times(): our time and our waited-for children's, in clock ticks. */
	struct tms t0, t1;
	clock_t c0 = times(&t0);
	burn(100);
	pid = fork();
	if (pid == 0) {
		burn(100);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	clock_t c1 = times(&t1);
	long hz = sysconf(_SC_CLK_TCK);
	CHECK_TRUE(times_elapsed, c1 > c0 && (c1 - c0) * 1000 / hz >= 150);
	CHECK_TRUE(times_self, (t1.tms_utime + t1.tms_stime - t0.tms_utime - t0.tms_stime) * 1000 / hz >= 50);
	CHECK_TRUE(times_children, (t1.tms_cutime + t1.tms_cstime - t0.tms_cutime - t0.tms_cstime) * 1000 / hz >= 50);
	CHECK_OK(times_null, syscall(SYS_times, NULL));
	CHECK_ERR(times_efault, syscall(SYS_times, BADPTR), EFAULT);

	/* CPU-time clocks. */
	struct timespec p0, p1, q0, q1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &q0);
	burn(100);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &q1);
	long pd = (p1.tv_sec - p0.tv_sec) * 1000 + (p1.tv_nsec - p0.tv_nsec) / 1000000;
	long qd = (q1.tv_sec - q0.tv_sec) * 1000 + (q1.tv_nsec - q0.tv_nsec) / 1000000;
	CHECK_TRUE(process_cputime_clock, pd >= 50 && pd <= 1000);
	CHECK_TRUE(thread_cputime_clock, qd >= 50 && qd <= 1000);
	clockid_t cid;
	CHECK_EQ(clock_getcpuclockid_self, clock_getcpuclockid(0, &cid), 0);
	CHECK_OK(cpuclock_of_self_readable, clock_gettime(cid, &p0));
	/* Another thread's clock is readable within the process; a child's process clock by
	 * its PID; a thread clock of another process, an unknown PID and a bad clock type are
	 * EINVAL. */
	pthread_t th2;
	clockid_t tcid;
	pthread_create(&th2, NULL, burn_thread, (void *)30L);
	CHECK_EQ(pthread_getcpuclockid_other, pthread_getcpuclockid(th2, &tcid), 0);
	CHECK_OK(cpuclock_other_thread_readable, clock_gettime(tcid, &p0));
	pthread_join(th2, NULL);
	pid = fork();
	if (pid == 0) {
		burn(30);
		pause();
		_exit(0);
	}
	usleep(200000);
	clockid_t ccid;
	CHECK_EQ(clock_getcpuclockid_child, clock_getcpuclockid(pid, &ccid), 0);
	CHECK_OK(cpuclock_child_readable, clock_gettime(ccid, &p0));
	CHECK_TRUE(cpuclock_child_counts, p0.tv_sec > 0 || p0.tv_nsec >= 20000000);
	clockid_t child_thread_clock = (~(clockid_t)pid << 3) | 4 | 2;
	CHECK_ERR(cpuclock_thread_of_other_process, clock_gettime(child_thread_clock, &p0), EINVAL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_ERR(cpuclock_no_such_process, clock_gettime((~(clockid_t)0x3ffffff0 << 3) | 2, &p0), EINVAL);
	CHECK_ERR(cpuclock_bad_type, clock_gettime((~(clockid_t)getpid() << 3) | 3, &p0), EINVAL);

	/* sched_* */
	struct sched_param sp = {0};
	CHECK_EQ(sched_getscheduler_other, sched_getscheduler(0), SCHED_OTHER);
	CHECK_OK(sched_getparam, sched_getparam(0, &sp));
	CHECK_EQ(sched_priority_zero, sp.sched_priority, 0);
	CHECK_EQ(sched_prio_max_fifo, sched_get_priority_max(SCHED_FIFO), 99);
	CHECK_EQ(sched_prio_min_fifo, sched_get_priority_min(SCHED_FIFO), 1);
	CHECK_EQ(sched_prio_max_other, sched_get_priority_max(SCHED_OTHER), 0);
	CHECK_ERR(sched_prio_bad_policy, sched_get_priority_max(42), EINVAL);
	CHECK_ERR(sched_setscheduler_bad_prio, sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){.sched_priority = 5}), EINVAL);
	CHECK_ERR(sched_getscheduler_no_such, sched_getscheduler(0x3ffffff0), ESRCH);
	CHECK_ERR(sched_getscheduler_negative, sched_getscheduler(-1), EINVAL);
	struct timespec rr;
	CHECK_OK(sched_rr_get_interval, sched_rr_get_interval(0, &rr));
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK_OK(sched_setaffinity_cpu0, sched_setaffinity(0, sizeof set, &set));
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	CHECK_TRUE(sched_affinity_applied, CPU_ISSET(0, &set) && CPU_COUNT(&set) == 1);
	unsigned cpu = 99, node = 99;
	CHECK_OK(getcpu_ok, syscall(SYS_getcpu, &cpu, &node, NULL));
	CHECK_TRUE(getcpu_follows_affinity, cpu == 0 && node == 0);
	CPU_ZERO(&set);
	CHECK_ERR(sched_setaffinity_empty, sched_setaffinity(0, sizeof set, &set), EINVAL);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	CHECK_OK(sched_setaffinity_all, sched_setaffinity(0, sizeof set, &set));
	errno = 0;
	CHECK_EQ(getpriority_default, getpriority(PRIO_PROCESS, 0), 0);
	CHECK_OK(setpriority_nicer, setpriority(PRIO_PROCESS, 0, 5));
	errno = 0;
	CHECK_EQ(getpriority_after, getpriority(PRIO_PROCESS, 0), 5);
	return check_done();
}

/* Timers on CPU time and timers' targets: ITIMER_VIRTUAL (SIGVTALRM, user time) and
 * ITIMER_PROF (SIGPROF, user and system time) fire in a busy loop and not while the
 * process sleeps; POSIX timers on CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and
 * another thread's CPU clock; SIGEV_THREAD_ID delivers to the named thread; execve keeps
 * the interval timers and deletes the POSIX timers. */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static volatile int hits[65];
static volatile int last_code[65];
static volatile pid_t last_tid[65];
static void on_sig(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	hits[sig]++;
	last_code[sig] = si->si_code;
	last_tid[sig] = syscall(SYS_gettid);
}

static void install(int sig) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(sig, &sa, NULL);
}

static long now_ms(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* spin burns CPU in user mode until *flag reaches want or limit_ms of wall time pass. */
static volatile unsigned long sink;
static void spin(volatile int *flag, int want, long limit_ms) {
	long t0 = now_ms(CLOCK_MONOTONIC);
	while (*flag < want && now_ms(CLOCK_MONOTONIC) - t0 < limit_ms)
		for (int i = 0; i < 10000; i++)
			sink += i;
}

static volatile int stop_spinner;
static void *spinner(void *arg) {
	(void)arg;
	while (!stop_spinner)
		sink++;
	return NULL;
}

static volatile pid_t waiter_tid;
static volatile int waiter_got;
static void *waiter(void *arg) {
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	waiter_tid = syscall(SYS_gettid);
	struct timespec ts = {3, 0};
	siginfo_t si;
	if (sigtimedwait(&s, &si, &ts) == SIGUSR1 && si.si_code == SI_TIMER)
		waiter_got = 1;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc == 2 && strcmp(argv[1], "exec-child") == 0) {
		/* After execve: the interval timer is still armed, the POSIX timer gone. */
		struct itimerval cur;
		getitimer(ITIMER_REAL, &cur);
		struct itimerspec its;
		int timer_kept = syscall(SYS_timer_gettime, 0, &its) == 0;
		_exit((cur.it_value.tv_sec >= 3 && cur.it_value.tv_sec <= 5 ? 0 : 1) | (timer_kept ? 2 : 0));
	}

	install(SIGVTALRM);
	install(SIGPROF);
	install(SIGALRM);
	install(SIGUSR2);

	/* ITIMER_VIRTUAL: a busy loop gets SIGVTALRM every 10 ms of user time. */
	struct itimerval it = {{0, 10000}, {0, 10000}}, cur;
	long cpu0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_OK(virtual_set, setitimer(ITIMER_VIRTUAL, &it, NULL));
	spin(&hits[SIGVTALRM], 5, 5000);
	long used = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	CHECK_TRUE(virtual_fires, hits[SIGVTALRM] >= 5);
	CHECK_TRUE(virtual_after_cpu_time, used >= 40);
	CHECK_EQ(virtual_siginfo_code, last_code[SIGVTALRM], SI_KERNEL);
	CHECK_OK(virtual_get, getitimer(ITIMER_VIRTUAL, &cur));
	CHECK_TRUE(virtual_get_interval, cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 10000);
	CHECK_TRUE(virtual_get_value, cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 10000);
	/* It counts user time only: sleeping does not make it fire. */
	it = (struct itimerval){{0, 0}, {0, 50000}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	hits[SIGVTALRM] = 0;
	sleep_ms(200);
	CHECK_EQ(virtual_not_while_sleeping, hits[SIGVTALRM], 0);
	getitimer(ITIMER_VIRTUAL, &cur);
	CHECK_TRUE(virtual_value_left_after_sleep, cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 20000);
	/* Disarmed with a zero value, the CPU-time timer keeps its interval (the real one
	 * does not). */
	it = (struct itimerval){{1, 0}, {0, 0}};
	CHECK_OK(virtual_disarm, setitimer(ITIMER_VIRTUAL, &it, NULL));
	getitimer(ITIMER_VIRTUAL, &cur);
	CHECK_TRUE(virtual_disarmed_keeps_interval, cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 && cur.it_interval.tv_sec == 1);
	setitimer(ITIMER_REAL, &it, NULL);
	getitimer(ITIMER_REAL, &cur);
	CHECK_TRUE(real_disarmed_drops_interval, cur.it_interval.tv_sec == 0);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);

	/* ITIMER_PROF: SIGPROF. */
	it = (struct itimerval){{0, 10000}, {0, 10000}};
	CHECK_OK(prof_set, setitimer(ITIMER_PROF, &it, NULL));
	spin(&hits[SIGPROF], 5, 5000);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &it, NULL);
	CHECK_TRUE(prof_fires, hits[SIGPROF] >= 5);
	CHECK_EQ(prof_siginfo_code, last_code[SIGPROF], SI_KERNEL);
	int n = hits[SIGPROF];
	spin(&hits[SIGPROF], n + 1, 100);
	CHECK_EQ(prof_disarmed, hits[SIGPROF], n);

	/* POSIX timer on the process's CPU clock. */
	timer_t tm;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	CHECK_OK(process_cpu_timer_create, timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tm));
	struct itimerspec its = {{0, 0}, {0, 30000000}}, g;
	hits[SIGUSR2] = 0;
	cpu0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	timer_settime(tm, 0, &its, NULL);
	timer_gettime(tm, &g);
	CHECK_TRUE(process_cpu_timer_counts, g.it_value.tv_sec == 0 && g.it_value.tv_nsec > 0 && g.it_value.tv_nsec <= 30000000);
	spin(&hits[SIGUSR2], 1, 5000);
	CHECK_EQ(process_cpu_timer_fires, hits[SIGUSR2], 1);
	CHECK_TRUE(process_cpu_timer_after_cpu_time, now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0 >= 25);
	CHECK_EQ(process_cpu_timer_code, last_code[SIGUSR2], SI_TIMER);
	/* Absolute on the CPU clock. */
	struct timespec c;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	its.it_value = c;
	its.it_value.tv_nsec += 20000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	hits[SIGUSR2] = 0;
	CHECK_OK(process_cpu_timer_abs, timer_settime(tm, TIMER_ABSTIME, &its, NULL));
	spin(&hits[SIGUSR2], 1, 5000);
	CHECK_EQ(process_cpu_timer_abs_fires, hits[SIGUSR2], 1);
	timer_delete(tm);

	/* POSIX timer on the thread's CPU clock, to this thread. */
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR2;
	sev._sigev_un._tid = syscall(SYS_gettid);
	CHECK_OK(thread_cpu_timer_create, timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &tm));
	its = (struct itimerspec){{0, 0}, {0, 20000000}};
	hits[SIGUSR2] = 0;
	timer_settime(tm, 0, &its, NULL);
	spin(&hits[SIGUSR2], 1, 5000);
	CHECK_EQ(thread_cpu_timer_fires, hits[SIGUSR2], 1);
	CHECK_EQ(thread_cpu_timer_to_thread, last_tid[SIGUSR2], syscall(SYS_gettid));
	timer_delete(tm);

	/* Another thread's CPU clock: it spins while this one sleeps. */
	pthread_t th;
	pthread_create(&th, NULL, spinner, NULL);
	clockid_t tc;
	pthread_getcpuclockid(th, &tc);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	CHECK_OK(other_thread_cpu_timer_create, timer_create(tc, &sev, &tm));
	its = (struct itimerspec){{0, 0}, {0, 30000000}};
	hits[SIGUSR2] = 0;
	timer_settime(tm, 0, &its, NULL);
	long t0 = now_ms(CLOCK_MONOTONIC);
	while (hits[SIGUSR2] == 0 && now_ms(CLOCK_MONOTONIC) - t0 < 5000)
		sleep_ms(5);
	CHECK_EQ(other_thread_cpu_timer_fires, hits[SIGUSR2], 1);
	stop_spinner = 1;
	pthread_join(th, NULL);
	timer_delete(tm);

	/* SIGEV_THREAD_ID: the signal is for the named thread only. */
	sigset_t s, os;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, &os);
	pthread_create(&th, NULL, waiter, NULL);
	while (!waiter_tid)
		sleep_ms(1);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev._sigev_un._tid = waiter_tid;
	CHECK_OK(thread_id_create, timer_create(CLOCK_MONOTONIC, &sev, &tm));
	its = (struct itimerspec){{0, 0}, {0, 20000000}};
	timer_settime(tm, 0, &its, NULL);
	pthread_join(th, NULL);
	CHECK_EQ(thread_id_delivered_to_thread, waiter_got, 1);
	sigset_t p;
	sigpending(&p);
	CHECK_EQ(thread_id_not_for_process, sigismember(&p, SIGUSR1), 0);
	pthread_sigmask(SIG_SETMASK, &os, NULL);
	timer_delete(tm);
	sev._sigev_un._tid = 0x3ffffff0;
	CHECK_ERR(thread_id_no_thread, timer_create(CLOCK_MONOTONIC, &sev, &tm), EINVAL);
	sev.sigev_notify = 3;
	CHECK_ERR(bad_notify, timer_create(CLOCK_MONOTONIC, &sev, &tm), EINVAL);
	CHECK_ERR(raw_clock_eopnotsupp, syscall(SYS_timer_create, CLOCK_MONOTONIC_RAW, NULL, &tm), EOPNOTSUPP);
	CHECK_ERR(create_sevp_efault, syscall(SYS_timer_create, CLOCK_MONOTONIC, BADPTR, &tm), EFAULT);
	CHECK_ERR(create_id_efault, syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, BADPTR), EFAULT);
	CHECK_ERR(settime_null_einval, syscall(SYS_timer_settime, 0, 0, NULL, NULL), EINVAL);
	CHECK_ERR(gettime_bad_id, syscall(SYS_timer_gettime, 12345, &g), EINVAL);
	CHECK_ERR(getoverrun_bad_id, syscall(SYS_timer_getoverrun, 12345), EINVAL);
	CHECK_ERR(setitimer_efault, syscall(SYS_setitimer, ITIMER_REAL, BADPTR, NULL), EFAULT);
	CHECK_OK(setitimer_null_disarms, syscall(SYS_setitimer, ITIMER_REAL, NULL, NULL));
	CHECK_ERR(getitimer_bad_which, getitimer(3, &cur), EINVAL);

	/* execve keeps the interval timers and deletes the POSIX timers. */
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL); /* SIGALRM must not kill the child early */
		struct itimerval five = {{0, 0}, {5, 0}};
		setitimer(ITIMER_REAL, &five, NULL);
		timer_t t2;
		struct sigevent none = {.sigev_notify = SIGEV_NONE};
		if (timer_create(CLOCK_MONOTONIC, &none, &t2) != 0 || (long)(intptr_t)t2 != 0)
			_exit(4);
		char *args[] = {argv[0], "exec-child", NULL};
		execv("/proc/self/exe", args);
		_exit(8);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE(exec_keeps_itimer, WIFEXITED(st) && (WEXITSTATUS(st) & 1) == 0);
	CHECK_TRUE(exec_deletes_posix_timers, WIFEXITED(st) && WEXITSTATUS(st) == 0);

	return check_done();
}

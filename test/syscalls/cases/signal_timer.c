/* Timers that signal: alarm, setitimer/getitimer (ITIMER_REAL, one-shot and periodic),
 * POSIX timers (timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE,
 * timer_settime relative and absolute, timer_gettime, timer_getoverrun, timer_delete),
 * the siginfo they deliver, and their fate across fork and exec. */
#include "check.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static volatile int alarms;
static volatile siginfo_t last;
static void on_alrm(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	alarms++;
	memcpy((void *)&last, si, sizeof *si);
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_alrm;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);

	/* alarm: returns the seconds left of the previous one. */
	CHECK_EQ(alarm_none_before, alarm(10), 0);
	CHECK_TRUE(alarm_previous_left, alarm(0) >= 9);
	alarms = 0;
	alarm(1);
	long t0 = now_ms();
	while (alarms == 0 && now_ms() - t0 < 3000)
		sleep_ms(10);
	CHECK_EQ(alarm_fires, alarms, 1);
	CHECK_TRUE(alarm_after_a_second, now_ms() - t0 >= 900);
	CHECK_EQ(alarm_siginfo_code, last.si_code, SI_KERNEL);

	/* setitimer ITIMER_REAL, one-shot. */
	struct itimerval it = {{0, 0}, {0, 50000}}, old;
	alarms = 0;
	CHECK_OK(setitimer_oneshot, setitimer(ITIMER_REAL, &it, NULL));
	sleep_ms(150);
	CHECK_EQ(setitimer_oneshot_fired_once, alarms, 1);
	/* Periodic. */
	it = (struct itimerval){{0, 20000}, {0, 20000}};
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	sleep_ms(200);
	struct itimerval cur;
	CHECK_OK(getitimer_ok, getitimer(ITIMER_REAL, &cur));
	CHECK_TRUE(getitimer_interval, cur.it_interval.tv_usec == 20000 && cur.it_interval.tv_sec == 0);
	CHECK_TRUE(getitimer_value_left, cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000);
	it = (struct itimerval){{0, 0}, {0, 0}};
	CHECK_OK(setitimer_disarm, setitimer(ITIMER_REAL, &it, &old));
	CHECK_TRUE(setitimer_old_value, old.it_interval.tv_usec == 20000);
	CHECK_TRUE(setitimer_periodic_fired, alarms >= 4 && alarms <= 12);
	int n = alarms;
	sleep_ms(60);
	CHECK_EQ(setitimer_disarmed, alarms, n);
	it.it_value.tv_usec = 1000000;
	CHECK_ERR(setitimer_bad_usec, setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	CHECK_ERR(setitimer_bad_which, setitimer(7, &it, NULL), EINVAL);
	CHECK_ERR(getitimer_efault, syscall(SYS_getitimer, ITIMER_REAL, BADPTR), EFAULT);
	/* alarm and ITIMER_REAL are the same timer. */
	alarm(5);
	getitimer(ITIMER_REAL, &cur);
	CHECK_TRUE(alarm_is_itimer_real, cur.it_value.tv_sec >= 4 && cur.it_value.tv_sec <= 5);
	alarm(0);

	/* The child of fork has no timers; the timer survives exec (not tested here). */
	it = (struct itimerval){{0, 0}, {5, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct itimerval c;
		getitimer(ITIMER_REAL, &c);
		_exit(c.it_value.tv_sec == 0 && c.it_value.tv_usec == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE(fork_clears_itimer, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	alarm(0);

	/* POSIX timers: SIGEV_SIGNAL with a value. */
	timer_t tm;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 777;
	CHECK_OK(timer_create_ok, timer_create(CLOCK_MONOTONIC, &sev, &tm));
	struct itimerspec its = {{0, 0}, {0, 30000000}}, oits;
	alarms = 0;
	CHECK_OK(timer_settime_rel, timer_settime(tm, 0, &its, NULL));
	sleep_ms(100);
	CHECK_EQ(timer_fired, alarms, 1);
	CHECK_EQ(timer_siginfo_code, last.si_code, SI_TIMER);
	CHECK_EQ(timer_siginfo_value, last.si_value.sival_int, 777);
	CHECK_EQ(timer_siginfo_signo, last.si_signo, SIGRTMIN);
	/* Absolute. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	its.it_value = now;
	its.it_value.tv_nsec += 30000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	alarms = 0;
	CHECK_OK(timer_settime_abs, timer_settime(tm, TIMER_ABSTIME, &its, NULL));
	sleep_ms(100);
	CHECK_EQ(timer_abs_fired, alarms, 1);
	/* gettime of a periodic timer; overrun while the signal is blocked. */
	its = (struct itimerspec){{0, 5000000}, {0, 5000000}};
	sigset_t s, os;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &s, &os);
	alarms = 0;
	timer_settime(tm, 0, &its, NULL);
	sleep_ms(100);
	struct itimerspec g;
	CHECK_OK(timer_gettime_ok, timer_gettime(tm, &g));
	CHECK_TRUE(timer_gettime_interval, g.it_interval.tv_nsec == 5000000 && g.it_value.tv_nsec <= 5000000);
	/* Unblocked: one signal for all the expirations, the rest counted as overruns. */
	sigprocmask(SIG_SETMASK, &os, NULL);
	its = (struct itimerspec){{0, 0}, {0, 0}};
	timer_settime(tm, 0, &its, &oits);
	CHECK_TRUE(timer_settime_old, oits.it_interval.tv_nsec == 5000000);
	CHECK_TRUE(timer_blocked_one_signal, alarms >= 1 && alarms <= 2);
	CHECK_TRUE(timer_overrun_in_siginfo, last.si_overrun >= 5);
	CHECK_OK(timer_getoverrun_ok, timer_getoverrun(tm));
	CHECK_OK(timer_delete_ok, timer_delete(tm));
	CHECK_ERR(timer_delete_twice, timer_delete(tm), EINVAL);
	CHECK_ERR(timer_settime_deleted, timer_settime(tm, 0, &its, NULL), EINVAL);
	CHECK_ERR(timer_create_bad_clock, timer_create(12345, &sev, &tm), EINVAL);
	sev.sigev_signo = 99;
	CHECK_ERR(timer_create_bad_signal, timer_create(CLOCK_MONOTONIC, &sev, &tm), EINVAL);

	/* SIGEV_NONE: no signal, but gettime counts down. */
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_NONE;
	CHECK_OK(timer_create_none, timer_create(CLOCK_REALTIME, &sev, &tm));
	its = (struct itimerspec){{0, 0}, {10, 0}};
	timer_settime(tm, 0, &its, NULL);
	timer_gettime(tm, &g);
	CHECK_TRUE(timer_none_counts_down, g.it_value.tv_sec >= 9 && g.it_value.tv_sec <= 10);
	timer_delete(tm);

	/* A NULL sigevent means SIGALRM with the timer id as value. */
	CHECK_OK(timer_create_null_sevp, timer_create(CLOCK_MONOTONIC, NULL, &tm));
	its = (struct itimerspec){{0, 0}, {0, 20000000}};
	alarms = 0;
	timer_settime(tm, 0, &its, NULL);
	sleep_ms(80);
	CHECK_EQ(timer_null_sevp_sigalrm, alarms, 1);
	CHECK_EQ(timer_null_sevp_code, last.si_code, SI_TIMER);
	timer_delete(tm);

	return check_done();
}

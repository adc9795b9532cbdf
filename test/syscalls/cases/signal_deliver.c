/* Signal generation and delivery: kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo,
 * masks and pending sets (per thread and per process), standard signals coalescing and
 * real-time signals queueing in order, handler flags (SA_SIGINFO, SA_NODEFER,
 * SA_RESETHAND, SA_ONSTACK, the handler's mask), rt_sigsuspend, rt_sigtimedwait, pause,
 * SA_RESTART against EINTR, and default actions (in children: under runsc this program is
 * PID 1, which no signal it does not handle can kill). */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static volatile int hits[65];
static volatile int last_sig, nested_max, depth;
static volatile siginfo_t last_info;
static void *volatile handler_sp;
static volatile int order[16], norder;

static void on_sig(int sig) {
	hits[sig]++;
	last_sig = sig;
	if (norder < 16)
		order[norder++] = sig;
}

static void on_info(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	hits[sig]++;
	memcpy((void *)&last_info, si, sizeof *si);
	if (norder < 16)
		order[norder++] = si->si_value.sival_int;
}

static volatile int nested_calls;
static void on_nested(int sig) {
	nested_calls++;
	depth++;
	if (depth > nested_max)
		nested_max = depth;
	if (nested_calls < 3)
		raise(sig);
	depth--;
}

static void on_stack(int sig) {
	int local;
	(void)sig;
	handler_sp = &local;
	stack_t ss;
	sigaltstack(NULL, &ss);
	hits[0] = ss.ss_flags;
}

static void install(int sig, void (*h)(int), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void install_info(int sig, int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static sigset_t mask_of(int sig) {
	sigset_t s;
	sigemptyset(&s);
	if (sig)
		sigaddset(&s, sig);
	return s;
}

/* child_status runs fn in a child and returns its wait status. */
static int child_status(void (*fn)(void)) {
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return st;
}

static void die_term(void) { kill(getpid(), SIGTERM); sleep_ms(1000); _exit(1); }
static void die_usr1_tgkill(void) { signal(SIGUSR1, SIG_DFL); syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1); sleep_ms(1000); _exit(1); }
static void ignore_chld_urg_winch(void) {
	raise(SIGCHLD);
	raise(SIGURG);
	raise(SIGWINCH);
	raise(SIGCONT);
	_exit(3);
}
static void ignored_term(void) {
	signal(SIGTERM, SIG_IGN);
	raise(SIGTERM);
	_exit(4);
}
static void blocked_then_unblocked(void) {
	sigset_t s = mask_of(SIGTERM);
	sigprocmask(SIG_BLOCK, &s, NULL);
	raise(SIGTERM);
	sigset_t p;
	sigpending(&p);
	if (!sigismember(&p, SIGTERM))
		_exit(5);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	_exit(6); /* not reached: SIGTERM kills on unblock */
}
static void blocked_ignored_stays_pending(void) {
	sigset_t s = mask_of(SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR2);
	sigset_t p;
	sigpending(&p);
	/* A blocked signal is queued even when ignored; setting SIG_IGN discards pending. */
	int pending_before = sigismember(&p, SIGUSR2);
	signal(SIGUSR2, SIG_IGN);
	sigpending(&p);
	_exit(pending_before * 10 + sigismember(&p, SIGUSR2));
}
static void kill_from_thread_fn(void);
static void *thread_kills(void *arg) {
	(void)arg;
	kill(getpid(), SIGINT);
	sleep_ms(1000);
	return NULL;
}
static void kill_from_thread_fn(void) {
	pthread_t th;
	pthread_create(&th, NULL, thread_kills, NULL);
	pthread_join(th, NULL);
	_exit(1);
}

static volatile int thread_got;
static volatile pid_t thread_tid;
static void on_thread_sig(int sig) {
	(void)sig;
	thread_got = syscall(SYS_gettid);
}
static void *sig_waiter(void *arg) {
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	sigset_t s = mask_of(0);
	pthread_sigmask(SIG_SETMASK, &s, NULL);
	while (!thread_got)
		sleep_ms(1);
	return NULL;
}

int main(void) {
	sigset_t s, p, old;
	pid_t me = getpid();

	/* kill to self with a handler; sig 0 checks existence only. */
	install(SIGUSR1, on_sig, 0);
	CHECK_OK(kill_self, kill(me, SIGUSR1));
	CHECK_EQ(kill_self_delivered, hits[SIGUSR1], 1);
	CHECK_OK(kill_sig0, kill(me, 0));
	CHECK_ERR(kill_bad_sig, kill(me, 65), EINVAL);
	CHECK_ERR(kill_negative_sig, kill(me, -1), EINVAL);
	CHECK_ERR(kill_no_such_pid, kill(0x3ffffff0, 0), ESRCH);
	CHECK_ERR(kill_no_such_pgrp, kill(-0x3ffffff0, 0), ESRCH);
	CHECK_EQ(kill_int_min, syscall(SYS_kill, -2147483648L, 0) == -1 && errno == ESRCH, 1);

	/* tkill/tgkill */
	long tid = syscall(SYS_gettid);
	CHECK_OK(tgkill_self, syscall(SYS_tgkill, me, tid, SIGUSR1));
	CHECK_EQ(tgkill_delivered, hits[SIGUSR1], 2);
	CHECK_OK(tkill_self, syscall(SYS_tkill, tid, SIGUSR1));
	CHECK_EQ(tkill_delivered, hits[SIGUSR1], 3);
	CHECK_ERR(tgkill_wrong_tgid, syscall(SYS_tgkill, me + 0x100000, tid, 0), ESRCH);
	CHECK_ERR(tgkill_zero_tid, syscall(SYS_tgkill, me, 0, 0), EINVAL);
	CHECK_ERR(tgkill_negative_tgid, syscall(SYS_tgkill, -5, tid, 0), EINVAL);
	CHECK_ERR(tkill_bad_sig, syscall(SYS_tkill, tid, 99), EINVAL);
	CHECK_ERR(tkill_no_thread, syscall(SYS_tkill, 0x3ffffff0, 0), ESRCH);

	/* The siginfo of kill and tgkill. */
	install_info(SIGUSR2, 0);
	kill(me, SIGUSR2);
	CHECK_EQ(siginfo_kill_code, last_info.si_code, SI_USER);
	CHECK_EQ(siginfo_kill_pid, last_info.si_pid, me);
	CHECK_EQ(siginfo_kill_uid, last_info.si_uid, getuid());
	CHECK_EQ(siginfo_kill_signo, last_info.si_signo, SIGUSR2);
	syscall(SYS_tgkill, me, tid, SIGUSR2);
	CHECK_EQ(siginfo_tgkill_code, last_info.si_code, SI_TKILL);
	CHECK_EQ(siginfo_tgkill_pid, last_info.si_pid, me);

	/* rt_sigqueueinfo: the sender's si_code and value arrive (negative codes only). */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR2;
	si.si_code = SI_QUEUE;
	si.si_pid = me;
	si.si_uid = getuid();
	si.si_value.sival_int = 4242;
	CHECK_OK(sigqueueinfo_self, syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &si));
	CHECK_EQ(sigqueueinfo_code, last_info.si_code, SI_QUEUE);
	CHECK_EQ(sigqueueinfo_value, last_info.si_value.sival_int, 4242);
	CHECK_OK(sigqueue_glibc, sigqueue(me, SIGUSR2, (union sigval){.sival_int = 7}));
	CHECK_EQ(sigqueue_glibc_value, last_info.si_value.sival_int, 7);
	CHECK_ERR(sigqueueinfo_efault, syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, BADPTR), EFAULT);
	CHECK_ERR(sigqueueinfo_bad_sig, syscall(SYS_rt_sigqueueinfo, me, 65, &si), EINVAL);
	CHECK_OK(sigqueueinfo_sig0, syscall(SYS_rt_sigqueueinfo, me, 0, &si));
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	si.si_value.sival_int = 99;
	CHECK_OK(tgsigqueueinfo_self, syscall(SYS_rt_tgsigqueueinfo, me, tid, SIGUSR2, &si));
	CHECK_EQ(tgsigqueueinfo_value, last_info.si_value.sival_int, 99);
	/* To another process, a non-negative si_code is refused. */
	pid_t child = fork();
	if (child == 0) {
		sleep_ms(2000);
		_exit(0);
	}
	si.si_code = SI_USER;
	CHECK_ERR(sigqueueinfo_other_kernel_code_eperm, syscall(SYS_rt_sigqueueinfo, child, SIGUSR2, &si), EPERM);
	si.si_code = SI_TKILL;
	CHECK_ERR(sigqueueinfo_other_tkill_code_eperm, syscall(SYS_rt_sigqueueinfo, child, SIGUSR2, &si), EPERM);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* Blocked signals stay pending; a standard signal is pending once however often sent. */
	s = mask_of(SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	hits[SIGUSR1] = 0;
	kill(me, SIGUSR1);
	kill(me, SIGUSR1);
	syscall(SYS_tgkill, me, tid, SIGUSR1);
	CHECK_EQ(blocked_not_delivered, hits[SIGUSR1], 0);
	sigpending(&p);
	CHECK_EQ(blocked_pending, sigismember(&p, SIGUSR1), 1);
	unsigned long raw = 0;
	CHECK_ERR(sigpending_bad_size, syscall(SYS_rt_sigpending, &raw, 16), EINVAL);
	CHECK_OK(sigpending_small_size, syscall(SYS_rt_sigpending, &raw, 4));
	CHECK_EQ(sigpending_small_size_value, raw, 1UL << (SIGUSR1 - 1));
	CHECK_ERR(sigpending_efault, syscall(SYS_rt_sigpending, BADPTR, 8), EFAULT);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Once for the process-wide one and once for the thread's own. */
	CHECK_EQ(standard_signal_coalesces, hits[SIGUSR1], 2);

	/* Real-time signals queue, each with its value, and come lowest number first. */
	install_info(SIGRTMIN, 0);
	install_info(SIGRTMIN + 1, 0);
	s = mask_of(SIGRTMIN);
	sigaddset(&s, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &s, &old);
	norder = 0;
	hits[SIGRTMIN] = 0;
	sigqueue(me, SIGRTMIN + 1, (union sigval){.sival_int = 10});
	sigqueue(me, SIGRTMIN, (union sigval){.sival_int = 1});
	sigqueue(me, SIGRTMIN, (union sigval){.sival_int = 2});
	sigqueue(me, SIGRTMIN, (union sigval){.sival_int = 3});
	sigprocmask(SIG_SETMASK, &old, NULL);
	CHECK_EQ(rt_queued_all, hits[SIGRTMIN], 3);
	/* Every deliverable signal gets its frame before the thread returns to user mode:
	 * the frame set up last (the higher signal, once the first handler blocks its own)
	 * runs first. */
	CHECK_TRUE(rt_handler_order, norder == 4 && order[0] == 10 && order[1] == 1 && order[2] == 2 && order[3] == 3);
	/* sigtimedwait takes them lowest number first, in order within a signal. */
	sigprocmask(SIG_BLOCK, &s, &old);
	sigqueue(me, SIGRTMIN + 1, (union sigval){.sival_int = 10});
	sigqueue(me, SIGRTMIN, (union sigval){.sival_int = 1});
	sigqueue(me, SIGRTMIN, (union sigval){.sival_int = 2});
	struct timespec t0 = {0, 0};
	int got[3];
	siginfo_t gi[3];
	for (int i = 0; i < 3; i++)
		got[i] = sigtimedwait(&s, &gi[i], &t0);
	CHECK_TRUE(rt_dequeue_order, got[0] == SIGRTMIN && gi[0].si_value.sival_int == 1 && got[1] == SIGRTMIN &&
	                                  gi[1].si_value.sival_int == 2 && got[2] == SIGRTMIN + 1 && gi[2].si_value.sival_int == 10);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* Setting a handler to SIG_IGN discards a pending signal. */
	s = mask_of(SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	kill(me, SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	sigpending(&p);
	CHECK_EQ(sig_ign_discards_pending, sigismember(&p, SIGUSR1), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	install(SIGUSR1, on_sig, 0);

	/* The handler runs with its signal blocked (nested raise is deferred) unless
	 * SA_NODEFER. */
	install(SIGUSR2, on_nested, 0);
	depth = nested_max = nested_calls = 0;
	raise(SIGUSR2);
	CHECK_EQ(handler_blocks_own_signal, nested_max, 1);
	CHECK_EQ(handler_deferred_signal_delivered, nested_calls, 3);
	install(SIGUSR2, on_nested, SA_NODEFER);
	depth = nested_max = nested_calls = 0;
	raise(SIGUSR2);
	CHECK_EQ(sa_nodefer_nests, nested_max, 3);
	/* sa_mask is blocked during the handler, and the old mask is back afterwards. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigprocmask(SIG_SETMASK, NULL, &p);
	CHECK_EQ(mask_restored_after_handler, sigismember(&p, SIGUSR2) + sigismember(&p, SIGUSR1), 0);

	/* SA_RESETHAND: one delivery, then the default. */
	install(SIGUSR1, on_sig, SA_RESETHAND);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &sa);
	CHECK_TRUE(sa_resethand_reset, sa.sa_handler == SIG_DFL);
	install(SIGUSR1, on_sig, 0);

	/* SA_ONSTACK runs the handler on the alternate stack. */
	static char alt[65536];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
	sigaltstack(&ss, NULL);
	install(SIGUSR2, on_stack, SA_ONSTACK);
	handler_sp = NULL;
	raise(SIGUSR2);
	CHECK_TRUE(sa_onstack_used, (char *)handler_sp > alt && (char *)handler_sp < alt + sizeof alt);
	CHECK_EQ(sa_onstack_ss_onstack_in_handler, hits[0], SS_ONSTACK);
	install(SIGUSR2, on_stack, 0);
	raise(SIGUSR2);
	CHECK_TRUE(no_onstack_not_used, !((char *)handler_sp > alt && (char *)handler_sp < alt + sizeof alt));
	/* SS_AUTODISARM: disabled while the handler runs. */
	ss.ss_flags = SS_AUTODISARM;
	sigaltstack(&ss, NULL);
	install(SIGUSR2, on_stack, SA_ONSTACK);
	raise(SIGUSR2);
	CHECK_EQ(ss_autodisarm_in_handler, hits[0], SS_DISABLE);
	sigaltstack(NULL, &ss);
	CHECK_EQ(ss_autodisarm_restored, (unsigned)ss.ss_flags, SS_AUTODISARM);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);

	/* rt_sigsuspend: waits with a temporary mask, returns EINTR after the handler, and
	 * restores the mask. */
	s = mask_of(SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	kill(me, SIGUSR1); /* pending, blocked */
	hits[SIGUSR1] = 0;
	sigset_t empty = mask_of(0);
	CHECK_ERR(sigsuspend_eintr, sigsuspend(&empty), EINTR);
	CHECK_EQ(sigsuspend_handler_ran, hits[SIGUSR1], 1);
	sigprocmask(SIG_SETMASK, NULL, &p);
	CHECK_EQ(sigsuspend_mask_restored, sigismember(&p, SIGUSR1), 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* sigsuspend woken by a signal from another process. */
	child = fork();
	if (child == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	sigprocmask(SIG_BLOCK, &s, &old);
	hits[SIGUSR1] = 0;
	CHECK_ERR(sigsuspend_woken_by_other, sigsuspend(&empty), EINTR);
	CHECK_EQ(sigsuspend_woken_handler, hits[SIGUSR1], 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	waitpid(child, NULL, 0);
	CHECK_ERR(sigsuspend_bad_size, syscall(SYS_rt_sigsuspend, &empty, 4), EINVAL);

	/* pause: EINTR after a handler. */
	child = fork();
	if (child == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	hits[SIGUSR1] = 0;
	CHECK_ERR(pause_eintr, pause(), EINTR);
	CHECK_EQ(pause_handler_ran, hits[SIGUSR1], 1);
	waitpid(child, NULL, 0);

	/* rt_sigtimedwait: takes a pending signal without running the handler; times out
	 * with EAGAIN; EINVAL for a bad timeout; EINTR for another handled signal. */
	s = mask_of(SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, &old);
	sigqueue(me, SIGUSR2, (union sigval){.sival_int = 55});
	struct timespec ts = {1, 0};
	memset(&si, 0, sizeof si);
	hits[SIGUSR2] = 0;
	CHECK_EQ(sigtimedwait_takes, sigtimedwait(&s, &si, &ts), SIGUSR2);
	CHECK_EQ(sigtimedwait_info, si.si_value.sival_int, 55);
	CHECK_EQ(sigtimedwait_no_handler, hits[SIGUSR2], 0);
	struct timespec short_ts = {0, 20000000};
	CHECK_ERR(sigtimedwait_timeout, sigtimedwait(&s, &si, &short_ts), EAGAIN);
	struct timespec zero_ts = {0, 0};
	CHECK_ERR(sigtimedwait_poll, sigtimedwait(&s, &si, &zero_ts), EAGAIN);
	struct timespec bad_ts = {0, 1000000000};
	CHECK_ERR(sigtimedwait_bad_ts, sigtimedwait(&s, &si, &bad_ts), EINVAL);
	child = fork();
	if (child == 0) {
		sleep_ms(50);
		kill(me, SIGUSR2);
		_exit(0);
	}
	CHECK_EQ(sigtimedwait_woken, sigtimedwait(&s, &si, &ts), SIGUSR2);
	CHECK_EQ(sigtimedwait_woken_pid, si.si_pid, child);
	waitpid(child, NULL, 0);
	child = fork();
	if (child == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	CHECK_ERR(sigtimedwait_eintr, sigtimedwait(&s, &si, &ts), EINTR);
	waitpid(child, NULL, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* SA_RESTART: a blocking read is restarted after the handler; without it, EINTR. */
	int pfd[2];
	pipe(pfd);
	install(SIGALRM, on_sig, SA_RESTART);
	child = fork();
	if (child == 0) {
		sleep_ms(200);
		write(pfd[1], "x", 1);
		_exit(0);
	}
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	char c;
	hits[SIGALRM] = 0;
	CHECK_EQ(sa_restart_read, read(pfd[0], &c, 1), 1);
	CHECK_EQ(sa_restart_handler_ran, hits[SIGALRM], 1);
	waitpid(child, NULL, 0);
	install(SIGALRM, on_sig, 0);
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_ERR(no_restart_read_eintr, read(pfd[0], &c, 1), EINTR);
	/* nanosleep is never restarted by SA_RESTART: EINTR with the remaining time. */
	install(SIGALRM, on_sig, SA_RESTART);
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec req = {2, 0}, rem = {0, 0};
	CHECK_ERR(nanosleep_eintr_despite_restart, nanosleep(&req, &rem), EINTR);
	CHECK_TRUE(nanosleep_remaining, rem.tv_sec == 1 || (rem.tv_sec == 0 && rem.tv_nsec > 0));
	close(pfd[0]);
	close(pfd[1]);
	signal(SIGALRM, SIG_DFL);

	/* A signal to the process goes to a thread that does not block it. */
	s = mask_of(SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	install(SIGUSR1, on_thread_sig, 0);
	pthread_t th;
	thread_got = 0;
	thread_tid = 0;
	pthread_create(&th, NULL, sig_waiter, NULL);
	while (!thread_tid)
		sleep_ms(1);
	kill(me, SIGUSR1);
	pthread_join(th, NULL);
	CHECK_EQ(process_signal_to_unblocking_thread, thread_got, thread_tid);
	/* tgkill to a thread that blocks it leaves it pending for that thread only. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	install(SIGUSR1, on_sig, 0);

	/* Default actions, in children. */
	int st = child_status(die_term);
	CHECK_TRUE(default_term_kills, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	st = child_status(die_usr1_tgkill);
	CHECK_TRUE(default_term_tgkill, WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
	st = child_status(ignore_chld_urg_winch);
	CHECK_TRUE(default_ignore, WIFEXITED(st) && WEXITSTATUS(st) == 3);
	st = child_status(ignored_term);
	CHECK_TRUE(sig_ign_ignores, WIFEXITED(st) && WEXITSTATUS(st) == 4);
	st = child_status(blocked_then_unblocked);
	CHECK_TRUE(default_on_unblock, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	st = child_status(blocked_ignored_stays_pending);
	CHECK_TRUE(blocked_ignored_pending, WIFEXITED(st) && WEXITSTATUS(st) == 10);
	st = child_status(kill_from_thread_fn);
	CHECK_TRUE(kill_from_thread_kills_process, WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);

	/* The mask is per thread and inherited by fork; pending signals are not inherited. */
	s = mask_of(SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, &old);
	raise(SIGUSR2);
	child = fork();
	if (child == 0) {
		sigset_t m, pp;
		sigprocmask(SIG_SETMASK, NULL, &m);
		sigpending(&pp);
		_exit(sigismember(&m, SIGUSR2) * 10 + sigismember(&pp, SIGUSR2));
	}
	waitpid(child, &st, 0);
	CHECK_EQ(fork_inherits_mask_not_pending, WEXITSTATUS(st), 10);
	signal(SIGUSR2, SIG_IGN);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR2, SIG_DFL);

	/* kill(0, sig) signals our process group; kill(-1, sig) everyone we may (not us). */
	child = fork();
	if (child == 0) {
		setpgid(0, 0);
		install(SIGUSR1, on_sig, 0);
		hits[SIGUSR1] = 0;
		pid_t gc = fork();
		if (gc == 0) {
			sigset_t m = mask_of(SIGUSR1);
			sigprocmask(SIG_BLOCK, &m, NULL);
			struct timespec t2 = {2, 0};
			_exit(sigtimedwait(&m, NULL, &t2) == SIGUSR1 ? 0 : 1);
		}
		sleep_ms(20);
		kill(0, SIGUSR1);
		int s2;
		waitpid(gc, &s2, 0);
		_exit(hits[SIGUSR1] == 1 && WIFEXITED(s2) && WEXITSTATUS(s2) == 0 ? 0 : 1);
	}
	waitpid(child, &st, 0);
	CHECK_TRUE(kill_zero_process_group, WIFEXITED(st) && WEXITSTATUS(st) == 0);

	return check_done();
}

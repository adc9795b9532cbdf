/* wait4 and waitid: selection (pid, -1, 0, -pgid, P_PID, P_PGID, P_ALL), WNOHANG, WNOWAIT,
 * __WALL/__WCLONE, the status word (exit code, terminating signal, core bit), waitid's
 * siginfo, rusage, and the errors. */
#include "check.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void noop(int sig) { (void)sig; }

static pid_t spawn_exit(int code, long delay_ms) {
	pid_t pid = fork();
	if (pid == 0) {
		if (delay_ms)
			sleep_ms(delay_ms);
		_exit(code);
	}
	return pid;
}

/* spawn_die forks a child that kills itself with sig (with RLIMIT_CORE set to core,
 * in the scratch directory, so that a native core file lands there). */
static pid_t spawn_die(int sig, rlim_t core) {
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {core, core};
		setrlimit(RLIMIT_CORE, &rl);
		if (chdir(scratch_dir()) != 0)
			_exit(99);
		signal(sig, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigprocmask(SIG_SETMASK, &s, NULL);
		kill(getpid(), sig);
		_exit(98);
	}
	return pid;
}

int main(void) {
	int st;
	siginfo_t si;
	struct rusage ru;

	CHECK_ERR(wait4_no_children, wait4(-1, &st, 0, NULL), ECHILD);
	CHECK_ERR(waitid_no_children, waitid(P_ALL, 0, &si, WEXITED), ECHILD);
	CHECK_ERR(wait4_not_a_child, wait4(1, &st, 0, NULL), ECHILD);
	CHECK_ERR(wait4_bad_options, wait4(-1, &st, 0x100, NULL), EINVAL);
	CHECK_ERR(waitid_no_state_option, waitid(P_ALL, 0, &si, 0), EINVAL);
	CHECK_ERR(waitid_bad_idtype, waitid(17, 0, &si, WEXITED), EINVAL);
	CHECK_ERR(waitid_bad_options, syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | 0x100, NULL), EINVAL);

	/* WNOHANG with a running child: 0, and the status is not written. */
	pid_t pid = spawn_exit(3, 100);
	st = 12345;
	CHECK_EQ(wnohang_running, waitpid(pid, &st, WNOHANG), 0);
	CHECK_EQ(wnohang_status_untouched, st, 12345);
	memset(&si, 0xff, sizeof si);
	CHECK_OK(waitid_wnohang_running, waitid(P_PID, pid, &si, WEXITED | WNOHANG));
	CHECK_EQ(waitid_wnohang_zeroes_pid, si.si_pid, 0);
	CHECK_EQ(wait4_blocks, waitpid(pid, &st, 0), pid);
	CHECK_TRUE(wait4_exited, WIFEXITED(st) && WEXITSTATUS(st) == 3);

	/* wait4 with rusage. */
	pid = spawn_exit(0, 0);
	memset(&ru, 0xff, sizeof ru);
	CHECK_EQ(wait4_rusage, wait4(pid, &st, 0, &ru), pid);
	CHECK_TRUE(wait4_rusage_sane, ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
	CHECK_ERR(wait4_efault_status, ({ pid = spawn_exit(0, 0); wait4(pid, BADPTR, 0, NULL); }), EFAULT);
	/* Linux reaps the child even so? No: the status copy fails after the child is reaped. */
	CHECK_ERR(wait4_efault_reaped, waitpid(pid, &st, WNOHANG), ECHILD);

	/* waitid's siginfo for an exit. */
	pid = spawn_exit(17, 0);
	memset(&si, 0, sizeof si);
	CHECK_OK(waitid_exited, waitid(P_PID, pid, &si, WEXITED));
	CHECK_EQ(waitid_signo, si.si_signo, SIGCHLD);
	CHECK_EQ(waitid_code_exited, si.si_code, CLD_EXITED);
	CHECK_EQ(waitid_pid, si.si_pid, pid);
	CHECK_EQ(waitid_uid, si.si_uid, getuid());
	CHECK_EQ(waitid_status, si.si_status, 17);
	CHECK_EQ(waitid_errno, si.si_errno, 0);

	/* Killed by a signal: WIFSIGNALED, CLD_KILLED. */
	pid = spawn_die(SIGTERM, 0);
	CHECK_EQ(killed_wait, waitpid(pid, &st, 0), pid);
	CHECK_TRUE(killed_signaled, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && !WCOREDUMP(st));
	pid = spawn_die(SIGKILL, 0);
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WEXITED);
	CHECK_EQ(killed_waitid_code, si.si_code, CLD_KILLED);
	CHECK_EQ(killed_waitid_status, si.si_status, SIGKILL);

	/* Core-dumping signals: the core bit says whether a core was dumped, which takes
	 * RLIMIT_CORE of at least a page. */
	pid = spawn_die(SIGQUIT, 0);
	waitpid(pid, &st, 0);
	CHECK_TRUE(core_signal_no_limit, WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT && !WCOREDUMP(st));
	pid = spawn_die(SIGABRT, RLIM_INFINITY);
	waitpid(pid, &st, 0);
	CHECK_TRUE(core_signal_dumped, WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && WCOREDUMP(st));
	pid = spawn_die(SIGSEGV, RLIM_INFINITY);
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WEXITED);
	CHECK_EQ(core_waitid_code, si.si_code, CLD_DUMPED);
	CHECK_EQ(core_waitid_status, si.si_status, SIGSEGV);
	/* Not dumpable: no core. */
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
		setrlimit(RLIMIT_CORE, &rl);
		chdir(scratch_dir());
		prctl(PR_SET_DUMPABLE, 0);
		signal(SIGQUIT, SIG_DFL);
		kill(getpid(), SIGQUIT);
		_exit(98);
	}
	waitpid(pid, &st, 0);
	CHECK_TRUE(core_not_dumpable, WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT && !WCOREDUMP(st));
	/* Remove any core file a native run left. */
	unlink(scratch_path("core"));

	/* WNOWAIT leaves the child waitable. */
	pid = spawn_exit(5, 0);
	memset(&si, 0, sizeof si);
	CHECK_OK(wnowait_first, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	CHECK_EQ(wnowait_first_status, si.si_status, 5);
	memset(&si, 0, sizeof si);
	CHECK_OK(wnowait_second, waitid(P_ALL, 0, &si, WEXITED | WNOWAIT));
	CHECK_EQ(wnowait_second_pid, si.si_pid, pid);
	CHECK_EQ(wnowait_then_reap, waitpid(pid, &st, 0), pid);
	CHECK_ERR(wnowait_gone, waitpid(pid, &st, WNOHANG), ECHILD);

	/* wait4(-1) takes any child; the pids come back once each. */
	pid_t a = spawn_exit(1, 0), b = spawn_exit(2, 20);
	pid_t r1 = waitpid(-1, &st, 0);
	int s1 = WEXITSTATUS(st);
	pid_t r2 = waitpid(-1, &st, 0);
	int s2 = WEXITSTATUS(st);
	CHECK_TRUE(wait_any_both, (r1 == a && r2 == b && s1 == 1 && s2 == 2) || (r1 == b && r2 == a && s1 == 2 && s2 == 1));
	CHECK_ERR(wait_any_none_left, waitpid(-1, &st, WNOHANG), ECHILD);

	/* Process groups: wait4(-pgid), wait4(0), waitid(P_PGID). */
	a = fork();
	if (a == 0) {
		setpgid(0, 0);
		sleep_ms(100);
		_exit(6);
	}
	setpgid(a, a);
	b = spawn_exit(7, 150); /* in our group */
	CHECK_EQ(wait_pgid_other, waitpid(-a, &st, 0), a);
	CHECK_EQ(wait_pgid_other_status, WEXITSTATUS(st), 6);
	CHECK_EQ(wait_pgid_own, waitpid(0, &st, 0), b);
	a = fork();
	if (a == 0) {
		setpgid(0, 0);
		_exit(8);
	}
	setpgid(a, a);
	memset(&si, 0, sizeof si);
	CHECK_OK(waitid_pgid, waitid(P_PGID, a, &si, WEXITED));
	CHECK_EQ(waitid_pgid_pid, si.si_pid, a);
	CHECK_ERR(waitid_pgid_none, waitid(P_PGID, a, &si, WEXITED | WNOHANG), ECHILD);
	b = spawn_exit(9, 0);
	memset(&si, 0, sizeof si);
	CHECK_OK(waitid_pgid_zero_is_own, waitid(P_PGID, 0, &si, WEXITED));
	CHECK_EQ(waitid_pgid_zero_pid, si.si_pid, b);
	CHECK_ERR(waitid_ppid_zero_einval, waitid(P_PID, 0, &si, WEXITED), EINVAL);

	/* A child whose parent ignores SIGCHLD is reaped at once: wait finds nothing. */
	signal(SIGCHLD, SIG_IGN);
	pid = spawn_exit(0, 0);
	CHECK_ERR(sigchld_ign_autoreap, waitpid(pid, &st, 0), ECHILD);
	signal(SIGCHLD, SIG_DFL);
	/* SA_NOCLDWAIT likewise. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	pid = spawn_exit(0, 0);
	CHECK_ERR(sa_nocldwait_autoreap, waitpid(pid, &st, 0), ECHILD);
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);

	/* A blocked wait is interrupted by a handled signal (EINTR without SA_RESTART). */
	pid = spawn_exit(0, 300);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_ERR(wait_eintr, waitpid(pid, &st, 0), EINTR);
	/* With SA_RESTART it goes on waiting. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_EQ(wait_restarted, waitpid(pid, &st, 0), pid);
	signal(SIGALRM, SIG_DFL);

	/* A thread may wait for a child forked by another thread of its process: checked in
	 * thread_basic.c. */
	return check_done();
}

/* Job control: SIGSTOP, SIGTSTP/SIGTTIN/SIGTTOU and SIGCONT; wait4/waitid with WUNTRACED
 * and WCONTINUED; SIGCHLD with CLD_STOPPED/CLD_CONTINUED (and SA_NOCLDSTOP); SIGKILL of a
 * stopped process; a stop of every thread of a process; stop signals to an orphaned
 * process group; SIGCONT's handler.
 *
 * Every stop happens in a child "session" S (setsid), whose own children are in a
 * process group of their own, so that their group is not orphaned (S, their parent, is
 * in another group of the same session): the same natively and under runsc. */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>

/* sleep_ms sleeps the whole time even when SIGCHLD handlers interrupt it. */
static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The checks inside the session process S are reported to main through this pipe as
 * "name:ok" records and turned into CHECK lines there, in order. */
static int rep[2];
static void report(const char *name, int ok) {
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%s:%d\n", name, ok ? 1 : 0);
	write(rep[1], buf, n);
}
#define R(name, cond) report(#name, (cond))

static volatile int chld_hits, chld_code, chld_status, chld_pid;
static void on_chld(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	chld_hits++;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid = si->si_pid;
}

static volatile int cont_hits;
static void on_cont(int sig) {
	(void)sig;
	cont_hits++;
}

/* spin_child forks a child in a process group of its own that counts in shared memory. */
static volatile unsigned long *counter;
static pid_t spin_child(void) {
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGCONT, on_cont);
		for (;;) {
			(*counter)++;
			sleep_ms(1);
		}
	}
	setpgid(pid, pid);
	return pid;
}

/* proc_state returns the state letter of /proc/PID/stat, or '?'. */
static char proc_state(pid_t pid) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* proc_status_field copies the value of a /proc/PID/status line ("State", "ShdPnd"). */
static int proc_status_field(pid_t pid, const char *name, char *out, size_t len) {
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	size_t nl = strlen(name);
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, nl) == 0 && l[nl] == ':') {
			char *v = l + nl + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			size_t i = 0;
			while (v[i] && v[i] != '\n' && i + 1 < len) {
				out[i] = v[i];
				i++;
			}
			out[i] = 0;
			return 0;
		}
	}
	return -1;
}

/* shd_pending returns the process-wide pending set of /proc/PID/status. */
static unsigned long long shd_pending(pid_t pid) {
	char v[64];
	if (proc_status_field(pid, "ShdPnd", v, sizeof v) < 0)
		return ~0ULL;
	return strtoull(v, NULL, 16);
}

/* cont_child forks a child in a process group of its own that counts its SIGCONT
 * handler's runs into counter[1] and, once counter[2] says so, unblocks every signal. */
static pid_t cont_child(int block_cont, int ignore_cont) {
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGCONT, ignore_cont ? SIG_IGN : on_cont);
		sigset_t set;
		sigemptyset(&set);
		if (block_cont)
			sigaddset(&set, SIGCONT);
		sigaddset(&set, SIGTSTP);
		sigprocmask(SIG_BLOCK, &set, NULL);
		for (;;) {
			counter[1] = cont_hits;
			(*counter)++;
			if (counter[2]) {
				sigprocmask(SIG_UNBLOCK, &set, NULL);
				counter[2] = 0;
			}
			sleep_ms(1);
		}
	}
	setpgid(pid, pid);
	return pid;
}

/* warm_errno runs the errno path once before a second thread starts: a stop and a
 * continue make both threads fail nanosleep with EINTR at once, and two threads touching a
 * page for the first time at the same moment is another matter than job control. */
static void warm_errno(void) {
	struct timespec ts = {0, -1};
	if (nanosleep(&ts, NULL) == -1 && errno == EINVAL)
		errno = 0;
}

static volatile pid_t spinner_tid;
static volatile int thread_spins;
static void *spinner(void *arg) {
	(void)arg;
	spinner_tid = gettid();
	for (;;) {
		thread_spins++;
		sleep_ms(1);
	}
	return NULL;
}

static void session(void) {
	int st;
	siginfo_t si;
	setsid();

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	/* SIGSTOP stops; WUNTRACED reports it once; the child does not run. */
	pid_t c = spin_child();
	sleep_ms(20);
	chld_hits = 0;
	kill(c, SIGSTOP);
	R(wuntraced_reports_stop, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	for (int i = 0; i < 100 && chld_hits == 0; i++)
		sleep_ms(2);
	R(sigchld_on_stop, chld_hits == 1 && chld_code == CLD_STOPPED && chld_status == SIGSTOP && chld_pid == c);
	R(stop_reported_once, waitpid(c, &st, WUNTRACED | WNOHANG) == 0);
	R(stop_not_reported_without_wuntraced, waitpid(c, &st, WNOHANG) == 0);
	unsigned long before = *counter;
	sleep_ms(50);
	R(stopped_does_not_run, *counter == before);
	/* waitid(WSTOPPED) with WNOWAIT sees it again... only if not yet reported: it was. */
	R(waitid_stop_already_reported, waitid(P_PID, c, &si, WSTOPPED | WNOHANG) == 0 && si.si_pid == 0);

	/* SIGCONT continues: WCONTINUED reports it, SIGCHLD says CLD_CONTINUED, the child's
	 * SIGCONT handler runs. */
	chld_hits = 0;
	kill(c, SIGCONT);
	R(wcontinued_reports, waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
	for (int i = 0; i < 100 && chld_hits == 0; i++)
		sleep_ms(2);
	R(sigchld_on_continue, chld_hits == 1 && chld_code == CLD_CONTINUED && chld_status == SIGCONT);
	before = *counter;
	sleep_ms(50);
	R(continued_runs, *counter > before);

	/* waitid: WSTOPPED and WCONTINUED with siginfo, WNOWAIT keeps the state. */
	kill(c, SIGSTOP);
	memset(&si, 0, sizeof si);
	R(waitid_wstopped_nowait, waitid(P_PID, c, &si, WSTOPPED | WNOWAIT) == 0 && si.si_code == CLD_STOPPED && si.si_status == SIGSTOP && si.si_pid == c);
	memset(&si, 0, sizeof si);
	R(waitid_wstopped, waitid(P_PID, c, &si, WSTOPPED) == 0 && si.si_code == CLD_STOPPED);
	kill(c, SIGCONT);
	memset(&si, 0, sizeof si);
	R(waitid_wcontinued, waitid(P_PID, c, &si, WCONTINUED) == 0 && si.si_code == CLD_CONTINUED && si.si_status == SIGCONT);

	/* SIGTSTP with the default action stops too; ignored, it does not. */
	kill(c, SIGTSTP);
	R(sigtstp_stops, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP);
	kill(c, SIGCONT);
	waitpid(c, &st, WCONTINUED);
	kill(c, SIGTTIN);
	R(sigttin_stops, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN);

	/* SIGKILL ends a stopped process. */
	kill(c, SIGKILL);
	R(sigkill_stopped, waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* A stopped process's pending signals wait for SIGCONT; SIGTERM arrives then. */
	c = spin_child();
	sleep_ms(20);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGTERM);
	sleep_ms(30);
	R(term_waits_while_stopped, waitpid(c, &st, WNOHANG) == 0);
	kill(c, SIGCONT);
	R(term_after_continue, waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

	/* SA_NOCLDSTOP: no SIGCHLD for stop (nor continue), but wait still reports. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	c = spin_child();
	sleep_ms(20);
	chld_hits = 0;
	kill(c, SIGSTOP);
	R(nocldstop_wait_reports, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st));
	kill(c, SIGCONT);
	waitpid(c, &st, WCONTINUED);
	sleep_ms(20);
	R(nocldstop_no_sigchld, chld_hits == 0);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	/* A SIGCONT to a running process runs its handler and reports nothing to wait. */
	c = spin_child();
	sleep_ms(20);
	kill(c, SIGCONT);
	sleep_ms(20);
	R(sigcont_running_nothing_to_wait, waitpid(c, &st, WCONTINUED | WNOHANG) == 0);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* A stop stops every thread of the process. */
	pid_t t = fork();
	if (t == 0) {
		setpgid(0, 0);
		warm_errno();
		pthread_t th;
		pthread_create(&th, NULL, spinner, NULL);
		for (;;) {
			(*counter) = thread_spins;
			sleep_ms(1);
		}
	}
	setpgid(t, t);
	sleep_ms(50);
	kill(t, SIGSTOP);
	waitpid(t, &st, WUNTRACED);
	before = *counter;
	sleep_ms(50);
	R(stop_stops_all_threads, *counter == before);
	kill(t, SIGCONT);
	sleep_ms(50);
	R(continue_resumes_threads, *counter > before);
	kill(t, SIGKILL);
	waitpid(t, &st, 0);

	/* A stopped process blocked in a syscall: continued, the call goes on (SA_RESTART
	 * irrelevant: no handler ran). */
	int pfd[2];
	pipe(pfd);
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		char ch;
		ssize_t n = read(pfd[0], &ch, 1);
		_exit(n == 1 && ch == 'z' ? 0 : 1);
	}
	setpgid(c, c);
	sleep_ms(20);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGCONT);
	sleep_ms(20);
	write(pfd[1], "z", 1);
	R(blocked_read_survives_stop, waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(pfd[0]);
	close(pfd[1]);

	/* Orphaned process group: SIGTSTP (default action) to a member is discarded;
	 * SIGSTOP still stops. Our own group (S's) is orphaned: S's parent is in another
	 * session. */
	c = fork();
	if (c == 0) {
		for (;;)
			sleep_ms(1);
	}
	sleep_ms(20);
	kill(c, SIGTSTP);
	sleep_ms(30);
	R(orphaned_pgrp_tstp_discarded, waitpid(c, &st, WUNTRACED | WNOHANG) == 0);
	kill(c, SIGSTOP);
	R(orphaned_pgrp_sigstop_stops, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st));
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* A process group that becomes orphaned while a member is stopped: every member gets
	 * SIGHUP then SIGCONT (and the default SIGHUP kills). M leads a new session; its child
	 * G has a group of its own; when M exits, G goes to S (the subreaper), which is in
	 * another session: G's group is orphaned. */
	int gp[2];
	pipe(gp);
	pid_t m = fork();
	if (m == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0) {
			setpgid(0, 0);
			for (;;)
				sleep_ms(1);
		}
		setpgid(g, g);
		kill(g, SIGSTOP);
		waitpid(g, &st, WUNTRACED);
		write(gp[1], &g, sizeof g);
		_exit(0);
	}
	waitpid(m, &st, 0);
	pid_t g = 0;
	read(gp[0], &g, sizeof g);
	R(orphaned_stopped_group_gets_sighup, g > 0 && waitpid(g, &st, 0) == g && WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP);
	close(gp[0]);
	close(gp[1]);

	/* SIGCONT's handler runs in the continued child; /proc shows the stopped state. */
	c = cont_child(0, 0);
	sleep_ms(20);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	char state[64] = "";
	proc_status_field(c, "State", state, sizeof state);
	R(proc_stat_stopped, proc_state(c) == 'T');
	R(proc_status_stopped, strcmp(state, "T (stopped)") == 0);
	kill(c, SIGCONT);
	waitpid(c, &st, WCONTINUED);
	for (int i = 0; i < 100 && counter[1] == 0; i++)
		sleep_ms(2);
	R(sigcont_handler_runs, counter[1] == 1);
	R(proc_stat_continued, proc_state(c) != 'T' && proc_state(c) != '?');

	/* waitid(WCONTINUED | WNOWAIT) leaves the report for the next wait. */
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGCONT);
	memset(&si, 0, sizeof si);
	R(waitid_wcontinued_nowait, waitid(P_PID, c, &si, WCONTINUED | WNOWAIT) == 0 && si.si_code == CLD_CONTINUED && si.si_pid == c);
	R(wcontinued_after_nowait, waitpid(c, &st, WCONTINUED | WNOHANG) == c && WIFCONTINUED(st));
	R(wcontinued_once, waitpid(c, &st, WCONTINUED | WNOHANG) == 0);

	/* A stopped child's stop is reported to waitpid(WUNTRACED) even after WNOWAIT. */
	kill(c, SIGSTOP);
	memset(&si, 0, sizeof si);
	R(waitid_stopped_nowait_twice, waitid(P_PID, c, &si, WSTOPPED | WNOWAIT) == 0 && si.si_code == CLD_STOPPED && waitid(P_PID, c, &si, WSTOPPED | WNOWAIT | WNOHANG) == 0 && si.si_pid == c);
	R(wuntraced_after_nowait, waitpid(c, &st, WUNTRACED | WNOHANG) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	kill(c, SIGCONT);
	waitpid(c, &st, WCONTINUED);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* SIGCONT continues even when blocked (and stays pending for the handler); a stop
	 * signal discards a pending SIGCONT. */
	c = cont_child(1, 0);
	sleep_ms(20);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGCONT);
	R(blocked_sigcont_continues, waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
	before = *counter;
	sleep_ms(50);
	R(blocked_sigcont_runs, *counter > before);
	unsigned long long cont_bit = 1ULL << (SIGCONT - 1);
	R(blocked_sigcont_pending, (shd_pending(c) & cont_bit) != 0);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	R(stop_discards_pending_sigcont, (shd_pending(c) & cont_bit) == 0);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* SIGCONT discards a pending (blocked) stop signal: unblocked, it does not stop. */
	c = cont_child(0, 0);
	sleep_ms(20);
	unsigned long long tstp_bit = 1ULL << (SIGTSTP - 1);
	kill(c, SIGTSTP);
	sleep_ms(10);
	R(blocked_tstp_pending, (shd_pending(c) & tstp_bit) != 0);
	kill(c, SIGCONT);
	R(sigcont_discards_pending_stop, (shd_pending(c) & tstp_bit) == 0);
	counter[2] = 1;
	sleep_ms(30);
	R(unblocked_after_sigcont_runs, counter[2] == 0 && waitpid(c, &st, WUNTRACED | WNOHANG) == 0);
	kill(c, SIGTSTP);
	R(unblocked_tstp_stops, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* SIGCONT continues even when ignored. */
	c = cont_child(0, 1);
	sleep_ms(20);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGCONT);
	R(ignored_sigcont_continues, waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
	before = *counter;
	sleep_ms(50);
	R(ignored_sigcont_runs, *counter > before);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* A process stops itself (raise), is continued, and goes on to exit. */
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		raise(SIGSTOP);
		_exit(7);
	}
	setpgid(c, c);
	R(raise_sigstop_stops, waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	kill(c, SIGCONT);
	R(raise_sigstop_then_exits, waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* SIGSTOP to one thread (tgkill) stops the whole process; SIGKILL ends it while
	 * stopped, every thread. */
	spinner_tid = 0;
	counter[3] = 0;
	t = fork();
	if (t == 0) {
		setpgid(0, 0);
		warm_errno();
		pthread_t th;
		pthread_create(&th, NULL, spinner, NULL);
		for (;;) {
			counter[3] = spinner_tid;
			(*counter)++;
			sleep_ms(1);
		}
	}
	setpgid(t, t);
	for (int i = 0; i < 100 && counter[3] == 0; i++)
		sleep_ms(2);
	pid_t tid = (pid_t)counter[3];
	R(tgkill_stop_thread, tid > 0 && tid != t && syscall(SYS_tgkill, t, tid, SIGSTOP) == 0 && waitpid(t, &st, WUNTRACED) == t && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	before = *counter;
	sleep_ms(50);
	R(tgkill_stop_stops_all, *counter == before);
	kill(t, SIGKILL);
	R(sigkill_stopped_threads, waitpid(t, &st, 0) == t && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* A relative sleep stopped and continued goes on to its first deadline
	 * (restart_syscall), neither failing with EINTR nor starting over. */
	pid_t z = fork();
	if (z == 0) {
		setpgid(0, 0);
		struct timespec t0, t1, ts = {0, 400000000};
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int r = nanosleep(&ts, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		_exit(r != 0 ? 1 : ms < 390 ? 2 : ms > 700 ? 3 : 0);
	}
	setpgid(z, z);
	sleep_ms(100);
	kill(z, SIGSTOP);
	waitpid(z, &st, WUNTRACED);
	sleep_ms(100);
	kill(z, SIGCONT);
	R(nanosleep_resumes_after_stop, waitpid(z, &st, 0) == z && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	report("done", 1);
}

int main(void) {
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pipe(rep);
	pid_t s = fork();
	if (s == 0) {
		close(rep[0]);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		session();
		_exit(0);
	}
	close(rep[1]);
	FILE *f = fdopen(rep[0], "r");
	char line[128];
	int done = 0;
	while (fgets(line, sizeof line, f)) {
		char *colon = strrchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		if (strcmp(line, "done") == 0) {
			done = 1;
			continue;
		}
		if (colon[1] == '1')
			check_pass(line);
		else
			check_fail(line, "false in the session process");
	}
	int st;
	waitpid(s, &st, 0);
	CHECK_TRUE(session_finished, done && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return check_done();
}

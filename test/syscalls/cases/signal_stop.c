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

static volatile int thread_spins;
static void *spinner(void *arg) {
	(void)arg;
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

/* Job control on a terminal: a background process that reads its controlling terminal
 * stops with SIGTTIN, one that writes with TOSTOP set stops with SIGTTOU, ^Z stops the
 * foreground process group with SIGTSTP; in an orphaned process group the read fails
 * with EIO instead.
 *
 * A session process S (setsid, with a pty as controlling terminal) runs the checks and
 * reports them to main through a pipe, as signal_stop.c does. */
#include "check.h"
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int rep[2];
static void report(const char *name, int ok) {
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%s:%d\n", name, ok ? 1 : 0);
	write(rep[1], buf, n);
}
#define R(name, cond) report(#name, (cond))

static int master, slave;

/* in_group forks a child in a process group of its own. */
static pid_t in_group(void) {
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		return 0;
	}
	setpgid(pid, pid);
	return pid;
}

static void session(void) {
	int st;
	char buf[64];
	setsid();
	if (ioctl(slave, TIOCSCTTY, 0) < 0) {
		report("tiocsctty", 0);
		return;
	}
	/* S changes the foreground group from the background at times: no SIGTTOU for it. */
	signal(SIGTTOU, SIG_IGN);

	/* A background read stops the reader with SIGTTIN; once the reader's group is in
	 * the foreground and the reader continued, the read goes on. */
	pid_t b = in_group();
	if (b == 0) {
		ssize_t n = read(slave, buf, sizeof buf);
		_exit(n == 2 && buf[0] == 'x' ? 0 : 1);
	}
	R(bg_read_sigttin_stops, waitpid(b, &st, WUNTRACED) == b && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN);
	R(tcsetpgrp_bg_reader, tcsetpgrp(slave, b) == 0);
	kill(b, SIGCONT);
	write(master, "x\n", 2);
	R(read_after_continue, waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	tcsetpgrp(slave, getpgrp());

	/* ^Z on the master stops the foreground group with SIGTSTP. */
	pid_t f = in_group();
	if (f == 0) {
		for (;;)
			sleep_ms(1);
	}
	tcsetpgrp(slave, f);
	sleep_ms(10);
	write(master, "\x1a", 1);
	R(ctrl_z_stops_foreground, waitpid(f, &st, WUNTRACED) == f && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP);
	tcsetpgrp(slave, getpgrp());
	kill(f, SIGKILL);
	waitpid(f, &st, 0);

	/* With TOSTOP, a background write stops the writer with SIGTTOU. */
	struct termios t;
	tcgetattr(slave, &t);
	t.c_lflag |= TOSTOP;
	tcsetattr(slave, TCSANOW, &t);
	pid_t w = in_group();
	if (w == 0) {
		signal(SIGTTOU, SIG_DFL);
		ssize_t n = write(slave, "y", 1);
		_exit(n == 1 ? 0 : 1);
	}
	R(bg_write_tostop_sigttou_stops, waitpid(w, &st, WUNTRACED) == w && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTOU);
	kill(w, SIGKILL);
	waitpid(w, &st, 0);
	t.c_lflag &= ~TOSTOP;
	tcsetattr(slave, TCSANOW, &t);

	/* In an orphaned process group the background read fails with EIO: O's parent M
	 * exits and O goes to main (the subreaper), which is in another session. */
	int op[2];
	pipe(op);
	pid_t m = fork();
	if (m == 0) {
		pid_t o = in_group();
		if (o == 0) {
			/* Wait until M is gone. */
			while (getppid() != (pid_t)atoi(getenv("MAIN_PID")))
				sleep_ms(1);
			ssize_t n = read(slave, buf, sizeof buf);
			int res = n == -1 && errno == EIO;
			write(op[1], &res, sizeof res);
			_exit(0);
		}
		_exit(0);
	}
	waitpid(m, &st, 0);
	int res = 0;
	R(orphaned_bg_read_eio, read(op[0], &res, sizeof res) == sizeof res && res == 1);
	close(op[0]);
	close(op[1]);

	report("done", 1);
}

int main(void) {
	master = CHECK_OK(posix_openpt, posix_openpt(O_RDWR | O_NOCTTY));
	CHECK_OK(grantpt, grantpt(master));
	CHECK_OK(unlockpt, unlockpt(master));
	slave = CHECK_OK(open_slave, open(ptsname(master), O_RDWR | O_NOCTTY));
	char pidbuf[16];
	snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
	setenv("MAIN_PID", pidbuf, 1);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pipe(rep);
	pid_t s = fork();
	if (s == 0) {
		close(rep[0]);
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
	/* Reap O, which came to main when M exited. */
	while (waitpid(-1, &st, WNOHANG) > 0)
		;
	return check_done();
}

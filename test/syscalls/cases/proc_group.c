/* Sessions and process groups: setpgid, getpgid, getpgrp, setsid, getsid, and their
 * errors (EPERM for a session leader or a group in another session, ESRCH for a process
 * that is not a child, EACCES for a child that has exec'd, EINVAL). Every case runs in a
 * child that first makes its own session, so that nothing depends on how the runner
 * started us (under runsc we are PID 1 and a session leader; natively we are not). */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int rep[2];
static void report(const char *name, int ok) {
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%s:%d\n", name, ok ? 1 : 0);
	write(rep[1], buf, n);
}
#define R(name, cond) report(#name, (cond))

static pid_t idle_child(void) {
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			sleep_ms(10);
	}
	return pid;
}

static void session(void) {
	pid_t me = getpid();
	/* setsid in a non-leader: a new session and group named after us. */
	R(setsid_new, setsid() == me);
	R(getsid_self, getsid(0) == me && getsid(me) == me);
	R(getpgrp_self, getpgrp() == me && getpgid(0) == me);
	/* A session leader cannot setsid again, nor move to another group. */
	R(setsid_leader_eperm, setsid() == -1 && errno == EPERM);
	R(setpgid_leader_eperm, setpgid(0, 0) == -1 && errno == EPERM);

	/* A child inherits the session and group; it can make its own group. */
	pid_t c = idle_child();
	R(child_inherits, getpgid(c) == me && getsid(c) == me);
	R(setpgid_child_own_group, setpgid(c, c) == 0 && getpgid(c) == c);
	R(getsid_child, getsid(c) == me);
	/* ... and move back into ours. */
	R(setpgid_child_back, setpgid(c, me) == 0 && getpgid(c) == me);
	/* pgid 0 means the target's pid. */
	R(setpgid_zero_pgid, setpgid(c, 0) == 0 && getpgid(c) == c);
	/* A second child can join the first one's group (same session). */
	pid_t c2 = idle_child();
	R(setpgid_join_existing, setpgid(c2, c) == 0 && getpgid(c2) == c);
	/* A group that does not exist (and is not the target's pid): EPERM. */
	R(setpgid_nonexistent_group, setpgid(c2, c2 + 100000) == -1 && errno == EPERM);
	R(setpgid_negative, setpgid(c2, -1) == -1 && errno == EINVAL);
	/* Not our child: ESRCH. */
	R(setpgid_not_child, setpgid(1, 1) == -1 && (errno == ESRCH || errno == EPERM));
	R(setpgid_no_such, setpgid(0x3ffffff0, 0) == -1 && errno == ESRCH);
	R(getpgid_no_such, getpgid(0x3ffffff0) == -1 && errno == ESRCH);
	R(getsid_no_such, getsid(0x3ffffff0) == -1 && errno == ESRCH);

	/* A child in another session: EPERM to move it. */
	int p[2];
	pipe(p);
	pid_t c3 = fork();
	if (c3 == 0) {
		setsid();
		write(p[1], "s", 1);
		for (;;)
			sleep_ms(10);
	}
	char ch;
	read(p[0], &ch, 1);
	R(other_session_getsid, getsid(c3) == c3);
	R(setpgid_other_session_eperm, setpgid(c3, me) == -1 && errno == EPERM);
	/* Into a group of another session: EPERM. */
	R(setpgid_into_other_session_eperm, setpgid(c, c3) == -1 && errno == EPERM);

	/* After the child execs, its parent may no longer change its group: EACCES. */
	pid_t c4 = fork();
	if (c4 == 0) {
		char *argv[] = {"sleep", "1", NULL};
		execv("/bin/sleep", argv);
		_exit(127);
	}
	sleep_ms(200);
	R(setpgid_after_exec_eacces, setpgid(c4, c4) == -1 && errno == EACCES);

	/* A zombie keeps its group until reaped; getpgid of a zombie works. */
	pid_t z = fork();
	if (z == 0)
		_exit(0);
	sleep_ms(50);
	R(getpgid_zombie, getpgid(z) == me);
	R(getsid_zombie, getsid(z) == me);
	waitpid(z, NULL, 0);

	/* A group leader cannot setsid (its group id would clash); a member can. */
	pid_t c5 = fork();
	if (c5 == 0) {
		setpgid(0, 0);
		_exit(setsid() == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	waitpid(c5, &st, 0);
	R(setsid_group_leader_eperm, WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* A group still in use by someone else: setsid refused while another process has
	 * pgid == our pid. */
	kill(c, SIGKILL);
	kill(c2, SIGKILL);
	kill(c3, SIGKILL);
	kill(c4, SIGKILL);
	waitpid(c, NULL, 0);
	waitpid(c2, NULL, 0);
	waitpid(c3, NULL, 0);
	waitpid(c4, NULL, 0);
	report("done", 1);
}

int main(void) {
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

	/* In main: getpgid/getsid of ourselves agree with getpgrp. */
	CHECK_EQ(getpgid_zero, getpgid(0), getpgrp());
	CHECK_EQ(getsid_zero, getsid(0), getsid(getpid()));
	return check_done();
}

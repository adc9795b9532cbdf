/* Pseudo-terminals: /dev/ptmx and /dev/pts, the line discipline, termios, window size,
 * controlling terminals and job-control signals, /dev/tty. */
#include "check.h"
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

/* readall reads what is there within a short time (the master side of the pair). */
static ssize_t readsome(int fd, char *buf, size_t n) {
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t got = 0;
	while (got < (ssize_t)n - 1 && poll(&p, 1, 200) == 1 && (p.revents & POLLIN)) {
		ssize_t r = read(fd, buf + got, n - 1 - got);
		if (r <= 0)
			break;
		got += r;
	}
	buf[got] = 0;
	return got;
}

static volatile sig_atomic_t got_sig;
static void on_sig(int s) { got_sig = s; }

int main(void) {
	char buf[256], name[64];
	int m = CHECK_OK(posix_openpt, posix_openpt(O_RDWR | O_NOCTTY));
	CHECK_OK(grantpt, grantpt(m));
	int n = -1;
	CHECK_OK(tiocgptn, ioctl(m, TIOCGPTN, &n));
	snprintf(name, sizeof name, "/dev/pts/%d", n);
	CHECK_STR(ptsname, ptsname(m), name);
	CHECK_ERR(slave_locked_eio, open(name, O_RDWR | O_NOCTTY), EIO);
	CHECK_OK(unlockpt, unlockpt(m));
	int s = CHECK_OK(open_slave, open(name, O_RDWR | O_NOCTTY));
	struct stat st;
	CHECK_OK(stat_slave, fstat(s, &st));
	CHECK_TRUE(slave_is_chardev, S_ISCHR(st.st_mode));
	CHECK_STR(ttyname, ttyname(s), name);
	CHECK_TRUE(isatty_both, isatty(s) && isatty(m));
	CHECK_ERR(tiocgptn_on_slave, ioctl(s, TIOCGPTN, &n), ENOTTY);

	/* Defaults: cooked mode with echo. */
	struct termios t;
	CHECK_OK(tcgetattr, tcgetattr(s, &t));
	CHECK_TRUE(default_icanon_echo, (t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG));
	CHECK_TRUE(default_onlcr, (t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR));
	CHECK_EQ(default_vintr, t.c_cc[VINTR], 3);

	/* Canonical input: a line at a time, echoed with \r\n; erase edits the line. */
	CHECK_EQ(master_write, write(m, "ab\x7f" "c\n", 5), 5);
	CHECK_EQ(slave_read_line, read(s, buf, sizeof buf), 3);
	CHECK_TRUE(line_edited, memcmp(buf, "ac\n", 3) == 0);
	readsome(m, buf, sizeof buf);
	CHECK_STR(echo, buf, "ab\b \bc\r\n");
	CHECK_EQ(two_lines_write, write(m, "one\ntwo\n", 8), 8);
	CHECK_EQ(first_line_only, read(s, buf, sizeof buf), 4);
	CHECK_EQ(second_line, read(s, buf, sizeof buf), 4);
	readsome(m, buf, sizeof buf);
	/* ^D on an empty line is end of file; after text it ends the line without a \n. */
	write(m, "x\x04", 2);
	CHECK_EQ(eof_after_text, read(s, buf, sizeof buf), 1);
	write(m, "\x04", 1);
	CHECK_EQ(eof_empty_line, read(s, buf, sizeof buf), 0);
	readsome(m, buf, sizeof buf);

	/* Output processing: \n becomes \r\n. */
	CHECK_EQ(slave_write, write(s, "hi\n", 3), 3);
	readsome(m, buf, sizeof buf);
	CHECK_STR(onlcr, buf, "hi\r\n");
	int q = -1;
	write(s, "zz", 2);
	usleep(20000);
	CHECK_OK(master_fionread, ioctl(m, FIONREAD, &q));
	CHECK_EQ(master_fionread_n, q, 2);
	readsome(m, buf, sizeof buf);

	/* Raw mode: bytes as they come, no echo, VMIN/VTIME. */
	struct termios raw = t;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	CHECK_OK(tcsetattr_raw, tcsetattr(s, TCSANOW, &raw));
	CHECK_EQ(raw_empty_read, read(s, buf, sizeof buf), 0);
	write(m, "\x03q", 2);
	usleep(10000);
	CHECK_EQ(raw_read, read(s, buf, sizeof buf), 2);
	CHECK_TRUE(raw_no_signal_char, buf[0] == 3 && buf[1] == 'q');
	CHECK_EQ(raw_no_echo, readsome(m, buf, sizeof buf), 0);
	raw.c_cc[VTIME] = 1; /* 0.1 s */
	tcsetattr(s, TCSANOW, &raw);
	CHECK_EQ(vtime_timeout, read(s, buf, sizeof buf), 0);
	CHECK_OK(tcsetattr_back, tcsetattr(s, TCSAFLUSH, &t));

	/* Window size, on either side. */
	struct winsize ws = {.ws_row = 24, .ws_col = 80}, ws2 = {0};
	CHECK_OK(set_winsize_master, ioctl(m, TIOCSWINSZ, &ws));
	CHECK_OK(get_winsize_slave, ioctl(s, TIOCGWINSZ, &ws2));
	CHECK_TRUE(winsize, ws2.ws_row == 24 && ws2.ws_col == 80);

	/* Not our controlling terminal: job-control ioctls say so. */
	pid_t pg;
	CHECK_ERR(tcgetpgrp_not_ctty, (pg = tcgetpgrp(s)), ENOTTY);

	/* A child makes the terminal its controlling terminal; ^C signals its foreground
	 * process group; /dev/tty opens it; TIOCSWINSZ sends SIGWINCH. */
	int sync[2];
	pipe(sync);
	pid_t child = fork();
	if (child == 0) {
		close(sync[0]);
		alarm(10);
		struct sigaction sa = {.sa_handler = on_sig}; /* no SA_RESTART: read fails with EINTR */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGWINCH, &sa, NULL);
		int r = 0;
		if (setsid() < 0)
			r |= 1;
		if (ioctl(s, TIOCSCTTY, 0) < 0)
			r |= 2;
		if (tcgetpgrp(s) != getpid())
			r |= 4;
		int tty = open("/dev/tty", O_RDWR);
		if (tty < 0)
			r |= 8;
		pid_t sid = -1;
		if (ioctl(s, TIOCGSID, &sid) < 0 || sid != getpid())
			r |= 16;
		write(sync[1], "r", 1);
		char c;
		/* Blocks until ^C interrupts it. */
		ssize_t k = read(tty, &c, 1);
		if (!(k == -1 && errno == EINTR && got_sig == SIGINT))
			r |= 32;
		got_sig = 0;
		write(sync[1], "w", 1);
		for (int i = 0; i < 100 && got_sig != SIGWINCH; i++)
			usleep(10000);
		if (got_sig != SIGWINCH)
			r |= 64;
		_exit(r);
	}
	char c;
	CHECK_EQ(child_ready, read(sync[0], &c, 1), 1);
	usleep(50000);
	write(m, "\x03", 1);
	CHECK_EQ(child_interrupted, read(sync[0], &c, 1), 1);
	usleep(20000);
	ws.ws_col = 100;
	ioctl(m, TIOCSWINSZ, &ws);
	int status = 0;
	waitpid(child, &status, 0);
	CHECK_EQ(child_job_control, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	readsome(m, buf, sizeof buf);
	CHECK_STR(intr_echo, buf, "^C");

	/* Without a controlling terminal, /dev/tty is ENXIO (for a new session). */
	child = fork();
	if (child == 0) {
		setsid();
		_exit(open("/dev/tty", O_RDWR) == -1 && errno == ENXIO ? 0 : 1);
	}
	waitpid(child, &status, 0);
	CHECK_EQ(dev_tty_enxio, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);

	/* Hangups: closing the slave makes master reads fail with EIO; closing the master
	 * makes slave reads return end of file and writes fail with EIO. */
	close(s);
	CHECK_ERR(master_read_after_slave_close, read(m, buf, sizeof buf), EIO);
	struct pollfd p = {m, POLLIN, 0};
	poll(&p, 1, 0);
	CHECK_TRUE(master_pollhup, p.revents & POLLHUP);
	s = open(name, O_RDWR | O_NOCTTY);
	close(m);
	CHECK_EQ(slave_read_after_hangup, read(s, buf, sizeof buf), 0);
	CHECK_ERR(slave_write_after_hangup, write(s, "x", 1), EIO);
	close(s);
	CHECK_ERR(slave_gone, open(name, O_RDWR | O_NOCTTY), ENOENT);

	/* openpty (TIOCGPTPEER in glibc) with a window size. */
	int a, b;
	ws.ws_row = 10;
	ws.ws_col = 20;
	CHECK_OK(openpty, openpty(&a, &b, name, NULL, &ws));
	CHECK_OK(openpty_winsize, ioctl(b, TIOCGWINSZ, &ws2));
	CHECK_TRUE(openpty_winsize_set, ws2.ws_row == 10 && ws2.ws_col == 20);
	CHECK_TRUE(openpty_name, strncmp(name, "/dev/pts/", 9) == 0);
	close(a);
	close(b);
	return check_done();
}

/* Pipes between processes (fork): blocking reads and writes woken by the other side,
 * signals interrupting them (EINTR, SA_RESTART), SIGPIPE's default action, PIPE_BUF
 * atomicity between writers, EOF when the last writer exits, and a named FIFO's blocking
 * open. */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static char big[1 << 18];
static volatile int got_signal;

static void on_signal(int sig) {
	(void)sig;
	got_signal++;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* wait_exit waits for pid and returns its exit status, or 128+signal. */
static int wait_exit(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void install(int sig, int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int main(void) {
	int p[2];
	char buf[64];

	/* A blocking read waits for the writer. */
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		sleep_ms(50);
		write(p[1], "late", 4);
		_exit(0);
	}
	close(p[1]);
	CHECK_EQ(blocking_read_woken, read(p[0], buf, sizeof buf), 4);
	CHECK_EQ(blocking_read_eof_after_exit, read(p[0], buf, sizeof buf), 0);
	CHECK_EQ(child_exit, wait_exit(pid), 0);
	close(p[0]);

	/* A blocking write larger than the pipe completes as the reader drains it. */
	pipe(p);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(write(p[1], big, sizeof big) == sizeof big ? 0 : 1);
	}
	close(p[1]);
	long total = 0, n;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		total += n;
	CHECK_EQ(blocking_write_all_read, total, (long)sizeof big);
	CHECK_EQ(blocking_write_completed, wait_exit(pid), 0);
	close(p[0]);

	/* SIGPIPE's default action kills the writer. */
	pipe(p);
	close(p[0]);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(p[1], "x", 1);
		_exit(0);
	}
	close(p[1]);
	CHECK_EQ(sigpipe_kills, wait_exit(pid), 128 + SIGPIPE);

	/* A writer blocked on a full pipe gets EPIPE (and SIGPIPE) when the reader exits. */
	pipe(p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], big, sizeof big) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		sleep_ms(50);
		_exit(0);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(blocked_write_epipe, write(p[1], "x", 1), EPIPE);
	signal(SIGPIPE, SIG_DFL);
	wait_exit(pid);
	close(p[1]);

	/* A signal interrupts a blocking read: EINTR without SA_RESTART. */
	install(SIGUSR1, 0);
	pipe(p);
	pid_t parent = getpid();
	pid = fork();
	if (pid == 0) {
		sleep_ms(50);
		kill(parent, SIGUSR1);
		sleep_ms(50);
		_exit(0);
	}
	got_signal = 0;
	CHECK_ERR(read_eintr, read(p[0], buf, sizeof buf), EINTR);
	CHECK_EQ(read_eintr_handler_ran, got_signal, 1);
	wait_exit(pid);

	/* With SA_RESTART the read goes on and gets the data sent after the signal. */
	install(SIGUSR1, SA_RESTART);
	pid = fork();
	if (pid == 0) {
		sleep_ms(50);
		kill(parent, SIGUSR1);
		sleep_ms(50);
		write(p[1], "after", 5);
		_exit(0);
	}
	got_signal = 0;
	CHECK_EQ(read_restarted, read(p[0], buf, sizeof buf), 5);
	CHECK_EQ(read_restart_handler_ran, got_signal, 1);
	wait_exit(pid);

	/* A blocking write on a full pipe is interrupted too. */
	install(SIGUSR1, 0);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], big, sizeof big) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	pid = fork();
	if (pid == 0) {
		sleep_ms(50);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	got_signal = 0;
	CHECK_ERR(write_eintr, write(p[1], "x", 1), EINTR);
	CHECK_EQ(write_eintr_handler_ran, got_signal, 1);
	wait_exit(pid);
	close(p[0]);
	close(p[1]);
	signal(SIGUSR1, SIG_DFL);

	/* PIPE_BUF writes from several processes never interleave; EOF after the last. */
	enum { WRITERS = 4, CHUNKS = 64 };
	pipe(p);
	pid_t kids[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char chunk[4096];
			close(p[0]);
			memset(chunk, 'a' + i, sizeof chunk);
			for (int j = 0; j < CHUNKS; j++)
				if (write(p[1], chunk, sizeof chunk) != sizeof chunk)
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	static char all[WRITERS * CHUNKS * 4096];
	total = 0;
	while (total < (long)sizeof all && (n = read(p[0], all + total, 3000)) > 0)
		total += n;
	CHECK_EQ(atomic_total, total, (long)sizeof all);
	int interleaved = 0;
	for (long off = 0; off < total; off += 4096)
		for (int k = 1; k < 4096; k++)
			if (all[off + k] != all[off])
				interleaved = 1;
	CHECK_EQ(atomic_no_interleaving, interleaved, 0);
	int kids_ok = 1;
	for (int i = 0; i < WRITERS; i++)
		kids_ok &= wait_exit(kids[i]) == 0;
	CHECK_TRUE(atomic_writers_ok, kids_ok);
	CHECK_EQ(atomic_eof, read(p[0], buf, sizeof buf), 0);
	close(p[0]);

	/* A named FIFO: O_WRONLY waits for a reader, O_RDONLY for a writer. */
	const char *fifo = scratch_path("fifo");
	CHECK_OK(mkfifo_ok, mkfifo(fifo, 0600));
	pid = fork();
	if (pid == 0) {
		int w = open(fifo, O_WRONLY);
		if (w < 0)
			_exit(1);
		write(w, "through", 7);
		_exit(0);
	}
	sleep_ms(50);
	int r = CHECK_OK(fifo_open_reader, open(fifo, O_RDONLY));
	CHECK_EQ(fifo_read, read(r, buf, sizeof buf), 7);
	CHECK_EQ(fifo_eof, read(r, buf, sizeof buf), 0);
	CHECK_EQ(fifo_writer_ok, wait_exit(pid), 0);
	close(r);
	pid = fork();
	if (pid == 0) {
		int rr = open(fifo, O_RDONLY);
		if (rr < 0)
			_exit(1);
		_exit(read(rr, buf, sizeof buf) == 4 ? 0 : 2);
	}
	sleep_ms(50);
	int w = CHECK_OK(fifo_open_writer, open(fifo, O_WRONLY));
	CHECK_EQ(fifo_write, write(w, "back", 4), 4);
	close(w);
	CHECK_EQ(fifo_reader_ok, wait_exit(pid), 0);
	/* A signal interrupts an open waiting for the other side. */
	install(SIGUSR1, 0);
	pid = fork();
	if (pid == 0) {
		sleep_ms(50);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	CHECK_ERR(fifo_open_eintr, open(fifo, O_WRONLY), EINTR);
	wait_exit(pid);
	CHECK_ERR(fifo_no_reader_left, open(fifo, O_WRONLY | O_NONBLOCK), ENXIO);
	unlink(fifo);
	return check_done();
}

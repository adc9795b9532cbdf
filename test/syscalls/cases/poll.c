/* poll, ppoll, select, pselect6 in one process: revents on pipes and regular files,
 * POLLNVAL and EBADF, timeouts and the time left written back, the signal mask swap of
 * ppoll and pselect, argument errors. */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>

static char big[1 << 18];
static volatile int got_signal;

static void on_signal(int sig) {
	(void)sig;
	got_signal++;
}

static long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* revents polls one fd for events with a zero timeout and returns revents (or -1). */
static int revents(int fd, short events) {
	struct pollfd p = {fd, events, 0};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

int main(void) {
	int p[2];
	char buf[64];

	/* A pipe's ends. */
	pipe2(p, O_NONBLOCK);
	CHECK_EQ(empty_read_end, revents(p[0], POLLIN | POLLOUT), 0);
	CHECK_EQ(empty_write_end, revents(p[1], POLLIN | POLLOUT), POLLOUT);
	CHECK_EQ(empty_write_end_wrnorm, revents(p[1], POLLOUT | POLLWRNORM), POLLOUT | POLLWRNORM);
	write(p[1], "x", 1);
	CHECK_EQ(data_read_end, revents(p[0], POLLIN | POLLRDNORM | POLLPRI), POLLIN | POLLRDNORM);
	CHECK_EQ(data_read_end_not_asked, revents(p[0], POLLOUT), 0);
	while (write(p[1], big, sizeof big) > 0)
		;
	CHECK_EQ(full_write_end, revents(p[1], POLLOUT), 0);
	read(p[0], big, 4096);
	CHECK_EQ(page_freed_write_end, revents(p[1], POLLOUT), POLLOUT);
	close(p[1]);
	/* POLLHUP without writers, even when not asked for, with POLLIN while data remain. */
	CHECK_EQ(hup_with_data, revents(p[0], POLLIN), POLLIN | POLLHUP);
	while (read(p[0], big, sizeof big) > 0)
		;
	CHECK_EQ(hup_empty, revents(p[0], POLLIN), POLLHUP);
	CHECK_EQ(hup_not_asked, revents(p[0], 0), POLLHUP);
	close(p[0]);
	pipe(p);
	close(p[0]);
	/* POLLERR on a write end without readers. */
	CHECK_EQ(err_no_reader, revents(p[1], POLLOUT), POLLOUT | POLLERR);
	CHECK_EQ(err_not_asked, revents(p[1], 0), POLLERR);
	close(p[1]);

	/* Regular files are always readable and writable. */
	int reg = open(scratch_path("reg"), O_CREAT | O_RDWR, 0600);
	CHECK_EQ(regular_file, revents(reg, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM),
	         POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
	CHECK_EQ(regular_file_pri, revents(reg, POLLPRI), 0);

	/* Bad descriptors: POLLNVAL (and counted), negative ones ignored. */
	pipe(p);
	struct pollfd fds[4] = {{999, POLLIN, 7}, {-1, POLLIN, 7}, {p[0], POLLIN, 7}, {p[1], POLLOUT, 7}};
	CHECK_EQ(poll_mixed_count, poll(fds, 4, 0), 2);
	CHECK_EQ(poll_nval, fds[0].revents, POLLNVAL);
	CHECK_EQ(poll_negative_fd_zeroed, fds[1].revents, 0);
	CHECK_EQ(poll_not_ready_zeroed, fds[2].revents, 0);
	CHECK_EQ(poll_ready, fds[3].revents, POLLOUT);
	CHECK_EQ(poll_zero_fds, poll(NULL, 0, 0), 0);

	/* Timeouts. */
	struct pollfd rp = {p[0], POLLIN, 0};
	long t0 = now_ms();
	CHECK_EQ(poll_timeout, poll(&rp, 1, 50), 0);
	CHECK_TRUE(poll_timeout_waited, now_ms() - t0 >= 45);
	CHECK_EQ(poll_zero_nfds_timeout, poll(NULL, 0, 20), 0);

	/* Errors. */
	CHECK_ERR(poll_efault, syscall(SYS_poll, BADPTR, 1, 0), EFAULT);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	static struct pollfd many[4096];
	for (unsigned i = 0; i < sizeof many / sizeof many[0]; i++)
		many[i].fd = -1;
	CHECK_ERR(poll_nfds_above_rlimit, poll(many, rl.rlim_cur + 1, 0), EINVAL);
	CHECK_EQ(poll_nfds_at_rlimit, poll(many, rl.rlim_cur, 0), 0);

	/* ppoll: the time left is written back (raw syscall: glibc may copy it). */
	struct timespec ts = {0, 50 * 1000000};
	CHECK_EQ(ppoll_timeout, syscall(SYS_ppoll, &rp, 1, &ts, NULL, 8), 0);
	CHECK_TRUE(ppoll_time_left_zero, ts.tv_sec == 0 && ts.tv_nsec == 0);
	struct pollfd wp = {p[1], POLLOUT, 0};
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	CHECK_EQ(ppoll_ready, syscall(SYS_ppoll, &wp, 1, &ts, NULL, 8), 1);
	CHECK_TRUE(ppoll_time_left, ts.tv_sec == 4 || (ts.tv_sec == 5 && ts.tv_nsec == 0));
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000000;
	CHECK_ERR(ppoll_bad_timespec, syscall(SYS_ppoll, &wp, 1, &ts, NULL, 8), EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	CHECK_ERR(ppoll_negative_timespec, syscall(SYS_ppoll, &wp, 1, &ts, NULL, 8), EINVAL);
	CHECK_ERR(ppoll_timespec_efault, syscall(SYS_ppoll, &wp, 1, BADPTR, NULL, 8), EFAULT);
	sigset_t set, old, cur;
	sigemptyset(&set);
	CHECK_ERR(ppoll_bad_sigsetsize, syscall(SYS_ppoll, &wp, 1, NULL, &set, 4), EINVAL);
	CHECK_EQ(ppoll_sigsetsize_ignored_without_mask, syscall(SYS_ppoll, &wp, 1, NULL, NULL, 4), 1);
	CHECK_ERR(ppoll_mask_efault, syscall(SYS_ppoll, &wp, 1, NULL, BADPTR, 8), EFAULT);

	/* ppoll's mask: a pending blocked signal that the mask unblocks interrupts it, its
	 * handler runs, and the old mask is back afterwards. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	sigset_t open_mask;
	sigemptyset(&open_mask);
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	got_signal = 0;
	CHECK_ERR(ppoll_mask_eintr, ppoll(&rp, 1, &ts, &open_mask), EINTR);
	CHECK_EQ(ppoll_mask_handler_ran, got_signal, 1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_EQ(ppoll_mask_restored, sigismember(&cur, SIGUSR1), 1);
	/* A mask that keeps it blocked: a plain timeout, the signal stays pending. */
	raise(SIGUSR1);
	ts.tv_sec = 0;
	ts.tv_nsec = 10 * 1000000;
	got_signal = 0;
	CHECK_EQ(ppoll_mask_blocked_timeout, ppoll(&rp, 1, &ts, &set), 0);
	CHECK_EQ(ppoll_mask_blocked_no_handler, got_signal, 0);
	sigset_t pend;
	sigpending(&pend);
	CHECK_EQ(ppoll_mask_still_pending, sigismember(&pend, SIGUSR1), 1);
	/* Ready descriptors win over the signal the mask lets in, and then the old mask is
	 * back before the call returns: the signal stays pending. */
	got_signal = 0;
	CHECK_EQ(ppoll_ready_with_signal, ppoll(&wp, 1, NULL, &open_mask), 1);
	CHECK_EQ(ppoll_ready_no_handler, got_signal, 0);
	sigpending(&pend);
	CHECK_EQ(ppoll_ready_signal_pending, sigismember(&pend, SIGUSR1), 1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_EQ(ppoll_ready_mask_restored, sigismember(&cur, SIGUSR1), 1);
	got_signal = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	CHECK_EQ(ppoll_pending_delivered_on_unblock, got_signal, 1);

	/* select. */
	fd_set rs, ws, es;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &rs);
	FD_SET(p[1], &ws);
	FD_SET(p[0], &es);
	struct timeval tv = {0, 0};
	int nfds = (p[0] > p[1] ? p[0] : p[1]) + 1;
	CHECK_EQ(select_count, select(nfds, &rs, &ws, &es, &tv), 1);
	CHECK_TRUE(select_read_cleared, !FD_ISSET(p[0], &rs) && !FD_ISSET(p[1], &rs));
	CHECK_TRUE(select_write_set, FD_ISSET(p[1], &ws));
	CHECK_TRUE(select_except_cleared, !FD_ISSET(p[0], &es));
	write(p[1], "x", 1);
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	FD_SET(reg, &rs);
	FD_SET(reg, &ws);
	nfds = (reg > nfds - 1 ? reg : nfds - 1) + 1;
	CHECK_EQ(select_counts_each_set, select(nfds, &rs, &ws, NULL, &tv), 4);
	read(p[0], buf, sizeof buf);
	/* The time left is written back: zero after a timeout. */
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	tv.tv_sec = 0;
	tv.tv_usec = 30000;
	t0 = now_ms();
	CHECK_EQ(select_timeout, select(p[0] + 1, &rs, NULL, NULL, &tv), 0);
	CHECK_TRUE(select_timeout_waited, now_ms() - t0 >= 25);
	CHECK_TRUE(select_timeout_left_zero, tv.tv_sec == 0 && tv.tv_usec == 0);
	CHECK_TRUE(select_timeout_set_cleared, !FD_ISSET(p[0], &rs));
	/* A timeout with tv_usec of a million or more is normalized, not refused. */
	FD_ZERO(&ws);
	FD_SET(p[1], &ws);
	tv.tv_sec = 0;
	tv.tv_usec = 2500000;
	CHECK_EQ(select_usec_normalized, select(p[1] + 1, NULL, &ws, NULL, &tv), 1);
	CHECK_TRUE(select_usec_time_left, tv.tv_sec == 2 && tv.tv_usec <= 500000 && tv.tv_usec > 400000);
	tv.tv_sec = 0;
	tv.tv_usec = -1;
	CHECK_ERR(select_negative_usec, select(p[1] + 1, NULL, &ws, NULL, &tv), EINVAL);
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	CHECK_ERR(select_negative_sec, select(p[1] + 1, NULL, &ws, NULL, &tv), EINVAL);
	CHECK_ERR(select_timeout_efault, syscall(SYS_select, p[1] + 1, NULL, &ws, NULL, BADPTR), EFAULT);
	CHECK_ERR(select_negative_nfds, select(-1, NULL, NULL, NULL, NULL), EINVAL);
	CHECK_ERR(select_set_efault, select(p[1] + 1, BADPTR, NULL, NULL, NULL), EFAULT);
	int closed = dup(0);
	close(closed);
	FD_ZERO(&rs);
	FD_SET(closed, &rs);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	CHECK_ERR(select_closed_fd_ebadf, select(closed + 1, &rs, NULL, NULL, &tv), EBADF);
	/* Bits at or past nfds are ignored. */
	FD_ZERO(&rs);
	FD_SET(closed, &rs);
	CHECK_EQ(select_bits_past_nfds_ignored, select(closed, &rs, NULL, NULL, &tv), 0);
	CHECK_EQ(select_no_sets_timeout, select(0, NULL, NULL, NULL, &tv), 0);

	/* pselect: the mask swap. */
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	got_signal = 0;
	CHECK_ERR(pselect_mask_eintr, pselect(p[0] + 1, &rs, NULL, NULL, &ts, &open_mask), EINTR);
	CHECK_EQ(pselect_mask_handler_ran, got_signal, 1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_EQ(pselect_mask_restored, sigismember(&cur, SIGUSR1), 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* pselect6's sixth argument: {sigset *, size}. */
	struct {
		sigset_t *ss;
		size_t len;
	} pack = {&set, 4};
	struct timespec zero = {0, 0};
	CHECK_ERR(pselect6_bad_sigsetsize, syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, &pack), EINVAL);
	CHECK_ERR(pselect6_pack_efault, syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, BADPTR), EFAULT);
	pack.ss = NULL;
	CHECK_EQ(pselect6_null_mask, syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, &pack), 0);
	ts.tv_sec = 0;
	ts.tv_nsec = 20 * 1000000;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	CHECK_EQ(pselect6_timeout, syscall(SYS_pselect6, p[0] + 1, &rs, NULL, NULL, &ts, NULL), 0);
	CHECK_TRUE(pselect6_time_left_zero, ts.tv_sec == 0 && ts.tv_nsec == 0);
	ts.tv_nsec = -1;
	CHECK_ERR(pselect6_bad_timespec, syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, NULL), EINVAL);

	close(p[0]);
	close(p[1]);
	close(reg);
	return check_done();
}

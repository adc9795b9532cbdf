/* epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2 in one
 * process: level- and edge-triggered and one-shot entries, POLLHUP/POLLERR, files closed
 * while watched, nesting, argument errors, the epoll fd itself. */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

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

static int add(int ep, int fd, unsigned events, unsigned long data) {
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, unsigned events, unsigned long data) {
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* harvest waits with a zero timeout and returns the count; events in evs. */
static struct epoll_event evs[16];
static int harvest(int ep) { return epoll_wait(ep, evs, 16, 0); }

int main(void) {
	char buf[64];
	int p[2], q[2];

	/* Creation. */
	CHECK_ERR(create_zero_einval, epoll_create(0), EINVAL);
	CHECK_ERR(create_negative_einval, epoll_create(-1), EINVAL);
	int ep0 = CHECK_OK(create_one, epoll_create(1));
	CHECK_EQ(create_no_cloexec, fcntl(ep0, F_GETFD), 0);
	close(ep0);
	CHECK_ERR(create1_bad_flag, epoll_create1(1), EINVAL);
	int ep = CHECK_OK(create1_cloexec, epoll_create1(EPOLL_CLOEXEC));
	CHECK_EQ(create1_cloexec_set, fcntl(ep, F_GETFD), FD_CLOEXEC);
	CHECK_EQ(epoll_flags, fcntl(ep, F_GETFL), O_RDWR);
	struct stat st;
	CHECK_OK(epoll_fstat, fstat(ep, &st));
	CHECK_EQ(epoll_fstat_mode, st.st_mode, 0600);
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", ep);
	long ln = readlink(path, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	CHECK_STR(epoll_proc_link, link, "anon_inode:[eventpoll]");
	CHECK_ERR(epoll_read_einval, read(ep, buf, sizeof buf), EINVAL);
	CHECK_ERR(epoll_write_einval, write(ep, buf, 8), EINVAL);
	CHECK_EQ(epoll_lseek_noop, lseek(ep, 10, SEEK_SET), 0);

	/* epoll_ctl errors. */
	pipe2(p, O_NONBLOCK);
	int reg = open(scratch_path("reg"), O_CREAT | O_RDWR, 0600);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	int closed = 999; /* not open */
	CHECK_OK(ctl_add, add(ep, p[0], EPOLLIN, 1));
	CHECK_ERR(ctl_add_twice_eexist, add(ep, p[0], EPOLLIN, 1), EEXIST);
	CHECK_ERR(ctl_mod_missing_enoent, mod(ep, p[1], EPOLLOUT, 2), ENOENT);
	CHECK_ERR(ctl_del_missing_enoent, epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
	CHECK_ERR(ctl_regular_file_eperm, add(ep, reg, EPOLLIN, 3), EPERM);
	CHECK_ERR(ctl_directory_eperm, add(ep, dir, EPOLLIN, 3), EPERM);
	CHECK_ERR(ctl_self_einval, add(ep, ep, EPOLLIN, 3), EINVAL);
	CHECK_ERR(ctl_not_epoll_einval, add(p[1], p[0], EPOLLIN, 3), EINVAL);
	CHECK_ERR(ctl_bad_epfd_ebadf, add(closed, p[0], EPOLLIN, 3), EBADF);
	CHECK_ERR(ctl_bad_fd_ebadf, add(ep, closed, EPOLLIN, 3), EBADF);
	CHECK_ERR(ctl_event_efault, epoll_ctl(ep, EPOLL_CTL_ADD, p[1], BADPTR), EFAULT);
	CHECK_ERR(ctl_bad_op_einval, epoll_ctl(ep, 99, p[1], &(struct epoll_event){0}), EINVAL);
	CHECK_ERR(ctl_exclusive_oneshot_einval, add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 3), EINVAL);
	int inner = epoll_create1(0);
	CHECK_ERR(ctl_exclusive_epoll_einval, add(ep, inner, EPOLLIN | EPOLLEXCLUSIVE, 3), EINVAL);
	CHECK_OK(ctl_exclusive_ok, add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 2));
	CHECK_ERR(ctl_mod_exclusive_einval, mod(ep, p[1], EPOLLOUT, 2), EINVAL);
	CHECK_OK(ctl_del_null_event, epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));

	/* epoll_wait errors. */
	CHECK_ERR(wait_zero_maxevents, epoll_wait(ep, evs, 0, 0), EINVAL);
	CHECK_ERR(wait_negative_maxevents, syscall(SYS_epoll_wait, ep, evs, -1, 0), EINVAL);
	CHECK_ERR(wait_bad_epfd, epoll_wait(closed, evs, 1, 0), EBADF);
	CHECK_ERR(wait_not_epoll, epoll_wait(p[0], evs, 1, 0), EINVAL);
	CHECK_ERR(wait_kernel_address_efault, epoll_wait(ep, (void *)0xffffffffff600000ul, 1, 0), EFAULT);

	/* Level-triggered: reported while ready. */
	CHECK_EQ(lt_empty, harvest(ep), 0);
	write(p[1], "x", 1);
	CHECK_EQ(lt_ready, harvest(ep), 1);
	CHECK_TRUE(lt_event, evs[0].events == EPOLLIN && evs[0].data.u64 == 1);
	CHECK_EQ(lt_again, harvest(ep), 1);
	CHECK_ERR(wait_copy_efault, syscall(SYS_epoll_wait, ep, BADPTR, 1, 0), EFAULT);
	read(p[0], buf, sizeof buf);
	CHECK_EQ(lt_drained, harvest(ep), 0);

	/* Edge-triggered: once per change. */
	CHECK_OK(et_mod, mod(ep, p[0], EPOLLIN | EPOLLET, 11));
	write(p[1], "x", 1);
	CHECK_EQ(et_first, harvest(ep), 1);
	CHECK_EQ(et_data, evs[0].data.u64, 11);
	CHECK_EQ(et_not_again, harvest(ep), 0);
	write(p[1], "y", 1);
	CHECK_EQ(et_new_data, harvest(ep), 1);
	read(p[0], buf, sizeof buf);

	/* One-shot: once, then disabled until EPOLL_CTL_MOD. */
	CHECK_OK(oneshot_mod, mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 12));
	write(p[1], "x", 1);
	CHECK_EQ(oneshot_first, harvest(ep), 1);
	CHECK_EQ(oneshot_disabled, harvest(ep), 0);
	write(p[1], "y", 1);
	CHECK_EQ(oneshot_still_disabled, harvest(ep), 0);
	CHECK_OK(oneshot_rearm, mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 13));
	CHECK_EQ(oneshot_rearmed, harvest(ep), 1);
	CHECK_EQ(oneshot_rearmed_data, evs[0].data.u64, 13);
	read(p[0], buf, sizeof buf);
	CHECK_OK(back_to_lt, mod(ep, p[0], EPOLLIN, 1));

	/* maxevents: the rest waits for the next call. */
	CHECK_OK(add_write_end, add(ep, p[1], EPOLLOUT, 2));
	write(p[1], "x", 1);
	struct epoll_event one[1];
	CHECK_EQ(maxevents_one, epoll_wait(ep, one, 1, 0), 1);
	unsigned long first = one[0].data.u64;
	CHECK_EQ(maxevents_one_again, epoll_wait(ep, one, 1, 0), 1);
	CHECK_TRUE(maxevents_round_robin, one[0].data.u64 != first);
	read(p[0], buf, sizeof buf);

	/* POLLHUP and POLLERR are always reported. */
	pipe2(q, O_NONBLOCK);
	add(ep, q[0], EPOLLIN, 21);
	add(ep, q[1], EPOLLOUT, 22);
	epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	CHECK_EQ(hup_err_writable_only, harvest(ep), 1);
	close(q[1]);
	CHECK_EQ(hup_reported, harvest(ep), 1);
	CHECK_TRUE(hup_event, evs[0].events == EPOLLHUP && evs[0].data.u64 == 21);
	pipe2(q, O_NONBLOCK);
	add(ep, q[1], 0, 23);
	close(q[0]);
	int n = harvest(ep);
	int err_seen = 0;
	for (int i = 0; i < n; i++)
		if (evs[i].data.u64 == 23)
			err_seen = evs[i].events == EPOLLERR;
	CHECK_TRUE(err_reported_without_asking, err_seen);
	close(q[1]);

	/* Closing a file removes it; a duplicate keeps it (the entry is the description's). */
	int ep2 = epoll_create1(0);
	pipe2(q, O_NONBLOCK);
	write(q[1], "x", 1);
	add(ep2, q[0], EPOLLIN, 31);
	CHECK_EQ(before_close, harvest(ep2), 1);
	int dupfd = dup(q[0]);
	close(q[0]);
	CHECK_EQ(closed_but_duplicated, harvest(ep2), 1);
	CHECK_EQ(closed_but_duplicated_data, evs[0].data.u64, 31);
	CHECK_ERR(closed_fd_ctl_ebadf, epoll_ctl(ep2, EPOLL_CTL_DEL, q[0], NULL), EBADF);
	close(dupfd);
	CHECK_EQ(closed_removed, harvest(ep2), 0);
	/* Watching a write end does not keep the pipe open for the reader. */
	add(ep2, q[1], EPOLLOUT, 32);
	close(q[1]);
	CHECK_EQ(watched_write_end_closed, harvest(ep2), 0);
	close(ep2);

	/* Timeouts. */
	pipe2(q, O_NONBLOCK);
	ep2 = epoll_create1(0);
	add(ep2, q[0], EPOLLIN, 41);
	long t0 = now_ms();
	CHECK_EQ(wait_timeout, epoll_wait(ep2, evs, 16, 50), 0);
	CHECK_TRUE(wait_timeout_waited, now_ms() - t0 >= 45);
	struct timespec ts = {0, 20 * 1000000};
	CHECK_EQ(pwait2_timeout, syscall(SYS_epoll_pwait2, ep2, evs, 16, &ts, NULL, 8), 0);
	ts.tv_nsec = 1000000000;
	CHECK_ERR(pwait2_bad_timespec, syscall(SYS_epoll_pwait2, ep2, evs, 16, &ts, NULL, 8), EINVAL);
	CHECK_ERR(pwait2_timespec_efault, syscall(SYS_epoll_pwait2, ep2, evs, 16, BADPTR, NULL, 8), EFAULT);
	write(q[1], "x", 1);
	CHECK_EQ(pwait2_no_timeout, syscall(SYS_epoll_pwait2, ep2, evs, 16, NULL, NULL, 8), 1);
	sigset_t set, old, cur, open_mask;
	sigemptyset(&set);
	CHECK_ERR(pwait_bad_sigsetsize, syscall(SYS_epoll_pwait, ep2, evs, 16, 0, &set, 4), EINVAL);
	read(q[0], buf, sizeof buf);

	/* epoll_pwait's mask: a pending blocked signal it lets in interrupts it (EINTR,
	 * never restarted), the handler runs, the old mask is back. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	sigemptyset(&open_mask);
	got_signal = 0;
	CHECK_ERR(pwait_mask_eintr, epoll_pwait(ep2, evs, 16, 5000, &open_mask), EINTR);
	CHECK_EQ(pwait_mask_handler_ran, got_signal, 1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_EQ(pwait_mask_restored, sigismember(&cur, SIGUSR1), 1);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* Nesting: an epoll fd is readable when an entry of its is ready. */
	int outer = epoll_create1(0);
	CHECK_OK(nest_add, add(outer, ep2, EPOLLIN, 51));
	CHECK_EQ(nest_idle, harvest(outer), 0);
	struct pollfd pf = {ep2, POLLIN | POLLOUT, 0};
	CHECK_EQ(poll_epoll_idle, poll(&pf, 1, 0), 0);
	write(q[1], "x", 1);
	CHECK_EQ(nest_ready, harvest(outer), 1);
	CHECK_TRUE(nest_event, evs[0].events == EPOLLIN && evs[0].data.u64 == 51);
	CHECK_EQ(poll_epoll_ready, poll(&pf, 1, 0), 1);
	CHECK_EQ(poll_epoll_revents, pf.revents, POLLIN);
	CHECK_ERR(nest_loop_eloop, add(ep2, outer, EPOLLIN, 52), ELOOP);
	/* The deepest chain is five instances (four nestings). */
	int chain[6];
	for (int i = 0; i < 6; i++)
		chain[i] = epoll_create1(0);
	int depth_ok = 1;
	for (int i = 0; i < 4; i++)
		depth_ok &= add(chain[i], chain[i + 1], EPOLLIN, i) == 0;
	CHECK_TRUE(nest_depth_four, depth_ok);
	CHECK_ERR(nest_depth_five_eloop, add(chain[4], chain[5], EPOLLIN, 4), ELOOP);
	CHECK_ERR(nest_depth_above_eloop, add(chain[5], chain[0], EPOLLIN, 5), ELOOP);
	for (int i = 0; i < 6; i++)
		close(chain[i]);

	/* An eventfd in an epoll set. */
	int efd = eventfd(0, EFD_NONBLOCK);
	int ep3 = epoll_create1(0);
	add(ep3, efd, EPOLLIN | EPOLLET, 61);
	CHECK_EQ(eventfd_idle, harvest(ep3), 0);
	eventfd_write(efd, 2);
	CHECK_EQ(eventfd_ready, harvest(ep3), 1);
	CHECK_EQ(eventfd_data, evs[0].data.u64, 61);
	close(efd);
	close(ep3);

	close(outer);
	close(ep2);
	close(q[0]);
	close(q[1]);
	close(p[0]);
	close(p[1]);
	close(ep);
	close(inner);
	close(reg);
	close(dir);
	return check_done();
}

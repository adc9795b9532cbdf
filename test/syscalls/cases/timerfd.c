/* timerfd_create, timerfd_settime, timerfd_gettime: flags and clocks, one-shot, periodic
 * and absolute timers, the expiration count a read returns (and resets), non-blocking
 * reads, readiness for poll and epoll, a blocking read interrupted by a signal, and what
 * the file is (flags, lseek, pread, write, /proc/self/fd). */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int readable(int fd, int ms) {
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static struct itimerspec ms_spec(long value_ms, long interval_ms) {
	struct itimerspec its = {{interval_ms / 1000, (interval_ms % 1000) * 1000000}, {value_ms / 1000, (value_ms % 1000) * 1000000}};
	return its;
}

static void noop(int sig) { (void)sig; }

int main(void) {
	uint64_t v = 0;
	struct itimerspec its, old, cur;

	CHECK_ERR(create_bad_flags, timerfd_create(CLOCK_MONOTONIC, 0x10), EINVAL);
	CHECK_ERR(create_cpu_clock_einval, timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	CHECK_ERR(create_thread_cpu_clock_einval, timerfd_create(CLOCK_THREAD_CPUTIME_ID, 0), EINVAL);
	CHECK_ERR(create_raw_clock_einval, timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
	CHECK_ERR(create_bad_clock, timerfd_create(12345, 0), EINVAL);
	int rfd = CHECK_OK(create_realtime, timerfd_create(CLOCK_REALTIME, 0));
	int bfd = CHECK_OK(create_boottime, timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC));
	CHECK_EQ(cloexec_set, fcntl(bfd, F_GETFD), FD_CLOEXEC);
	int fd = CHECK_OK(create_monotonic, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	CHECK_EQ(flags_nonblock, fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK);
	CHECK_EQ(flags_blocking, fcntl(rfd, F_GETFL), O_RDWR);
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	long ln = readlink(path, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	CHECK_STR(proc_link, link, "anon_inode:[timerfd]");

	/* A new timer is disarmed: nothing to read. */
	CHECK_OK(gettime_new, timerfd_gettime(fd, &cur));
	CHECK_TRUE(gettime_new_zero, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 && cur.it_interval.tv_nsec == 0);
	CHECK_ERR(read_disarmed_eagain, read(fd, &v, 8), EAGAIN);
	CHECK_ERR(read_short_einval, read(fd, &v, 4), EINVAL);
	CHECK_EQ(not_readable_disarmed, readable(fd, 0), 0);

	/* One-shot. */
	its = ms_spec(20, 0);
	CHECK_OK(settime_oneshot, timerfd_settime(fd, 0, &its, NULL));
	timerfd_gettime(fd, &cur);
	CHECK_TRUE(gettime_counts_down, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000);
	CHECK_ERR(read_early_eagain, read(fd, &v, 8), EAGAIN);
	CHECK_EQ(poll_readable, readable(fd, 1000), 1);
	CHECK_EQ(read_oneshot, read(fd, &v, 8), 8);
	CHECK_EQ(read_oneshot_count, v, 1);
	CHECK_ERR(read_resets_count, read(fd, &v, 8), EAGAIN);
	timerfd_gettime(fd, &cur);
	CHECK_TRUE(gettime_expired_zero, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

	/* Periodic: the count is the expirations since the last read. */
	its = ms_spec(10, 10);
	timerfd_settime(fd, 0, &its, NULL);
	sleep_ms(105);
	CHECK_EQ(read_periodic, read(fd, &v, 8), 8);
	CHECK_TRUE(read_periodic_count, v >= 8 && v <= 11);
	CHECK_OK(gettime_periodic, timerfd_gettime(fd, &cur));
	CHECK_TRUE(gettime_periodic_interval, cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 10000000);
	CHECK_TRUE(gettime_periodic_value, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 10000000);
	/* Setting the timer again returns the old setting and forgets unread expirations. */
	sleep_ms(25);
	its = ms_spec(0, 0);
	CHECK_OK(settime_disarm, timerfd_settime(fd, 0, &its, &old));
	CHECK_TRUE(settime_old_value, old.it_interval.tv_nsec == 10000000 && old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 10000000);
	CHECK_ERR(settime_resets_count, read(fd, &v, 8), EAGAIN);
	timerfd_gettime(fd, &cur);
	CHECK_TRUE(disarmed_zero, cur.it_value.tv_nsec == 0 && cur.it_interval.tv_nsec == 0);

	/* Absolute, in the future and in the past. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	its = ms_spec(0, 0);
	its.it_value = now;
	its.it_value.tv_nsec += 20000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	CHECK_OK(settime_abs, timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
	CHECK_ERR(settime_abs_not_yet, read(fd, &v, 8), EAGAIN);
	CHECK_EQ(settime_abs_fires, readable(fd, 1000), 1);
	read(fd, &v, 8);
	CHECK_EQ(settime_abs_count, v, 1);
	its.it_value.tv_sec = now.tv_sec - 1;
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	CHECK_EQ(settime_abs_past_fires, readable(fd, 1000), 1);
	/* Past with an interval: every interval since counts. */
	its.it_interval.tv_nsec = 100000000;
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	readable(fd, 1000);
	read(fd, &v, 8);
	CHECK_TRUE(settime_abs_past_periodic_count, v >= 10 && v <= 13);
	its = ms_spec(0, 0);
	timerfd_settime(fd, 0, &its, NULL);
	/* CLOCK_REALTIME, absolute, with TFD_TIMER_CANCEL_ON_SET. */
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value = now;
	CHECK_OK(settime_realtime_cancel_on_set, timerfd_settime(rfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
	CHECK_EQ(read_realtime, read(rfd, &v, 8), 8);

	/* epoll. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out;
	CHECK_OK(epoll_add, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK_EQ(epoll_none_yet, epoll_wait(ep, &out, 1, 0), 0);
	its = ms_spec(20, 0);
	timerfd_settime(fd, 0, &its, NULL);
	long t0 = now_ms();
	CHECK_EQ(epoll_wakes, epoll_wait(ep, &out, 1, 2000), 1);
	CHECK_TRUE(epoll_after_timeout, now_ms() - t0 >= 15);
	CHECK_TRUE(epoll_event, out.events == EPOLLIN && out.data.fd == fd);
	read(fd, &v, 8);
	close(ep);

	/* A blocking read waits, and is interrupted by a handled signal. */
	its = ms_spec(30, 0);
	timerfd_settime(rfd, 0, &its, NULL);
	t0 = now_ms();
	CHECK_EQ(blocking_read, read(rfd, &v, 8), 8);
	CHECK_TRUE(blocking_read_waited, now_ms() - t0 >= 25 && v == 1);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop;
	sigaction(SIGALRM, &sa, NULL);
	its = ms_spec(10000, 0);
	timerfd_settime(rfd, 0, &its, NULL);
	struct itimerval it = {{0, 0}, {0, 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_ERR(blocking_read_eintr, read(rfd, &v, 8), EINTR);
	/* With SA_RESTART the read goes on until the timer expires. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	its = ms_spec(80, 0);
	timerfd_settime(rfd, 0, &its, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_EQ(blocking_read_restarted, read(rfd, &v, 8), 8);

	/* Errors. */
	its = ms_spec(0, 0);
	CHECK_ERR(settime_bad_flags, timerfd_settime(fd, 4, &its, NULL), EINVAL);
	CHECK_ERR(settime_not_timerfd, timerfd_settime(0, 0, &its, NULL), EINVAL);
	CHECK_ERR(settime_ebadf, timerfd_settime(999, 0, &its, NULL), EBADF);
	CHECK_ERR(gettime_ebadf, timerfd_gettime(999, &cur), EBADF);
	CHECK_ERR(gettime_not_timerfd, timerfd_gettime(0, &cur), EINVAL);
	CHECK_ERR(settime_new_efault, syscall(SYS_timerfd_settime, fd, 0, BADPTR, NULL), EFAULT);
	CHECK_ERR(settime_null_efault, syscall(SYS_timerfd_settime, fd, 0, NULL, NULL), EFAULT);
	CHECK_ERR(settime_old_efault, syscall(SYS_timerfd_settime, fd, 0, &its, BADPTR), EFAULT);
	CHECK_ERR(gettime_efault, syscall(SYS_timerfd_gettime, fd, BADPTR), EFAULT);
	its.it_value.tv_nsec = 1000000000;
	CHECK_ERR(settime_bad_nsec, timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_sec = -1;
	CHECK_ERR(settime_negative, timerfd_settime(fd, 0, &its, NULL), EINVAL);
	CHECK_ERR(write_einval, write(fd, &v, 8), EINVAL);
	CHECK_EQ(lseek_noop, lseek(fd, 0, SEEK_SET), 0);
	CHECK_ERR(pread_espipe, pread(fd, &v, 8, 0), ESPIPE);

	/* A forked child shares the file and sees its expirations. */
	its = ms_spec(10, 0);
	timerfd_settime(fd, 0, &its, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(readable(fd, 2000) && read(fd, &v, 8) == 8 && v == 1 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE(fork_shares_timer, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	close(rfd);
	close(bfd);
	return check_done();
}

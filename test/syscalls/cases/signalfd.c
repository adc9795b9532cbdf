/* signalfd, signalfd4: flags and errors, reads of struct signalfd_siginfo (kill, raise,
 * sigqueue, SIGCHLD, tgkill to another thread), the mask update through the fd, and
 * readiness through poll and epoll, woken by a signal sent while waiting. */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static int readable(int fd) {
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

static int pending(int sig) {
	sigset_t s;
	sigpending(&s);
	return sigismember(&s, sig);
}

static sigset_t one(int sig) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	return s;
}

/* A child that sends sig to its parent after a short sleep, while the parent waits. */
static pid_t later(int sig) {
	pid_t p = fork();
	if (p == 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		kill(getppid(), sig);
		_exit(0);
	}
	return p;
}

static void reap(pid_t p) {
	waitpid(p, NULL, 0);
	/* Drop the SIGCHLD it left pending (blocked). */
	sigset_t s = one(SIGCHLD);
	struct timespec zero = {0, 0};
	sigtimedwait(&s, NULL, &zero);
}

static volatile int alarmed;
static void on_alarm(int sig) { alarmed = 1; }

static int tfd;
static volatile pid_t thread_tid;
static volatile int thread_go;
static struct signalfd_siginfo thread_si;
static long thread_ret;

static void *thread_main(void *arg) {
	thread_tid = gettid();
	while (!thread_go)
		sched_yield();
	thread_ret = read(tfd, &thread_si, sizeof thread_si);
	return NULL;
}

int main(void) {
	struct signalfd_siginfo si, many[3];
	char small[127];

	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGRTMIN);
	CHECK_OK(block_signals, sigprocmask(SIG_BLOCK, &block, NULL));

	sigset_t m = one(SIGUSR1);
	CHECK_ERR(bad_flags, signalfd(-1, &m, 0x1234), EINVAL);
	CHECK_ERR(bad_flag_append, signalfd(-1, &m, O_APPEND), EINVAL);
	CHECK_ERR(bad_sizemask, syscall(SYS_signalfd4, -1, &m, 4, 0), EINVAL);
	CHECK_ERR(bad_sizemask_16, syscall(SYS_signalfd4, -1, &m, 16, 0), EINVAL);
	CHECK_ERR(old_bad_sizemask, syscall(SYS_signalfd, -1, &m, 4), EINVAL);
	CHECK_ERR(mask_efault, syscall(SYS_signalfd4, -1, BADPTR, 8, 0), EFAULT);
	CHECK_ERR(bad_fd, signalfd(1000, &m, 0), EBADF);
	int p[2];
	pipe(p);
	CHECK_ERR(not_signalfd, signalfd(p[0], &m, 0), EINVAL);
	close(p[0]);
	close(p[1]);

	int old = CHECK_OK(create_old, syscall(SYS_signalfd, -1, &m, 8));
	CHECK_EQ(old_flags, fcntl(old, F_GETFL), O_RDWR);
	CHECK_EQ(old_no_cloexec, fcntl(old, F_GETFD), 0);
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", old);
	long ln = readlink(path, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	CHECK_STR(proc_link, link, "anon_inode:[signalfd]");
	close(old);

	int fd = CHECK_OK(create, signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
	CHECK_EQ(nonblock_flags, fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK);
	CHECK_EQ(cloexec, fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_ERR(empty_eagain, read(fd, &si, sizeof si), EAGAIN);
	CHECK_ERR(small_empty_einval, read(fd, small, sizeof small), EINVAL);
	CHECK_EQ(poll_empty, readable(fd), 0);

	/* kill: SI_USER with our pid and uid; the signal is consumed. */
	kill(getpid(), SIGUSR1);
	CHECK_EQ(pending_before, pending(SIGUSR1), 1);
	CHECK_EQ(poll_ready, readable(fd), POLLIN);
	CHECK_ERR(small_einval, read(fd, small, sizeof small), EINVAL);
	CHECK_EQ(read_kill, read(fd, &si, sizeof si), sizeof si);
	CHECK_EQ(sizeof_siginfo, sizeof si, 128);
	CHECK_EQ(kill_signo, si.ssi_signo, SIGUSR1);
	CHECK_EQ(kill_code, si.ssi_code, SI_USER);
	CHECK_EQ(kill_pid, si.ssi_pid, getpid());
	CHECK_EQ(kill_uid, si.ssi_uid, getuid());
	CHECK_EQ(kill_errno, si.ssi_errno, 0);
	CHECK_EQ(consumed, pending(SIGUSR1), 0);
	CHECK_EQ(poll_after_read, readable(fd), 0);
	CHECK_ERR(drained_eagain, read(fd, &si, sizeof si), EAGAIN);

	/* raise is tgkill: SI_TKILL. */
	raise(SIGUSR1);
	CHECK_EQ(read_raise, read(fd, &si, sizeof si), sizeof si);
	CHECK_EQ(raise_signo, si.ssi_signo, SIGUSR1);
	CHECK_EQ(raise_code, si.ssi_code, SI_TKILL);
	CHECK_EQ(raise_pid, si.ssi_pid, getpid());
	CHECK_EQ(raise_uid, si.ssi_uid, getuid());

	/* A signal outside the mask is neither readable nor taken. */
	kill(getpid(), SIGUSR2);
	CHECK_EQ(other_not_ready, readable(fd), 0);
	CHECK_ERR(other_eagain, read(fd, &si, sizeof si), EAGAIN);
	CHECK_EQ(other_still_pending, pending(SIGUSR2), 1);

	/* The mask is replaced through the fd; SIGKILL and SIGSTOP are dropped silently. */
	sigset_t m2;
	sigemptyset(&m2);
	sigaddset(&m2, SIGUSR1);
	sigaddset(&m2, SIGUSR2);
	sigaddset(&m2, SIGRTMIN);
	sigaddset(&m2, SIGKILL);
	sigaddset(&m2, SIGSTOP);
	CHECK_EQ(update_mask, signalfd(fd, &m2, 0), fd);
	CHECK_EQ(update_keeps_nonblock, fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK);
	CHECK_EQ(update_ready, readable(fd), POLLIN);
	CHECK_EQ(read_updated, read(fd, &si, sizeof si), sizeof si);
	CHECK_EQ(updated_signo, si.ssi_signo, SIGUSR2);
	CHECK_ERR(update_bad_flags, signalfd(fd, &m2, 0x1234), EINVAL);

	/* Several signals in one read, lowest first; only whole records fit. */
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	CHECK_EQ(read_two, read(fd, many, sizeof many), 2 * sizeof si);
	CHECK_EQ(two_first, many[0].ssi_signo, SIGUSR1);
	CHECK_EQ(two_second, many[1].ssi_signo, SIGUSR2);
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	CHECK_EQ(read_one_of_two, read(fd, many, sizeof si + 100), sizeof si);
	CHECK_EQ(one_of_two, many[0].ssi_signo, SIGUSR1);
	CHECK_EQ(rest_pending, pending(SIGUSR2), 1);
	CHECK_EQ(read_rest, read(fd, &si, sizeof si), sizeof si);

	/* sigqueue: SI_QUEUE with the value; real-time signals queue twice. */
	union sigval v = {.sival_int = 42};
	CHECK_OK(sigqueue_ok, sigqueue(getpid(), SIGRTMIN, v));
	v.sival_int = 43;
	sigqueue(getpid(), SIGRTMIN, v);
	CHECK_EQ(read_queued, read(fd, many, sizeof many), 2 * sizeof si);
	CHECK_EQ(queue_signo, many[0].ssi_signo, SIGRTMIN);
	CHECK_EQ(queue_code, many[0].ssi_code, SI_QUEUE);
	CHECK_EQ(queue_int, many[0].ssi_int, 42);
	CHECK_EQ(queue_ptr, (int)many[0].ssi_ptr, 42);
	CHECK_EQ(queue_pid, many[0].ssi_pid, getpid());
	CHECK_EQ(queue_uid, many[0].ssi_uid, getuid());
	CHECK_EQ(queue_second_int, many[1].ssi_int, 43);
	close(fd);

	/* SIGCHLD: the child's pid, CLD_EXITED and its exit status. */
	sigset_t mc = one(SIGCHLD);
	int cfd = CHECK_OK(create_chld, signalfd(-1, &mc, 0));
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	CHECK_EQ(read_chld, read(cfd, &si, sizeof si), sizeof si);
	CHECK_EQ(chld_signo, si.ssi_signo, SIGCHLD);
	CHECK_EQ(chld_code, si.ssi_code, CLD_EXITED);
	CHECK_EQ(chld_pid, si.ssi_pid, child);
	CHECK_EQ(chld_status, si.ssi_status, 7);
	CHECK_EQ(chld_uid, si.ssi_uid, getuid());
	waitpid(child, NULL, 0);
	close(cfd);

	/* A blocking read waits for a signal sent later, by another process. */
	fd = CHECK_OK(create_blocking, signalfd(-1, &m, 0));
	child = later(SIGUSR1);
	CHECK_EQ(blocking_read, read(fd, &si, sizeof si), sizeof si);
	CHECK_EQ(blocking_signo, si.ssi_signo, SIGUSR1);
	CHECK_EQ(blocking_pid, si.ssi_pid, child);
	reap(child);

	/* poll and epoll wait for a signal sent later. */
	child = later(SIGUSR1);
	struct pollfd pf = {fd, POLLIN, 0};
	CHECK_EQ(poll_wait, poll(&pf, 1, 5000), 1);
	CHECK_EQ(poll_wait_revents, pf.revents, POLLIN);
	CHECK_EQ(poll_wait_read, read(fd, &si, sizeof si), sizeof si);
	reap(child);

	int ep = CHECK_OK(epoll_create, epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out[2];
	CHECK_OK(epoll_add, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK_EQ(epoll_empty, epoll_wait(ep, out, 2, 0), 0);
	kill(getpid(), SIGUSR1);
	CHECK_EQ(epoll_ready, epoll_wait(ep, out, 2, 0), 1);
	CHECK_EQ(epoll_ready_events, out[0].events, EPOLLIN);
	read(fd, &si, sizeof si);
	CHECK_EQ(epoll_after_read, epoll_wait(ep, out, 2, 0), 0);
	child = later(SIGUSR1);
	CHECK_EQ(epoll_wait_later, epoll_wait(ep, out, 2, 5000), 1);
	CHECK_EQ(epoll_wait_fd, out[0].data.fd, fd);
	read(fd, &si, sizeof si);
	reap(child);
	/* Edge-triggered: one event per signal queued. */
	ev.events = EPOLLIN | EPOLLET;
	CHECK_OK(epoll_mod_et, epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
	CHECK_EQ(epoll_et_empty, epoll_wait(ep, out, 2, 0), 0);
	kill(getpid(), SIGUSR1);
	CHECK_EQ(epoll_et_ready, epoll_wait(ep, out, 2, 0), 1);
	CHECK_EQ(epoll_et_once, epoll_wait(ep, out, 2, 0), 0);
	read(fd, &si, sizeof si);
	close(ep);

	/* A blocking read is interrupted by a handled signal outside the mask. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50 * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_ERR(read_eintr, read(fd, &si, sizeof si), EINTR);
	CHECK_EQ(alarm_ran, alarmed, 1);
	close(fd);

	/* A thread-directed signal is pending for that thread only: the other thread reads it. */
	tfd = CHECK_OK(create_thread_fd, signalfd(-1, &m, SFD_NONBLOCK));
	pthread_t th;
	pthread_create(&th, NULL, thread_main, NULL);
	while (!thread_tid)
		sched_yield();
	CHECK_OK(tgkill_ok, syscall(SYS_tgkill, getpid(), thread_tid, SIGUSR1));
	CHECK_EQ(not_for_main, pending(SIGUSR1), 0);
	CHECK_ERR(main_eagain, read(tfd, &si, sizeof si), EAGAIN);
	CHECK_EQ(main_not_ready, readable(tfd), 0);
	thread_go = 1;
	pthread_join(th, NULL);
	CHECK_EQ(thread_read, thread_ret, sizeof si);
	CHECK_EQ(thread_signo, thread_si.ssi_signo, SIGUSR1);
	CHECK_EQ(thread_code, thread_si.ssi_code, SI_TKILL);
	CHECK_EQ(thread_pid, thread_si.ssi_pid, getpid());
	/* tgkill to this thread: read here. */
	syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
	CHECK_EQ(self_tgkill_ready, readable(tfd), POLLIN);
	CHECK_EQ(self_tgkill_read, read(tfd, &si, sizeof si), sizeof si);
	CHECK_EQ(self_tgkill_code, si.ssi_code, SI_TKILL);
	close(tfd);

	return check_done();
}

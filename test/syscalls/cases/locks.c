/* File locks: fcntl record locks (POSIX and OFD) and flock, across processes. */
#include "check.h"
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &fl) < 0)
		fl.l_type = -1;
	return fl;
}

/* in_child runs fn in a child process and returns its exit status (or -1). */
static int in_child(int (*fn)(int), int arg) {
	pid_t p = fork();
	if (p == 0)
		_exit(fn(arg));
	int st = 0;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *path;

/* child_try: can another process write-lock [arg, arg+1)? 0 yes, 1 EAGAIN, 2 other. */
static int child_try(int start) {
	int fd = open(path, O_RDWR);
	int r = setlk(fd, F_SETLK, F_WRLCK, start, 1);
	if (r == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? 1 : 2;
}

static int child_getlk_pid(int start) {
	int fd = open(path, O_RDWR);
	struct flock fl = getlk(fd, F_GETLK, F_WRLCK, start, 1);
	return fl.l_type == F_WRLCK && fl.l_pid == getppid() && fl.l_start == 0 && fl.l_len == 10 ? 0 : 1;
}

static int child_flock_nb(int ex) {
	int fd = open(path, O_RDWR);
	int r = flock(fd, (ex ? LOCK_EX : LOCK_SH) | LOCK_NB);
	if (r == 0)
		return 0;
	return errno == EWOULDBLOCK ? 1 : 2;
}

int main(void) {
	path = scratch_path("lockfile");
	CHECK_OK(create, write_file(path, "0123456789abcdefghij"));
	int fd = CHECK_OK(open, open(path, O_RDWR));

	/* POSIX locks: a write lock on [0,10) keeps others out of it only. */
	CHECK_OK(setlk_write, setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	CHECK_EQ(other_blocked_in_range, in_child(child_try, 5), 1);
	CHECK_EQ(other_free_out_of_range, in_child(child_try, 15), 0);
	CHECK_EQ(getlk_reports_owner, in_child(child_getlk_pid, 3), 0);
	struct flock fl = getlk(fd, F_GETLK, F_WRLCK, 0, 10);
	CHECK_EQ(getlk_own_lock_unlck, fl.l_type, F_UNLCK);
	/* Unlocking the middle splits the lock. */
	CHECK_OK(unlock_middle, setlk(fd, F_SETLK, F_UNLCK, 4, 2));
	CHECK_EQ(split_hole_free, in_child(child_try, 4), 0);
	CHECK_EQ(split_head_held, in_child(child_try, 3), 1);
	CHECK_EQ(split_tail_held, in_child(child_try, 7), 1);
	/* Closing any descriptor of the file drops the process's locks. */
	int fd2 = open(path, O_RDONLY);
	close(fd2);
	CHECK_EQ(close_other_fd_releases, in_child(child_try, 3), 0);

	/* Read locks share; a child does not inherit its parent's POSIX locks. */
	CHECK_OK(setlk_read, setlk(fd, F_SETLK, F_RDLCK, 0, 0));
	CHECK_EQ(write_vs_read_blocked, in_child(child_try, 100), 1);
	CHECK_OK(unlock_all, setlk(fd, F_SETLK, F_UNLCK, 0, 0));

	/* Errors. */
	int ro = open(path, O_RDONLY);
	CHECK_ERR(write_lock_on_rdonly, setlk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
	CHECK_OK(read_lock_on_rdonly, setlk(ro, F_SETLK, F_RDLCK, 0, 1));
	close(ro);
	CHECK_ERR(bad_type, setlk(fd, F_SETLK, 7, 0, 1), EINVAL);
	struct flock bad = {.l_type = F_RDLCK, .l_whence = 5};
	CHECK_ERR(bad_whence, fcntl(fd, F_SETLK, &bad), EINVAL);
	CHECK_ERR(negative_start, setlk(fd, F_SETLK, F_RDLCK, -1, 1), EINVAL);
	CHECK_ERR(bad_pointer, fcntl(fd, F_SETLK, BADPTR), EFAULT);
	struct flock neg = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = -5};
	CHECK_OK(negative_len, fcntl(fd, F_SETLK, &neg));
	CHECK_EQ(negative_len_covers_before, in_child(child_try, 6), 1);
	CHECK_EQ(negative_len_excludes_start, in_child(child_try, 10), 0);
	setlk(fd, F_SETLK, F_UNLCK, 0, 0);

	/* F_SETLKW waits for the lock to go. */
	int go[2], done[2];
	pipe(go);
	pipe(done);
	CHECK_OK(lock_for_wait, setlk(fd, F_SETLK, F_WRLCK, 0, 1));
	pid_t p = fork();
	if (p == 0) {
		int cfd = open(path, O_RDWR);
		write(go[1], "g", 1);
		int r = setlk(cfd, F_SETLKW, F_WRLCK, 0, 1);
		write(done[1], "d", 1);
		_exit(r == 0 ? 0 : 1);
	}
	char c;
	read(go[0], &c, 1);
	usleep(50000);
	CHECK_OK(unlock_wakes_waiter, setlk(fd, F_SETLK, F_UNLCK, 0, 1));
	CHECK_EQ(waiter_done, read(done[0], &c, 1), 1);
	int st = 0;
	waitpid(p, &st, 0);
	CHECK_EQ(waiter_got_lock, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);

	/* Deadlock: we hold 0, the child holds 1 and waits for 0; we ask for 1. */
	CHECK_OK(lock0, setlk(fd, F_SETLK, F_WRLCK, 0, 1));
	p = fork();
	if (p == 0) {
		int cfd = open(path, O_RDWR);
		setlk(cfd, F_SETLK, F_WRLCK, 1, 1);
		write(go[1], "g", 1);
		int r = setlk(cfd, F_SETLKW, F_WRLCK, 0, 1);
		_exit(r == 0 ? 0 : 1);
	}
	read(go[0], &c, 1);
	usleep(100000);
	CHECK_ERR(edeadlk, setlk(fd, F_SETLKW, F_WRLCK, 1, 1), EDEADLK);
	setlk(fd, F_SETLK, F_UNLCK, 0, 1);
	waitpid(p, &st, 0);
	CHECK_EQ(deadlock_child_got_lock, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);

	/* OFD locks: owned by the open file description, conflicting with POSIX locks and
	 * with other descriptions, even in the same process. */
	int o1 = open(path, O_RDWR), o2 = open(path, O_RDWR);
	CHECK_OK(ofd_lock, setlk(o1, F_OFD_SETLK, F_WRLCK, 0, 5));
	CHECK_ERR(ofd_conflicts_same_process, setlk(o2, F_OFD_SETLK, F_WRLCK, 2, 1), EAGAIN);
	CHECK_ERR(ofd_conflicts_posix, setlk(o2, F_SETLK, F_WRLCK, 2, 1), EAGAIN);
	fl = getlk(o2, F_OFD_GETLK, F_RDLCK, 0, 1);
	CHECK_EQ(ofd_getlk_pid, fl.l_pid, -1);
	struct flock withpid = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 1};
	CHECK_ERR(ofd_nonzero_pid, fcntl(o2, F_OFD_SETLK, &withpid), EINVAL);
	CHECK_EQ(ofd_blocks_child, in_child(child_try, 1), 1);
	close(o1);
	CHECK_OK(ofd_released_on_close, setlk(o2, F_OFD_SETLK, F_WRLCK, 2, 1));
	close(o2);

	/* flock: per description, shared by dup and fork. */
	int f1 = open(path, O_RDWR);
	CHECK_OK(flock_ex, flock(f1, LOCK_EX));
	CHECK_EQ(flock_ex_blocks_child_sh, in_child(child_flock_nb, 0), 1);
	int f2 = open(path, O_RDWR);
	CHECK_ERR(flock_other_description, flock(f2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	int f3 = dup(f1);
	CHECK_OK(flock_dup_same_lock, flock(f3, LOCK_EX | LOCK_NB));
	CHECK_OK(flock_independent_of_posix, setlk(f2, F_SETLK, F_WRLCK, 0, 0));
	setlk(f2, F_SETLK, F_UNLCK, 0, 0);
	close(f1);
	CHECK_ERR(flock_kept_by_dup, flock(f2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	close(f3);
	CHECK_OK(flock_released_with_last, flock(f2, LOCK_SH | LOCK_NB));
	CHECK_EQ(flock_shared_with_child, in_child(child_flock_nb, 0), 0);
	CHECK_OK(flock_convert, flock(f2, LOCK_EX | LOCK_NB));
	CHECK_OK(flock_unlock, flock(f2, LOCK_UN));
	CHECK_ERR(flock_bad_op, flock(f2, 0), EINVAL);
	CHECK_ERR(flock_ebadf, flock(999, LOCK_SH), EBADF);
	close(f2);
	close(fd);
	return check_done();
}

/* pipe, pipe2: flags, I/O, EOF, EPIPE + SIGPIPE, capacity, PIPE_BUF atomicity, packet mode,
 * F_GETPIPE_SZ/F_SETPIPE_SZ, FIONREAD, fstat, lseek, readv/writev. One process: both ends
 * are ours. */
#include "check.h"
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/uio.h>

static char big[1 << 18];
static volatile int sigpipes;

static void on_sigpipe(int sig) {
	(void)sig;
	sigpipes++;
}

/* has_cap reports whether the effective set holds capability cap. */
static int has_cap(int cap) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* fill writes to a non-blocking pipe until it is full and returns the bytes written. */
static long fill(int fd) {
	long total = 0, n;
	while ((n = write(fd, big, sizeof big)) > 0)
		total += n;
	return total;
}

/* nb_pipe makes a non-blocking pipe after writing `pre` bytes and reading `drain`. */
static void nb_pipe(int p[2], int pre, int drain) {
	char b[8192];
	if (pipe2(p, O_NONBLOCK) != 0) {
		perror("pipe2");
		exit(2);
	}
	if (pre && write(p[1], big, pre) != pre)
		exit(2);
	if (drain && read(p[0], b, drain) != drain)
		exit(2);
}

static void close2(int p[2]) {
	close(p[0]);
	close(p[1]);
}

int main(void) {
	int p[2], q[2];
	char buf[256];

	/* pipe: two new descriptors, read end O_RDONLY, write end O_WRONLY, no FD_CLOEXEC. */
	CHECK_OK(pipe_ok, pipe(p));
	CHECK_TRUE(pipe_distinct_fds, p[0] >= 0 && p[1] >= 0 && p[0] != p[1]);
	CHECK_EQ(pipe_read_end_flags, fcntl(p[0], F_GETFL), O_RDONLY);
	CHECK_EQ(pipe_write_end_flags, fcntl(p[1], F_GETFL), O_WRONLY);
	CHECK_EQ(pipe_no_cloexec, fcntl(p[0], F_GETFD), 0);
	CHECK_EQ(pipe_default_size, fcntl(p[0], F_GETPIPE_SZ), 65536);
	CHECK_EQ(pipe_default_size_write_end, fcntl(p[1], F_GETPIPE_SZ), 65536);

	/* Basic I/O. */
	CHECK_EQ(write_hello, write(p[1], "hello", 5), 5);
	int avail = -1;
	CHECK_OK(fionread_ok, ioctl(p[0], FIONREAD, &avail));
	CHECK_EQ(fionread_count, avail, 5);
	CHECK_EQ(read_partial, read(p[0], buf, 3), 3);
	CHECK_TRUE(read_partial_data, memcmp(buf, "hel", 3) == 0);
	CHECK_EQ(read_rest_short, read(p[0], buf, sizeof buf), 2);
	CHECK_TRUE(read_rest_data, memcmp(buf, "lo", 2) == 0);
	CHECK_EQ(read_zero_count_empty, read(p[0], buf, 0), 0);
	CHECK_EQ(write_zero_count, write(p[1], buf, 0), 0);
	CHECK_ERR(read_write_end_ebadf, read(p[1], buf, 1), EBADF);
	CHECK_ERR(write_read_end_ebadf, write(p[0], "x", 1), EBADF);

	/* Seeking and positional I/O: ESPIPE. */
	CHECK_ERR(lseek_espipe, lseek(p[0], 0, SEEK_CUR), ESPIPE);
	CHECK_ERR(lseek_write_end_espipe, lseek(p[1], 0, SEEK_SET), ESPIPE);
	CHECK_ERR(pread_espipe, pread(p[0], buf, 1, 0), ESPIPE);
	CHECK_ERR(pwrite_espipe, pwrite(p[1], "x", 1, 0), ESPIPE);

	/* fstat: a FIFO, mode 0600, size 0 whatever it holds. */
	struct stat st;
	write(p[1], "abc", 3);
	CHECK_OK(fstat_ok, fstat(p[0], &st));
	CHECK_TRUE(fstat_is_fifo, S_ISFIFO(st.st_mode));
	CHECK_EQ(fstat_mode, st.st_mode & 07777, 0600);
	CHECK_EQ(fstat_size_zero, st.st_size, 0);
	CHECK_EQ(fstat_nlink, st.st_nlink, 1);
	CHECK_EQ(fstat_blksize, st.st_blksize, 4096);
	CHECK_EQ(fstat_uid, st.st_uid, geteuid());
	struct stat st2;
	fstat(p[1], &st2);
	CHECK_TRUE(fstat_same_inode, st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	read(p[0], buf, 3);

	/* /proc/self/fd shows pipe:[ino], and opening it adds an end to the same pipe. */
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	long ln = readlink(path, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	snprintf(buf, sizeof buf, "pipe:[%lu]", (unsigned long)st.st_ino);
	CHECK_STR(proc_fd_link, link, buf);
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
	int w2 = CHECK_OK(proc_fd_reopen, open(path, O_WRONLY));
	CHECK_EQ(proc_fd_reopen_write, write(w2, "via", 3), 3);
	CHECK_EQ(proc_fd_reopen_read, read(p[0], buf, sizeof buf), 3);
	close(w2);

	/* readv / writev across several buffers. */
	struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
	CHECK_EQ(writev_ok, writev(p[1], iov, 3), 5);
	char r1[1], r2[10];
	struct iovec riov[2] = {{r1, 1}, {r2, 10}};
	CHECK_EQ(readv_ok, readv(p[0], riov, 2), 5);
	CHECK_TRUE(readv_data, r1[0] == 'a' && memcmp(r2, "bcde", 4) == 0);

	/* EOF once every writer is gone, after the data. */
	write(p[1], "z", 1);
	close(p[1]);
	CHECK_EQ(read_before_eof, read(p[0], buf, sizeof buf), 1);
	CHECK_EQ(read_eof, read(p[0], buf, sizeof buf), 0);
	CHECK_EQ(read_eof_again, read(p[0], buf, sizeof buf), 0);
	close(p[0]);

	/* EPIPE and SIGPIPE once every reader is gone. */
	pipe(p);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(write_no_reader_epipe, write(p[1], "x", 1), EPIPE);
	CHECK_EQ(write_zero_no_reader, write(p[1], "x", 0), 0);
	signal(SIGPIPE, on_sigpipe);
	sigpipes = 0;
	CHECK_ERR(write_no_reader_epipe_handler, write(p[1], "x", 1), EPIPE);
	CHECK_EQ(sigpipe_delivered, sigpipes, 1);
	CHECK_ERR(writev_no_reader_epipe, writev(p[1], iov, 3), EPIPE);
	CHECK_EQ(sigpipe_writev, sigpipes, 2);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);

	/* pipe2 flags. */
	CHECK_OK(pipe2_cloexec, pipe2(p, O_CLOEXEC));
	CHECK_EQ(pipe2_cloexec_read_end, fcntl(p[0], F_GETFD), FD_CLOEXEC);
	CHECK_EQ(pipe2_cloexec_write_end, fcntl(p[1], F_GETFD), FD_CLOEXEC);
	close2(p);
	CHECK_OK(pipe2_nonblock_direct, pipe2(p, O_NONBLOCK | O_DIRECT));
	CHECK_EQ(pipe2_read_end_nonblock_only, fcntl(p[0], F_GETFL), O_RDONLY | O_NONBLOCK);
	CHECK_EQ(pipe2_write_end_direct, fcntl(p[1], F_GETFL), O_WRONLY | O_NONBLOCK | O_DIRECT);
	CHECK_ERR(pipe2_nonblock_empty_eagain, read(p[0], buf, 1), EAGAIN);
	close2(p);
	CHECK_ERR(pipe2_bad_flag, pipe2(p, O_APPEND), EINVAL);
	CHECK_ERR(pipe2_bad_flag_creat, pipe2(p, O_CREAT), EINVAL);
	CHECK_ERR(pipe2_efault, syscall(SYS_pipe2, BADPTR, 0), EFAULT);
	CHECK_ERR(pipe_efault, syscall(SYS_pipe, BADPTR), EFAULT);
	/* O_NOTIFICATION_PIPE (O_EXCL) needs CONFIG_WATCH_QUEUE: ENOPKG without it. */
	errno = 0;
	long nr = pipe2(q, O_EXCL);
	CHECK_TRUE(pipe2_notification_pipe, nr == 0 || errno == ENOPKG);
	if (nr == 0)
		close2(q);
	/* F_SETFL O_NONBLOCK afterwards. */
	pipe(p);
	CHECK_OK(setfl_nonblock, fcntl(p[0], F_SETFL, O_NONBLOCK));
	CHECK_ERR(setfl_nonblock_eagain, read(p[0], buf, 1), EAGAIN);
	close2(p);

	/* EMFILE: both descriptors or none. */
	struct rlimit rl, old_rl;
	getrlimit(RLIMIT_NOFILE, &old_rl);
	int lowest = dup(0);
	close(lowest);
	rl.rlim_cur = lowest + 1;
	rl.rlim_max = old_rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	CHECK_ERR(pipe_emfile, pipe(p), EMFILE);
	CHECK_EQ(pipe_emfile_no_leak, dup(0), lowest);
	close(lowest);
	setrlimit(RLIMIT_NOFILE, &old_rl);

	/* Capacity: 16 pages. */
	nb_pipe(p, 0, 0);
	CHECK_EQ(capacity_64k, fill(p[1]), 65536);
	CHECK_ERR(full_write_eagain, write(p[1], "x", 1), EAGAIN);
	CHECK_OK(fionread_full, ioctl(p[0], FIONREAD, &avail));
	CHECK_EQ(fionread_full_count, avail, 65536);
	CHECK_EQ(full_read_page, read(p[0], big, 4096), 4096);
	CHECK_EQ(write_after_page_freed, write(p[1], big, 5000), 4096);
	close2(p);

	/* How Linux fills pages: a write's last partial page merges into the last buffer
	 * when it fits; everything else takes whole pages; bytes already read are not
	 * reused. */
	nb_pipe(p, 1, 0);
	CHECK_EQ(merge_whole_pages, write(p[1], big, 131072), 61440);
	close2(p);
	nb_pipe(p, 1, 0);
	CHECK_EQ(merge_partial_page, write(p[1], big, 131071), 65535);
	close2(p);
	nb_pipe(p, 100, 50);
	CHECK_EQ(merge_after_read_no_fit, write(p[1], big, 131071), 61440);
	close2(p);
	nb_pipe(p, 100, 50);
	CHECK_EQ(merge_after_read_fits, write(p[1], big, 131072 - 100), 65436);
	close2(p);

	/* PIPE_BUF atomicity: with 15 pages and 100 bytes queued (every page taken), a
	 * 4096-byte write fails whole, a 100-byte one merges, a 4097-byte one (not atomic)
	 * writes the byte that merges. */
	nb_pipe(p, 15 * 4096 + 100, 0);
	CHECK_ERR(atomic_pipe_buf_eagain, write(p[1], big, 4096), EAGAIN);
	CHECK_EQ(atomic_small_merges, write(p[1], big, 100), 100);
	CHECK_EQ(non_atomic_partial, write(p[1], big, 4097), 1);
	close2(p);

	/* Packet mode (O_DIRECT): one write per page-sized packet, one packet per read, the
	 * rest of a packet longer than the read is dropped. */
	CHECK_OK(packet_pipe, pipe2(p, O_DIRECT | O_NONBLOCK));
	write(p[1], "one", 3);
	write(p[1], "two!", 4);
	write(p[1], big, 4096 + 5);
	CHECK_EQ(packet_one, read(p[0], buf, sizeof buf), 3);
	CHECK_EQ(packet_truncated, read(p[0], buf, 2), 2);
	CHECK_EQ(packet_page, read(p[0], big, sizeof big), 4096);
	CHECK_EQ(packet_tail, read(p[0], big, sizeof big), 5);
	CHECK_ERR(packet_empty, read(p[0], buf, 1), EAGAIN);
	/* O_DIRECT can be turned off (and on) with F_SETFL. */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	write(p[1], "ab", 2);
	write(p[1], "cd", 2);
	CHECK_EQ(packet_off_merges, read(p[0], buf, sizeof buf), 4);
	close2(p);

	/* F_SETPIPE_SZ: rounded up to a power of two pages, at least one page. */
	pipe(p);
	CHECK_EQ(setpipe_zero_one_page, fcntl(p[0], F_SETPIPE_SZ, 0), 4096);
	CHECK_EQ(getpipe_one_page, fcntl(p[1], F_GETPIPE_SZ), 4096);
	CHECK_EQ(setpipe_rounds_up, fcntl(p[1], F_SETPIPE_SZ, 5000), 8192);
	CHECK_EQ(setpipe_power_of_two, fcntl(p[1], F_SETPIPE_SZ, 3 * 4096), 16384);
	CHECK_EQ(setpipe_max, fcntl(p[0], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	CHECK_ERR(setpipe_negative_einval, fcntl(p[0], F_SETPIPE_SZ, -1), EINVAL);
	CHECK_ERR(setpipe_above_2g_einval, fcntl(p[0], F_SETPIPE_SZ, (1u << 31) + 1), EINVAL);
	/* The argument is an unsigned int: the high bits of a long are dropped. */
	CHECK_EQ(setpipe_unsigned_int, fcntl(p[0], F_SETPIPE_SZ, (1ul << 32) + 4096), 4096);
	/* Above /proc/sys/fs/pipe-max-size (1 MiB): EPERM without CAP_SYS_RESOURCE. */
	errno = 0;
	long big_size = fcntl(p[0], F_SETPIPE_SZ, 2 << 20);
	CHECK_TRUE(setpipe_above_max, has_cap(CAP_SYS_RESOURCE) ? big_size == 2 << 20 : big_size == -1 && errno == EPERM);
	fcntl(p[0], F_SETPIPE_SZ, 65536);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	write(p[1], big, 3 * 4096);
	CHECK_ERR(setpipe_shrink_ebusy, fcntl(p[0], F_SETPIPE_SZ, 8192), EBUSY);
	CHECK_EQ(setpipe_shrink_to_contents, fcntl(p[0], F_SETPIPE_SZ, 4 * 4096), 4 * 4096);
	CHECK_EQ(setpipe_data_kept, read(p[0], big, sizeof big), 3 * 4096);
	CHECK_EQ(setpipe_new_capacity, fill(p[1]), 4 * 4096);
	close2(p);
	int reg = open(scratch_path("reg"), O_CREAT | O_RDWR, 0600);
	CHECK_ERR(getpipe_regular_ebadf, fcntl(reg, F_GETPIPE_SZ), EBADF);
	CHECK_ERR(setpipe_regular_ebadf, fcntl(reg, F_SETPIPE_SZ, 4096), EBADF);
	close(reg);
	return check_done();
}

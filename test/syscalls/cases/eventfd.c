/* eventfd, eventfd2: flags, 8-byte reads and writes, semaphore mode, the overflow rule,
 * readiness, and what the file is (fstat, lseek, pread, /proc/self/fd). */
#include "check.h"
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

static int revents(int fd) {
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

int main(void) {
	uint64_t v;
	char small[4];

	CHECK_ERR(bad_flags, eventfd(0, 0x1234), EINVAL);
	CHECK_ERR(bad_flag_append, eventfd(0, O_APPEND), EINVAL);
	int fd = CHECK_OK(create, eventfd(3, 0));
	CHECK_EQ(flags, fcntl(fd, F_GETFL), O_RDWR);
	CHECK_EQ(no_cloexec, fcntl(fd, F_GETFD), 0);
	CHECK_EQ(read_count, read(fd, &v, 8), 8);
	CHECK_EQ(read_value, v, 3);
	CHECK_ERR(read_short_einval, read(fd, small, 4), EINVAL);
	v = 5;
	CHECK_ERR(write_short_einval, write(fd, &v, 7), EINVAL);
	CHECK_EQ(write_ok, write(fd, &v, 8), 8);
	char big[16] = {0};
	big[0] = 2;
	/* Writes are exactly 8 bytes (Linux 6 refuses longer ones too); reads at least 8. */
	CHECK_ERR(write_long_einval, write(fd, big, 16), EINVAL);
	CHECK_EQ(write_two, write(fd, big, 8), 8);
	CHECK_EQ(read_long_gives_8, read(fd, big, 16), 8);
	memcpy(&v, big, 8);
	CHECK_EQ(writes_add_up, v, 7);
	v = UINT64_MAX;
	CHECK_ERR(write_max_einval, write(fd, &v, 8), EINVAL);
	v = 1;
	write(fd, &v, 8); /* a read of zero would block */
	CHECK_ERR(read_efault, syscall(SYS_read, fd, BADPTR, 8), EFAULT);
	CHECK_ERR(write_efault, syscall(SYS_write, fd, BADPTR, 8), EFAULT);

	/* Not a seekable file: lseek does nothing, pread and pwrite fail. */
	CHECK_EQ(lseek_noop, lseek(fd, 100, SEEK_SET), 0);
	CHECK_ERR(pread_espipe, pread(fd, &v, 8, 0), ESPIPE);
	CHECK_ERR(pwrite_espipe, pwrite(fd, &v, 8, 0), ESPIPE);
	int n;
	CHECK_ERR(fionread_enotty, ioctl(fd, FIONREAD, &n), ENOTTY);
	struct stat st;
	CHECK_OK(fstat_ok, fstat(fd, &st));
	CHECK_EQ(fstat_mode, st.st_mode, 0600);
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	long ln = readlink(path, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	CHECK_STR(proc_link, link, "anon_inode:[eventfd]");
	close(fd);

	/* Non-blocking: EAGAIN for a zero counter and for an overflowing write. */
	fd = CHECK_OK(create_nonblock, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	CHECK_EQ(nonblock_flags, fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK);
	CHECK_EQ(cloexec, fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_ERR(read_zero_eagain, read(fd, &v, 8), EAGAIN);
	CHECK_EQ(readiness_zero, revents(fd), POLLOUT);
	v = 0;
	CHECK_EQ(write_zero, write(fd, &v, 8), 8);
	CHECK_ERR(still_zero, read(fd, &v, 8), EAGAIN);
	v = UINT64_MAX - 1;
	CHECK_EQ(write_to_max, write(fd, &v, 8), 8);
	CHECK_EQ(readiness_max, revents(fd), POLLIN);
	v = 1;
	CHECK_ERR(write_overflow_eagain, write(fd, &v, 8), EAGAIN);
	v = 0;
	CHECK_EQ(write_zero_at_max, write(fd, &v, 8), 8);
	CHECK_EQ(read_max, read(fd, &v, 8), 8);
	CHECK_EQ(read_max_value, v, UINT64_MAX - 1);
	v = 1;
	write(fd, &v, 8);
	CHECK_EQ(readiness_both, revents(fd), POLLIN | POLLOUT);
	close(fd);

	/* Semaphore mode: each read takes one. */
	fd = CHECK_OK(create_semaphore, eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK));
	CHECK_EQ(sem_read1, read(fd, &v, 8), 8);
	CHECK_EQ(sem_value1, v, 1);
	CHECK_EQ(sem_read2, read(fd, &v, 8), 8);
	CHECK_EQ(sem_value2, v, 1);
	CHECK_ERR(sem_empty, read(fd, &v, 8), EAGAIN);
	close(fd);

	/* The old eventfd(2) call: no flags. */
	fd = CHECK_OK(eventfd1_syscall, syscall(SYS_eventfd, 7));
	CHECK_EQ(eventfd1_flags, fcntl(fd, F_GETFL), O_RDWR);
	CHECK_EQ(eventfd1_read, read(fd, &v, 8), 8);
	CHECK_EQ(eventfd1_value, v, 7);
	close(fd);
	/* The initial value is an unsigned int. */
	fd = syscall(SYS_eventfd2, 0x100000005ul, 0);
	read(fd, &v, 8);
	CHECK_EQ(initval_unsigned_int, v, 5);
	close(fd);
	return check_done();
}

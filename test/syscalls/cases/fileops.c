/* fallocate, close_range, fadvise, readahead, sync family, utime/utimes/futimesat. */
#include "check.h"
#include <linux/close_range.h>
#include <linux/falloc.h>
#include <sys/time.h>
#include <utime.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int main(void) {
	const char *f = scratch_path("f");
	int fd = CHECK_OK(open, open(f, O_RDWR | O_CREAT, 0644));
	struct stat st;

	/* fallocate */
	CHECK_OK(fallocate_extend, fallocate(fd, 0, 0, 10000));
	fstat(fd, &st);
	CHECK_EQ(fallocate_size, st.st_size, 10000);
	CHECK_TRUE(fallocate_blocks, st.st_blocks >= 10000 / 512);
	CHECK_OK(fallocate_keep_size, fallocate(fd, FALLOC_FL_KEEP_SIZE, 10000, 10000));
	fstat(fd, &st);
	CHECK_EQ(fallocate_keep_size_size, st.st_size, 10000);
	pwrite(fd, "xxxxxxxx", 8, 4096);
	CHECK_OK(punch_hole, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096));
	char buf[8] = {1};
	pread(fd, buf, 8, 4096);
	CHECK_TRUE(punched_reads_zero, buf[0] == 0 && buf[7] == 0);
	CHECK_ERR(punch_without_keep, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1), EOPNOTSUPP);
	CHECK_ERR(fallocate_zero_len, fallocate(fd, 0, 0, 0), EINVAL);
	CHECK_ERR(fallocate_neg_off, fallocate(fd, 0, -1, 1), EINVAL);
	int ro = open(f, O_RDONLY);
	CHECK_ERR(fallocate_rdonly, fallocate(ro, 0, 0, 1), EBADF);
	int p[2];
	pipe(p);
	CHECK_ERR(fallocate_pipe, fallocate(p[1], 0, 0, 1), ESPIPE);
	CHECK_ERR(fallocate_ebadf, fallocate(999, 0, 0, 1), EBADF);

	/* fadvise and readahead */
	CHECK_EQ(fadvise, posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
	CHECK_EQ(fadvise_bad_advice, posix_fadvise(fd, 0, 0, 99), EINVAL);
	CHECK_EQ(fadvise_pipe, posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);
	CHECK_OK(readahead, readahead(fd, 0, 4096));
	CHECK_ERR(readahead_pipe, readahead(p[0], 0, 1), EINVAL);

	/* sync family */
	sync();
	CHECK_OK(syncfs, syncfs(fd));
	CHECK_OK(fsync, fsync(fd));
	CHECK_OK(fdatasync, fdatasync(fd));
	CHECK_OK(sync_file_range, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	CHECK_ERR(sync_file_range_flags, sync_file_range(fd, 0, 0, 8), EINVAL);
	CHECK_ERR(syncfs_ebadf, syncfs(999), EBADF);

	/* utime, utimes, futimesat */
	struct utimbuf ub = {.actime = 1000, .modtime = 2000};
	CHECK_OK(utime, utime(f, &ub));
	stat(f, &st);
	CHECK_TRUE(utime_set, st.st_atime == 1000 && st.st_mtime == 2000);
	struct timeval tv[2] = {{3000, 500}, {4000, 600}};
	CHECK_OK(utimes, utimes(f, tv));
	stat(f, &st);
	CHECK_TRUE(utimes_set, st.st_mtime == 4000 && st.st_mtim.tv_nsec == 600000);
	tv[1].tv_usec = 1000000;
	CHECK_ERR(utimes_bad_usec, utimes(f, tv), EINVAL);
	int dir = open(scratch_dir(), O_RDONLY);
	tv[1].tv_usec = 0;
	CHECK_OK(futimesat, futimesat(dir, "f", tv));
	CHECK_OK(utime_now, utime(f, NULL));
	stat(f, &st);
	CHECK_TRUE(utime_now_set, st.st_mtime > 4000);
	CHECK_ERR(utimes_enoent, utimes(scratch_path("missing"), NULL), ENOENT);

	/* close_range */
	int a = dup(fd), b = dup(fd), c = dup(fd);
	CHECK_OK(close_range_cloexec, syscall(SYS_close_range, a, a, CLOSE_RANGE_CLOEXEC));
	CHECK_EQ(cloexec_set, fcntl(a, F_GETFD), FD_CLOEXEC);
	CHECK_OK(close_range, syscall(SYS_close_range, b, c, 0));
	CHECK_ERR(closed_b, fcntl(b, F_GETFD), EBADF);
	CHECK_ERR(closed_c, fcntl(c, F_GETFD), EBADF);
	CHECK_OK(still_open_a, fcntl(a, F_GETFD));
	CHECK_ERR(close_range_inverted, syscall(SYS_close_range, 5, 4, 0), EINVAL);
	CHECK_ERR(close_range_flags, syscall(SYS_close_range, 3, 4, 0x80), EINVAL);
	CHECK_OK(close_range_beyond, syscall(SYS_close_range, 100000, ~0U, 0));
	return check_done();
}

/* read, write, readv, writev, pread64, pwrite64, lseek. */
#include "check.h"
#include <limits.h>
#include <sys/uio.h>

int main(void) {
	char buf[64];
	const char *path = scratch_path("io");
	int fd = CHECK_OK(open_scratch, open(path, O_CREAT | O_RDWR | O_TRUNC, 0644));

	/* write */
	CHECK_EQ(write_basic, write(fd, "hello world", 11), 11);
	CHECK_EQ(write_zero, write(fd, "", 0), 0);
	CHECK_ERR(write_ebadf, write(-1, "x", 1), EBADF);
	CHECK_ERR(write_ebadf_closed, write(999, "x", 1), EBADF);
	CHECK_ERR(write_efault, syscall(SYS_write, fd, BADPTR, 4), EFAULT);

	/* lseek */
	CHECK_EQ(lseek_cur, lseek(fd, 0, SEEK_CUR), 11);
	CHECK_EQ(lseek_set, lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(lseek_end, lseek(fd, -5, SEEK_END), 6);
	CHECK_EQ(lseek_past_end, lseek(fd, 100, SEEK_SET), 100);
	CHECK_ERR(lseek_negative, lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_ERR(lseek_negative_cur, lseek(fd, -1000, SEEK_CUR), EINVAL);
	CHECK_ERR(lseek_bad_whence, lseek(fd, 0, 42), EINVAL);
	CHECK_ERR(lseek_ebadf, lseek(-1, 0, SEEK_SET), EBADF);
	CHECK_EQ(lseek_rewind, lseek(fd, 0, SEEK_SET), 0);

	/* read */
	memset(buf, 0, sizeof buf);
	CHECK_EQ(read_basic, read(fd, buf, 5), 5);
	CHECK_STR(read_content, buf, "hello");
	CHECK_EQ(read_advances, lseek(fd, 0, SEEK_CUR), 5);
	CHECK_EQ(read_short, read(fd, buf, sizeof buf), 6);
	CHECK_EQ(read_eof, read(fd, buf, sizeof buf), 0);
	CHECK_EQ(read_zero, read(fd, buf, 0), 0);
	CHECK_ERR(read_ebadf, read(-1, buf, 1), EBADF);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR(read_efault, syscall(SYS_read, fd, BADPTR, 4), EFAULT);
	int dfd = CHECK_OK(open_dir, open("/", O_RDONLY | O_DIRECTORY));
	CHECK_ERR(read_eisdir, read(dfd, buf, sizeof buf), EISDIR);
	close(dfd);
	int wfd = CHECK_OK(open_wronly, open(path, O_WRONLY));
	CHECK_ERR(read_on_wronly_ebadf, read(wfd, buf, 1), EBADF);
	close(wfd);
	int rfd = CHECK_OK(open_rdonly, open(path, O_RDONLY));
	CHECK_ERR(write_on_rdonly_ebadf, write(rfd, "x", 1), EBADF);
	close(rfd);

	/* writev / readv */
	char a[4] = "abc", b[4] = "defg";
	struct iovec wv[2] = {{a, 3}, {b, 4}};
	CHECK_EQ(lseek_for_writev, lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(writev_basic, writev(fd, wv, 2), 7);
	char r1[2], r2[8];
	memset(r2, 0, sizeof r2);
	struct iovec rv[2] = {{r1, 2}, {r2, 5}};
	lseek(fd, 0, SEEK_SET);
	CHECK_EQ(readv_basic, readv(fd, rv, 2), 7);
	CHECK_TRUE(readv_content, memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cdefg", 5) == 0);
	CHECK_EQ(writev_zero_iov, writev(fd, wv, 0), 0);
	CHECK_ERR(writev_negative_iovcnt, syscall(SYS_writev, fd, wv, -1), EINVAL);
	CHECK_ERR(readv_too_many_iovecs, syscall(SYS_readv, fd, rv, IOV_MAX + 1), EINVAL);
	CHECK_ERR(readv_efault_iov, syscall(SYS_readv, fd, BADPTR, 1), EFAULT);
	struct iovec badv[1] = {{BADPTR, 4}};
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR(readv_efault_base, syscall(SYS_readv, fd, badv, 1), EFAULT);
	CHECK_ERR(writev_efault_base, syscall(SYS_writev, fd, badv, 1), EFAULT);
	CHECK_ERR(writev_ebadf, writev(-1, wv, 2), EBADF);
	CHECK_ERR(readv_ebadf, readv(-1, rv, 2), EBADF);

	/* pread64 / pwrite64 */
	lseek(fd, 2, SEEK_SET);
	CHECK_EQ(pwrite_basic, pwrite(fd, "XY", 2, 4), 2);
	CHECK_EQ(pwrite_keeps_offset, lseek(fd, 0, SEEK_CUR), 2);
	memset(buf, 0, sizeof buf);
	CHECK_EQ(pread_basic, pread(fd, buf, 7, 0), 7);
	CHECK_STR(pread_content, buf, "abcdXYg");
	CHECK_EQ(pread_keeps_offset, lseek(fd, 0, SEEK_CUR), 2);
	CHECK_EQ(pread_past_eof, pread(fd, buf, 4, 1000), 0);
	CHECK_ERR(pread_negative_offset, syscall(SYS_pread64, fd, buf, 1, -1L), EINVAL);
	CHECK_ERR(pwrite_negative_offset, syscall(SYS_pwrite64, fd, "x", 1, -1L), EINVAL);
	CHECK_ERR(pread_ebadf, pread(-1, buf, 1, 0), EBADF);
	CHECK_ERR(pwrite_ebadf, pwrite(-1, buf, 1, 0), EBADF);
	CHECK_ERR(pread_efault, syscall(SYS_pread64, fd, BADPTR, 4, 0L), EFAULT);

	/* O_APPEND: every write goes to the end, pwrite too (Linux quirk). */
	int afd = CHECK_OK(open_append, open(path, O_WRONLY | O_APPEND));
	CHECK_EQ(append_write, write(afd, "Z", 1), 1);
	CHECK_EQ(append_size, lseek(fd, 0, SEEK_END), 12); /* 11 bytes + Z */
	close(afd);

	CHECK_OK(close_file, close(fd));
	unlink(path);
	return check_done();
}

/* dup, dup2, dup3. */
#include "check.h"
#include <sys/resource.h>

int main(void) {
	const char *f = scratch_path("dup");
	CHECK_OK(create, write_file(f, "0123456789"));
	int fd = CHECK_OK(open_file, open(f, O_RDWR));
	char c;

	/* dup: lowest free fd, shared offset, no close-on-exec. */
	int low = CHECK_OK(dup_placeholder, open("/etc/passwd", O_RDONLY));
	close(low); /* now `low` is the lowest free fd */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	long d = CHECK_OK(dup_ok, dup(fd));
	CHECK_EQ(dup_lowest_free, d, low);
	CHECK_EQ(dup_clears_cloexec, fcntl(d, F_GETFD), 0);
	lseek(fd, 4, SEEK_SET);
	CHECK_EQ(dup_shares_offset, lseek(d, 0, SEEK_CUR), 4);
	CHECK_EQ(dup_read_moves_both, read(d, &c, 1) == 1 && c == '4' ? lseek(fd, 0, SEEK_CUR) : -2, 5);
	CHECK_OK(close_original, close(fd));
	CHECK_EQ(dup_survives_close, read(d, &c, 1) == 1 ? c : 0, '5');
	fd = d;
	CHECK_ERR(dup_ebadf, dup(-1), EBADF);
	CHECK_ERR(dup_ebadf_closed, dup(999), EBADF);

	/* dup2 */
	CHECK_EQ(dup2_ok, dup2(fd, 200), 200);
	CHECK_EQ(dup2_same_offset, lseek(200, 0, SEEK_CUR), 6);
	int other = open("/etc/passwd", O_RDONLY);
	CHECK_EQ(dup2_replaces_open_fd, dup2(fd, other), other);
	CHECK_EQ(dup2_replaced_is_file, lseek(other, 0, SEEK_CUR), 6);
	CHECK_EQ(dup2_same_fd, dup2(fd, fd), fd);
	CHECK_ERR(dup2_same_fd_bad, dup2(999, 999), EBADF);
	CHECK_ERR(dup2_ebadf_old, dup2(-1, 201), EBADF);
	CHECK_ERR(dup2_negative_new, dup2(fd, -1), EBADF);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK_ERR(dup2_beyond_nofile, dup2(fd, (int)rl.rlim_cur), EBADF);
	close(other);

	/* dup3 */
	CHECK_EQ(dup3_ok, syscall(SYS_dup3, fd, 202, 0), 202);
	CHECK_EQ(dup3_no_cloexec, fcntl(202, F_GETFD), 0);
	CHECK_EQ(dup3_cloexec, syscall(SYS_dup3, fd, 203, O_CLOEXEC), 203);
	CHECK_EQ(dup3_cloexec_flag, fcntl(203, F_GETFD), FD_CLOEXEC);
	CHECK_ERR(dup3_same_fd_einval, syscall(SYS_dup3, fd, fd, 0), EINVAL);
	CHECK_ERR(dup3_bad_flags_einval, syscall(SYS_dup3, fd, 204, O_APPEND), EINVAL);
	CHECK_ERR(dup3_ebadf, syscall(SYS_dup3, 999, 204, 0), EBADF);
	CHECK_ERR(dup3_beyond_nofile, syscall(SYS_dup3, fd, (int)rl.rlim_cur, 0), EBADF);
	CHECK_ERR(dup3_unused_is_closed, fcntl(204, F_GETFD), EBADF);
	close(200);
	close(202);
	close(203);
	close(fd);
	return check_done();
}

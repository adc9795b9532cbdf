/* fcntl: F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC, errors. */
#include "check.h"

int main(void) {
	const char *f = scratch_path("fcntl");
	CHECK_OK(create, write_file(f, "abc"));
	int fd = CHECK_OK(open_file, open(f, O_RDWR));

	/* F_GETFD / F_SETFD */
	CHECK_EQ(getfd_initial, fcntl(fd, F_GETFD), 0);
	CHECK_OK(setfd_cloexec, fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECK_EQ(getfd_cloexec, fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_OK(setfd_clear, fcntl(fd, F_SETFD, 0));
	CHECK_EQ(getfd_cleared, fcntl(fd, F_GETFD), 0);
	CHECK_OK(setfd_unknown_bits_ignored, fcntl(fd, F_SETFD, 0x7e | FD_CLOEXEC));
	CHECK_EQ(getfd_only_cloexec, fcntl(fd, F_GETFD), FD_CLOEXEC);
	fcntl(fd, F_SETFD, 0);

	/* F_GETFL / F_SETFL */
	long fl = CHECK_OK(getfl, fcntl(fd, F_GETFL));
	CHECK_EQ(getfl_accmode, fl & O_ACCMODE, O_RDWR);
	CHECK_EQ(getfl_no_append, fl & O_APPEND, 0);
	CHECK_OK(setfl_append_nonblock, fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
	fl = fcntl(fd, F_GETFL);
	CHECK_EQ(getfl_append_nonblock, fl & (O_APPEND | O_NONBLOCK), O_APPEND | O_NONBLOCK);
	/* The access mode and creation flags cannot be changed by F_SETFL. */
	CHECK_OK(setfl_ignores_accmode, fcntl(fd, F_SETFL, O_RDONLY | O_CREAT | O_TRUNC));
	fl = fcntl(fd, F_GETFL);
	CHECK_EQ(getfl_accmode_kept, fl & O_ACCMODE, O_RDWR);
	CHECK_EQ(getfl_flags_cleared, fl & (O_APPEND | O_NONBLOCK | O_CREAT | O_TRUNC), 0);
	struct stat st;
	fstat(fd, &st);
	CHECK_EQ(setfl_trunc_did_nothing, st.st_size, 3);
	int ro = open(f, O_RDONLY);
	CHECK_EQ(getfl_rdonly, fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(ro);

	/* F_DUPFD / F_DUPFD_CLOEXEC */
	long d = CHECK_OK(dupfd, fcntl(fd, F_DUPFD, 0));
	CHECK_TRUE(dupfd_new_fd, d != fd);
	CHECK_EQ(dupfd_no_cloexec, fcntl(d, F_GETFD), 0);
	close(d);
	d = CHECK_OK(dupfd_min, fcntl(fd, F_DUPFD, 100));
	CHECK_EQ(dupfd_lowest_at_or_above, d, 100);
	long d2 = fcntl(fd, F_DUPFD, 100);
	CHECK_EQ(dupfd_next_free, d2, 101);
	close(d);
	close(d2);
	d = CHECK_OK(dupfd_cloexec, fcntl(fd, F_DUPFD_CLOEXEC, 50));
	CHECK_EQ(dupfd_cloexec_min, d, 50);
	CHECK_EQ(dupfd_cloexec_flag, fcntl(d, F_GETFD), FD_CLOEXEC);
	CHECK_EQ(dupfd_cloexec_original_unchanged, fcntl(fd, F_GETFD), 0);
	/* The duplicate shares the file description (offset and status flags). */
	lseek(fd, 2, SEEK_SET);
	CHECK_EQ(dupfd_shares_offset, lseek(d, 0, SEEK_CUR), 2);
	fcntl(d, F_SETFL, O_APPEND);
	CHECK_TRUE(dupfd_shares_status_flags, (fcntl(fd, F_GETFL) & O_APPEND) != 0);
	close(d);
	CHECK_ERR(dupfd_negative_min, fcntl(fd, F_DUPFD, -1), EINVAL);
	CHECK_ERR(dupfd_min_beyond_nofile, fcntl(fd, F_DUPFD, 1 << 30), EINVAL);

	/* Errors */
	CHECK_ERR(bad_cmd_einval, fcntl(fd, 12345), EINVAL);
	CHECK_ERR(getfd_ebadf, fcntl(-1, F_GETFD), EBADF);
	CHECK_ERR(getfl_ebadf, fcntl(999, F_GETFL), EBADF);
	CHECK_ERR(dupfd_ebadf, fcntl(999, F_DUPFD, 0), EBADF);
	CHECK_ERR(bad_cmd_ebadf_first, fcntl(999, 12345), EBADF);
	close(fd);
	CHECK_ERR(getfd_closed_ebadf, fcntl(fd, F_GETFD), EBADF);
	return check_done();
}

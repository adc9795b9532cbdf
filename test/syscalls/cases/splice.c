/* sendfile, splice, tee, copy_file_range. */
#include "check.h"
#include <sys/sendfile.h>

static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static int slurp_eq(int fd, off_t off, const char *want) {
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, off);
	if (n < 0)
		return 0;
	buf[n] = 0;
	return strcmp(buf, want) == 0;
}

int main(void) {
	const char *src = scratch_path("src"), *dst = scratch_path("dst");
	CHECK_OK(create_src, write_file(src, data));
	int in = CHECK_OK(open_src, open(src, O_RDONLY));
	int out = CHECK_OK(open_dst, open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644));

	/* sendfile with and without an offset. */
	off_t off = 10;
	CHECK_EQ(sendfile_offset, sendfile(out, in, &off, 5), 5);
	CHECK_EQ(sendfile_offset_advanced, off, 15);
	CHECK_EQ(sendfile_in_pos_unchanged, lseek(in, 0, SEEK_CUR), 0);
	CHECK_EQ(sendfile_file_pos, sendfile(out, in, NULL, 3), 3);
	CHECK_EQ(sendfile_in_pos_advanced, lseek(in, 0, SEEK_CUR), 3);
	CHECK_TRUE(sendfile_data, slurp_eq(out, 0, "abcde012"));
	off = 100;
	CHECK_EQ(sendfile_eof, sendfile(out, in, &off, 5), 0);
	CHECK_ERR(sendfile_ebadf, sendfile(out, 999, NULL, 1), EBADF);
	CHECK_ERR(sendfile_in_not_readable, sendfile(out, out == in ? in : open(dst, O_WRONLY), NULL, 1), EBADF);
	off = -1;
	CHECK_ERR(sendfile_negative_offset, sendfile(out, in, &off, 1), EINVAL);
	CHECK_ERR(sendfile_bad_offset_ptr, sendfile(out, in, BADPTR, 1), EFAULT);

	/* sendfile into a pipe. */
	int p[2];
	CHECK_OK(pipe, pipe(p));
	off = 0;
	CHECK_EQ(sendfile_to_pipe, sendfile(p[1], in, &off, 10), 10);
	char buf[64] = {0};
	CHECK_EQ(read_pipe, read(p[0], buf, sizeof buf), 10);
	CHECK_TRUE(pipe_data, memcmp(buf, "0123456789", 10) == 0);

	/* splice: file -> pipe -> file. */
	loff_t ioff = 26;
	CHECK_EQ(splice_file_to_pipe, splice(in, &ioff, p[1], NULL, 10, 0), 10);
	CHECK_EQ(splice_in_offset, ioff, 36);
	loff_t ooff = 100;
	CHECK_EQ(splice_pipe_to_file, splice(p[0], NULL, out, &ooff, 64, 0), 10);
	CHECK_EQ(splice_out_offset, ooff, 110);
	CHECK_TRUE(splice_data, slurp_eq(out, 100, "qrstuvwxyz"));
	CHECK_ERR(splice_no_pipe, splice(in, NULL, out, NULL, 1, 0), EINVAL);
	CHECK_ERR(splice_pipe_offset, splice(p[0], &ioff, out, NULL, 1, 0), ESPIPE);
	CHECK_ERR(splice_bad_flags, splice(in, NULL, p[1], NULL, 1, 0x100), EINVAL);
	CHECK_ERR(splice_nonblock_empty, splice(p[0], NULL, out, NULL, 1, SPLICE_F_NONBLOCK), EAGAIN);
	CHECK_EQ(splice_zero, splice(in, NULL, p[1], NULL, 0, 0), 0);

	/* tee: copies a pipe's data to another pipe without consuming it. */
	int q[2];
	CHECK_OK(pipe2, pipe2(q, O_NONBLOCK));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	write(p[1], "tee!", 4);
	CHECK_EQ(tee, tee(p[0], q[1], 4, 0), 4);
	memset(buf, 0, sizeof buf);
	CHECK_EQ(tee_copy, read(q[0], buf, sizeof buf), 4);
	CHECK_EQ(tee_original_kept, read(p[0], buf, sizeof buf), 4);
	fcntl(p[0], F_SETFL, 0);
	CHECK_ERR(tee_not_pipes, tee(in, q[1], 1, 0), EINVAL);
	CHECK_ERR(tee_same_pipe, tee(p[0], p[1], 1, 0), EINVAL);
	CHECK_ERR(tee_bad_flags, tee(p[0], q[1], 1, 0x100), EINVAL);
	CHECK_ERR(tee_nonblock_empty, tee(p[0], q[1], 4, SPLICE_F_NONBLOCK), EAGAIN);
	write(p[1], "abcdef", 6);
	CHECK_EQ(tee_partial_len, tee(p[0], q[1], 2, 0), 2);
	memset(buf, 0, sizeof buf);
	CHECK_EQ(tee_partial_read, read(q[0], buf, sizeof buf), 2);
	CHECK_TRUE(tee_partial_data, memcmp(buf, "ab", 2) == 0);
	CHECK_EQ(tee_zero_len, tee(p[0], q[1], 0, 0), 0);
	/* A full output pipe: EAGAIN with SPLICE_F_NONBLOCK, nothing consumed. */
	fcntl(q[1], F_SETPIPE_SZ, 4096);
	char fill[4096];
	memset(fill, 'x', sizeof fill);
	write(q[1], fill, sizeof fill);
	CHECK_ERR(tee_nonblock_full, tee(p[0], q[1], 6, SPLICE_F_NONBLOCK), EAGAIN);
	while (read(q[0], fill, sizeof fill) > 0)
		;
	CHECK_EQ(tee_input_kept, read(p[0], buf, sizeof buf), 6);
	/* End of file: no writer and nothing queued. */
	int r2[2];
	pipe(r2);
	close(r2[1]);
	CHECK_EQ(tee_eof, tee(r2[0], q[1], 4, 0), 0);
	close(r2[0]);

	/* copy_file_range. */
	loff_t a = 0, b = 200;
	CHECK_EQ(copy_file_range, copy_file_range(in, &a, out, &b, 36, 0), 36);
	CHECK_TRUE(copy_file_range_data, slurp_eq(out, 200, data));
	CHECK_EQ(copy_file_range_offsets, a + b, 36 + 236);
	CHECK_ERR(copy_file_range_flags, copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
	int dirfd = open(scratch_dir(), O_RDONLY);
	CHECK_ERR(copy_file_range_dir, copy_file_range(dirfd, NULL, out, NULL, 1, 0), EISDIR);
	CHECK_ERR(copy_file_range_pipe, copy_file_range(p[0], NULL, out, NULL, 1, 0), EINVAL);
	a = 0;
	b = 5;
	CHECK_ERR(copy_file_range_overlap, copy_file_range(out, &a, out, &b, 10, 0), EINVAL);
	int app = open(dst, O_WRONLY | O_APPEND);
	CHECK_ERR(copy_file_range_append, copy_file_range(in, NULL, app, NULL, 1, 0), EBADF);
	return check_done();
}

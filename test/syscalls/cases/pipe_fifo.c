/* Named FIFOs in one process: the O_NONBLOCK open rules, O_RDWR, data, POLLHUP only after
 * a writer, data dropped with the last close, ESPIPE. (Blocking opens: pipe_fork.c.) */
#include "check.h"
#include <poll.h>
#include <signal.h>

int main(void) {
	char buf[64];
	const char *fifo = scratch_path("fifo");
	CHECK_OK(mkfifo_ok, mkfifo(fifo, 0644));
	struct stat st;
	CHECK_OK(stat_ok, stat(fifo, &st));
	CHECK_TRUE(stat_is_fifo, S_ISFIFO(st.st_mode));
	CHECK_ERR(mkfifo_exists, mkfifo(fifo, 0644), EEXIST);

	/* O_WRONLY|O_NONBLOCK needs a reader; O_RDONLY|O_NONBLOCK needs nobody. */
	CHECK_ERR(open_write_nonblock_enxio, open(fifo, O_WRONLY | O_NONBLOCK), ENXIO);
	int r = CHECK_OK(open_read_nonblock, open(fifo, O_RDONLY | O_NONBLOCK));
	CHECK_EQ(read_no_writer_eof, read(r, buf, sizeof buf), 0);
	struct pollfd pfd = {r, POLLIN, 0};
	CHECK_EQ(poll_no_writer_yet, poll(&pfd, 1, 0), 0);
	CHECK_EQ(poll_no_writer_yet_revents, pfd.revents, 0);
	int w = CHECK_OK(open_write_nonblock_with_reader, open(fifo, O_WRONLY | O_NONBLOCK));
	CHECK_EQ(write_end_accmode, fcntl(w, F_GETFL) & O_ACCMODE, O_WRONLY);
	CHECK_ERR(read_with_writer_eagain, read(r, buf, sizeof buf), EAGAIN);
	CHECK_EQ(fifo_write, write(w, "named", 5), 5);
	CHECK_EQ(poll_data, poll(&pfd, 1, 0), 1);
	CHECK_EQ(poll_data_revents, pfd.revents, POLLIN);
	CHECK_EQ(fifo_read, read(r, buf, sizeof buf), 5);
	CHECK_TRUE(fifo_data, memcmp(buf, "named", 5) == 0);
	CHECK_EQ(fifo_size_default, fcntl(r, F_GETPIPE_SZ), 65536);
	CHECK_ERR(fifo_lseek_espipe, lseek(r, 0, SEEK_SET), ESPIPE);
	CHECK_ERR(fifo_pread_espipe, pread(r, buf, 1, 0), ESPIPE);
	close(w);
	CHECK_EQ(poll_writer_gone, poll(&pfd, 1, 0), 1);
	CHECK_EQ(poll_writer_gone_hup, pfd.revents, POLLHUP);
	CHECK_EQ(read_writer_gone_eof, read(r, buf, sizeof buf), 0);

	/* Two openers share the pipe: a second reader sees what the writer writes. */
	w = open(fifo, O_WRONLY | O_NONBLOCK);
	int r2 = CHECK_OK(open_second_reader, open(fifo, O_RDONLY | O_NONBLOCK));
	write(w, "xy", 2);
	CHECK_EQ(second_reader_reads, read(r2, buf, 1), 1);
	CHECK_EQ(first_reader_reads_rest, read(r, buf, sizeof buf), 1);
	close(r2);
	/* Readers gone: EPIPE, POLLERR on the write end. */
	close(r);
	struct pollfd wp = {w, POLLOUT, 0};
	CHECK_EQ(poll_no_reader, poll(&wp, 1, 0), 1);
	CHECK_EQ(poll_no_reader_revents, wp.revents, POLLOUT | POLLERR);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(write_no_reader_epipe, write(w, "x", 1), EPIPE);
	close(w);

	/* O_RDWR never blocks, and is both ends. */
	int rw = CHECK_OK(open_rdwr, open(fifo, O_RDWR));
	CHECK_EQ(rdwr_write, write(rw, "self", 4), 4);
	CHECK_EQ(rdwr_read, read(rw, buf, sizeof buf), 4);
	/* The data goes with the last close. */
	write(rw, "lost", 4);
	close(rw);
	r = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK_EQ(data_dropped_at_last_close, read(r, buf, sizeof buf), 0);
	close(r);

	/* The FIFO keeps working once unlinked. */
	r = open(fifo, O_RDONLY | O_NONBLOCK);
	w = open(fifo, O_WRONLY | O_NONBLOCK);
	CHECK_OK(unlink_open_fifo, unlink(fifo));
	write(w, "gone", 4);
	CHECK_EQ(unlinked_fifo_read, read(r, buf, sizeof buf), 4);
	close(r);
	close(w);

	/* Permissions apply to opening a FIFO (no O_TRUNC effect). */
	CHECK_OK(mkfifo_again, mkfifo(fifo, 0600));
	rw = CHECK_OK(open_rdwr_trunc, open(fifo, O_RDWR | O_TRUNC));
	close(rw);
	CHECK_OK(mknod_fifo, mknod(scratch_path("node"), S_IFIFO | 0600, 0));
	rw = CHECK_OK(open_mknod_fifo, open(scratch_path("node"), O_RDWR));
	close(rw);
	return check_done();
}

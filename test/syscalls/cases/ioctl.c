/* ioctl on a regular file: the terminal requests are ENOTTY; the generic file ones work. */
#include "check.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void) {
	struct termios t;
	struct winsize ws;
	int n = -1;
	const char *f = scratch_path("ioctl");
	CHECK_OK(create, write_file(f, "0123456789"));
	int fd = CHECK_OK(open_file, open(f, O_RDWR));

	CHECK_ERR(tcgets_file_enotty, ioctl(fd, TCGETS, &t), ENOTTY);
	CHECK_ERR(tiocgwinsz_file_enotty, ioctl(fd, TIOCGWINSZ, &ws), ENOTTY);
	CHECK_ERR(tiocgpgrp_file_enotty, ioctl(fd, TIOCGPGRP, &n), ENOTTY);
	CHECK_ERR(unknown_request_enotty, ioctl(fd, 0x7fff1234, &n), ENOTTY);
	CHECK_ERR(tcgets_ebadf, ioctl(-1, TCGETS, &t), EBADF);
	CHECK_ERR(ioctl_ebadf_unknown, ioctl(999, 0x7fff1234, 0), EBADF);

	/* FIONREAD on a regular file: bytes between the offset and the end. */
	CHECK_OK(fionread, ioctl(fd, FIONREAD, &n));
	CHECK_EQ(fionread_whole_file, n, 10);
	lseek(fd, 3, SEEK_SET);
	CHECK_OK(fionread_after_seek, ioctl(fd, FIONREAD, &n));
	CHECK_EQ(fionread_remaining, n, 7);
	CHECK_ERR(fionread_efault, ioctl(fd, FIONREAD, BADPTR), EFAULT);

	/* FIOCLEX / FIONCLEX set and clear close-on-exec. */
	CHECK_OK(fioclex, ioctl(fd, FIOCLEX));
	CHECK_EQ(fioclex_set, fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_OK(fionclex, ioctl(fd, FIONCLEX));
	CHECK_EQ(fionclex_cleared, fcntl(fd, F_GETFD), 0);

	/* FIONBIO sets and clears O_NONBLOCK. */
	int on = 1, off = 0;
	CHECK_OK(fionbio_on, ioctl(fd, FIONBIO, &on));
	CHECK_TRUE(fionbio_on_flag, (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	CHECK_OK(fionbio_off, ioctl(fd, FIONBIO, &off));
	CHECK_TRUE(fionbio_off_flag, (fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);

	/* A directory is not a terminal either. */
	int dfd = open("/", O_RDONLY | O_DIRECTORY);
	CHECK_ERR(tcgets_dir_enotty, ioctl(dfd, TCGETS, &t), ENOTTY);
	close(dfd);
	close(fd);
	return check_done();
}

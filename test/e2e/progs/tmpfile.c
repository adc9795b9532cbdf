/* tmpfile PATH: writes a line to PATH, reads it back, prints it; leaves PATH in place (the
 * test checks that the host does not see it). Exit 0 if the bytes read back are right. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char msg[] = "written inside\n";
	char buf[64] = {0};
	if (argc != 2)
		return 2;
	int fd = open(argv[1], O_CREAT | O_EXCL | O_RDWR, 0644);
	if (fd < 0) {
		printf("open: %s\n", strerrorname_np(errno));
		return 1;
	}
	if (write(fd, msg, sizeof msg - 1) != (ssize_t)sizeof msg - 1 || lseek(fd, 0, SEEK_SET) != 0 ||
	    read(fd, buf, sizeof buf) != (ssize_t)sizeof msg - 1) {
		printf("write/read back: %s\n", strerrorname_np(errno));
		return 1;
	}
	close(fd);
	printf("%s", buf);
	return strcmp(buf, msg) == 0 ? 0 : 1;
}

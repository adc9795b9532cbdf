/* cat FILE: copies FILE to stdout with read(2)/write(2). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
	char buf[8192];
	ssize_t n;
	if (argc != 2) {
		fprintf(stderr, "usage: cat FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, n - off);
			if (w <= 0) {
				perror("write");
				return 1;
			}
			off += w;
		}
	if (n < 0) {
		perror("read");
		return 1;
	}
	return 0;
}

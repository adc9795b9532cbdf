/* hostwrite FILE: tries every way it knows to change FILE (a host file outside /tmp) and
 * prints one line per attempt, "NAME OK" or "NAME ERRNO". When an open for writing
 * succeeds it also writes through the fd. Exit 0 only if every attempt failed. Never run
 * it natively on a file you care about. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int succeeded;

static void report(const char *name, long r) {
	if (r < 0) {
		printf("%s %s\n", name, strerrorname_np(errno));
	} else {
		printf("%s OK\n", name);
		succeeded++;
	}
}

static void try_open(const char *name, const char *path, int flags) {
	int fd = open(path, flags, 0644);
	report(name, fd);
	if (fd >= 0) {
		report("write_through_fd", write(fd, "pwned\n", 6));
		close(fd);
	}
}

int main(int argc, char **argv) {
	char other[4096];
	if (argc != 2)
		return 2;
	const char *path = argv[1];
	snprintf(other, sizeof other, "%s.new", path);

	try_open("open_wronly", path, O_WRONLY);
	try_open("open_rdwr", path, O_RDWR);
	try_open("open_append", path, O_WRONLY | O_APPEND);
	try_open("open_trunc", path, O_WRONLY | O_TRUNC);
	try_open("open_creat_sibling", other, O_WRONLY | O_CREAT);
	int ro = open(path, O_RDONLY);
	report("open_rdonly_then_write", ro < 0 ? -1 : write(ro, "pwned\n", 6));
	report("truncate", truncate(path, 0));
	report("unlink", unlink(path));
	report("rename", rename(path, other));
	report("chmod", chmod(path, 0777));
	report("utimensat", utimensat(AT_FDCWD, path, NULL, 0));
	report("mkdir_sibling", mkdir(other, 0755));
	return succeeded ? 1 : 0;
}

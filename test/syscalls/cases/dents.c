/* getdents64. */
#include "check.h"

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* list reads the whole directory with buffers of SIZE bytes and returns a bit set of which
 * of ".", "..", "a", "b", "sub" it saw (bits 0..4), bit 5 for any other name, and
 * bit 6 if "sub" had d_type DT_DIR and "a" had DT_REG; -1 on error. */
static int list(int fd, size_t size, int *calls) {
	char buf[4096];
	int seen = 0;
	*calls = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, size);
		if (n < 0)
			return -1;
		if (n == 0)
			return seen;
		(*calls)++;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			const char *names[] = {".", "..", "a", "b", "sub"};
			int hit = 0;
			for (int i = 0; i < 5; i++)
				if (strcmp(d->d_name, names[i]) == 0) {
					seen |= 1 << i;
					hit = 1;
				}
			if (!hit)
				seen |= 1 << 5;
			if (strcmp(d->d_name, "sub") == 0 && d->d_type == DT_DIR)
				seen |= 1 << 6;
			if (strcmp(d->d_name, "a") == 0 && d->d_type != DT_REG)
				seen |= 1 << 7;
			off += d->d_reclen;
		}
	}
}

int main(void) {
	char buf[256];
	int calls;
	CHECK_OK(create_a, write_file(scratch_path("a"), "a"));
	CHECK_OK(create_b, write_file(scratch_path("b"), "b"));
	CHECK_OK(create_sub, mkdir(scratch_path("sub"), 0755));

	int fd = CHECK_OK(open_dir, open(scratch_dir(), O_RDONLY | O_DIRECTORY));
	CHECK_EQ(getdents_all_entries, list(fd, 4096, &calls), 0x5f);
	CHECK_EQ(getdents_one_call, calls, 1);
	CHECK_EQ(getdents_at_end, syscall(SYS_getdents64, fd, buf, sizeof buf), 0);
	CHECK_EQ(getdents_rewind, lseek(fd, 0, SEEK_SET), 0);
	/* A 32-byte buffer holds one short entry (24 bytes for a 1-char name) per call. */
	CHECK_EQ(getdents_small_buffer, list(fd, 32, &calls), 0x5f);
	CHECK_EQ(getdents_small_buffer_calls, calls, 5);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR(getdents_too_small_einval, syscall(SYS_getdents64, fd, buf, 8), EINVAL);
	CHECK_ERR(getdents_efault, syscall(SYS_getdents64, fd, BADPTR, sizeof buf), EFAULT);
	CHECK_ERR(getdents_ebadf, syscall(SYS_getdents64, -1, buf, sizeof buf), EBADF);
	int file = open(scratch_path("a"), O_RDONLY);
	CHECK_ERR(getdents_enotdir, syscall(SYS_getdents64, file, buf, sizeof buf), ENOTDIR);
	close(file);
	close(fd);

	/* The root of the sandbox lists the host's root (read-only): it has etc and usr. */
	int root = CHECK_OK(open_root, open("/", O_RDONLY | O_DIRECTORY));
	char big[8192];
	int etc = 0, usr = 0;
	long n;
	while ((n = syscall(SYS_getdents64, root, big, sizeof big)) > 0)
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(big + off);
			etc |= strcmp(d->d_name, "etc") == 0;
			usr |= strcmp(d->d_name, "usr") == 0;
			off += d->d_reclen;
		}
	CHECK_EQ(getdents_root_ok, n, 0);
	CHECK_TRUE(getdents_root_has_etc_usr, etc && usr);
	close(root);
	return check_done();
}

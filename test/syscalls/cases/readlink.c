/* readlinkat (and readlink), including /proc/self/exe. */
#include "check.h"
#include <limits.h>

int main(int argc, char **argv) {
	char buf[PATH_MAX], want[PATH_MAX];
	(void)argc;

	/* /proc/self/exe names this program: the runner starts it by absolute path. */
	memset(buf, 0, sizeof buf);
	long n = CHECK_OK(readlink_proc_self_exe, readlinkat(AT_FDCWD, "/proc/self/exe", buf, sizeof buf - 1));
	CHECK_TRUE(proc_self_exe_resolves, realpath(argv[0], want) != NULL);
	CHECK_STR(proc_self_exe_is_program, buf, want);
	CHECK_EQ(proc_self_exe_length, n, (long)strlen(want));

	/* /bin -> usr/bin on Debian 12 (merged /usr). */
	memset(buf, 0, sizeof buf);
	CHECK_EQ(readlinkat_abs, readlinkat(AT_FDCWD, "/bin", buf, sizeof buf), 7);
	CHECK_STR(readlinkat_abs_target, buf, "usr/bin");
	int root = CHECK_OK(open_root, open("/", O_RDONLY | O_DIRECTORY));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(readlinkat_relative, readlinkat(root, "bin", buf, sizeof buf), 7);
	CHECK_STR(readlinkat_relative_target, buf, "usr/bin");
	memset(buf, 0, sizeof buf);
	CHECK_EQ(readlink_plain, syscall(SYS_readlink, "/bin", buf, sizeof buf), 7);
	/* A short buffer truncates silently, with no NUL. */
	memset(buf, 'x', sizeof buf);
	CHECK_EQ(readlinkat_truncates, readlinkat(AT_FDCWD, "/bin", buf, 3), 3);
	CHECK_TRUE(readlinkat_truncated_content, memcmp(buf, "usrx", 4) == 0);

	CHECK_ERR(readlinkat_not_link_einval, readlinkat(AT_FDCWD, "/etc/passwd", buf, sizeof buf), EINVAL);
	CHECK_ERR(readlinkat_enoent, readlinkat(AT_FDCWD, "/nonexistent-runsc-test", buf, sizeof buf), ENOENT);
	CHECK_ERR(readlinkat_enotdir, readlinkat(AT_FDCWD, "/etc/passwd/x", buf, sizeof buf), ENOTDIR);
	CHECK_ERR(readlinkat_zero_size_einval, syscall(SYS_readlinkat, AT_FDCWD, "/bin", buf, 0), EINVAL);
	CHECK_ERR(readlinkat_negative_size_einval, syscall(SYS_readlinkat, AT_FDCWD, "/bin", buf, -1), EINVAL);
	CHECK_ERR(readlinkat_efault_buf, syscall(SYS_readlinkat, AT_FDCWD, "/bin", BADPTR, 64), EFAULT);
	CHECK_ERR(readlinkat_efault_path, syscall(SYS_readlinkat, AT_FDCWD, BADPTR, buf, 64), EFAULT);
	CHECK_ERR(readlinkat_ebadf, readlinkat(999, "bin", buf, sizeof buf), EBADF);
	CHECK_ERR(readlinkat_empty_path_enoent, readlinkat(AT_FDCWD, "", buf, sizeof buf), ENOENT);
	close(root);
	return check_done();
}

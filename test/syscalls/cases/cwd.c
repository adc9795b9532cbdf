/* getcwd, chdir. */
#include "check.h"
#include <limits.h>

int main(void) {
	char buf[PATH_MAX], start[PATH_MAX];
	const char *dir = scratch_dir();

	/* getcwd (raw: returns the length including the NUL). */
	long n = CHECK_OK(getcwd_ok, syscall(SYS_getcwd, start, sizeof start));
	CHECK_EQ(getcwd_length, n, (long)strlen(start) + 1);
	CHECK_EQ(getcwd_absolute, start[0], '/');
	CHECK_ERR(getcwd_erange, syscall(SYS_getcwd, buf, 1), ERANGE);
	CHECK_ERR(getcwd_zero_size, syscall(SYS_getcwd, buf, 0), ERANGE);
	CHECK_ERR(getcwd_efault, syscall(SYS_getcwd, BADPTR, sizeof buf), EFAULT);
	CHECK_TRUE(getcwd_glibc, getcwd(buf, sizeof buf) != NULL && strcmp(buf, start) == 0);

	/* chdir */
	CHECK_OK(chdir_scratch, chdir(dir));
	CHECK_OK(getcwd_after_chdir, syscall(SYS_getcwd, buf, sizeof buf));
	CHECK_STR(getcwd_is_scratch, buf, dir);
	CHECK_OK(create_relative, write_file("rel", "relative"));
	CHECK_OK(relative_resolves_in_cwd, access(scratch_path("rel"), F_OK));
	CHECK_OK(chdir_dotdot, chdir(".."));
	CHECK_OK(getcwd_after_dotdot, syscall(SYS_getcwd, buf, sizeof buf));
	CHECK_STR(getcwd_is_tmp, buf, "/tmp");
	CHECK_OK(chdir_root, chdir("/"));
	CHECK_OK(getcwd_root, syscall(SYS_getcwd, buf, sizeof buf));
	CHECK_STR(getcwd_is_root, buf, "/");
	CHECK_OK(chdir_dotdot_at_root, chdir(".."));
	syscall(SYS_getcwd, buf, sizeof buf);
	CHECK_STR(dotdot_at_root_stays, buf, "/");
	CHECK_OK(chdir_relative, chdir("etc"));
	syscall(SYS_getcwd, buf, sizeof buf);
	CHECK_STR(getcwd_is_etc, buf, "/etc");
	CHECK_OK(chdir_symlink_followed, chdir("/bin"));
	syscall(SYS_getcwd, buf, sizeof buf);
	CHECK_STR(getcwd_symlink_resolved, buf, "/usr/bin");
	CHECK_ERR(chdir_enoent, chdir("/nonexistent-runsc-test"), ENOENT);
	CHECK_ERR(chdir_enotdir, chdir("/etc/passwd"), ENOTDIR);
	CHECK_ERR(chdir_enotdir_component, chdir("/etc/passwd/x"), ENOTDIR);
	CHECK_ERR(chdir_empty, chdir(""), ENOENT);
	CHECK_ERR(chdir_efault, syscall(SYS_chdir, BADPTR), EFAULT);
	syscall(SYS_getcwd, buf, sizeof buf);
	CHECK_STR(failed_chdir_keeps_cwd, buf, "/usr/bin");
	CHECK_OK(chdir_back, chdir(start));
	return check_done();
}

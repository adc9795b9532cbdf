/* access, faccessat, faccessat2. */
#include "check.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

int main(int argc, char **argv) {
	(void)argc;
	const char *f = scratch_path("file");
	CHECK_OK(create, write_file(f, "x"));
	/* Natively the EROFS checks run on SCRATCH/passwd (see CHECK_ROFS). */
	CHECK_OK(create_passwd, write_file(scratch_path("passwd"), "x"));

	/* access */
	CHECK_OK(access_exists, syscall(SYS_access, "/etc/passwd", F_OK));
	CHECK_OK(access_read, syscall(SYS_access, "/etc/passwd", R_OK));
	CHECK_OK(access_exec_self, syscall(SYS_access, argv[0], X_OK));
	CHECK_OK(access_dir_search, syscall(SYS_access, "/etc", X_OK));
	CHECK_OK(access_write_scratch, syscall(SYS_access, f, W_OK));
	CHECK_ERR(access_enoent, syscall(SYS_access, "/nonexistent-runsc-test", F_OK), ENOENT);
	CHECK_ERR(access_enotdir, syscall(SYS_access, "/etc/passwd/x", F_OK), ENOTDIR);
	CHECK_ERR(access_bad_mode, syscall(SYS_access, "/etc/passwd", 0x10), EINVAL);
	CHECK_ERR(access_efault, syscall(SYS_access, BADPTR, F_OK), EFAULT);
	/* A file without any x bit is not executable, even for root. */
	CHECK_ERR(access_exec_noexec_file, syscall(SYS_access, f, X_OK), EACCES);
	/* W_OK on the read-only root. */
	CHECK_ROFS(access_write_root_erofs, "/etc/passwd", syscall(SYS_access, P, W_OK));

	/* faccessat */
	int root = CHECK_OK(open_root, open("/", O_RDONLY | O_DIRECTORY));
	CHECK_OK(faccessat_relative, syscall(SYS_faccessat, root, "etc/passwd", R_OK));
	CHECK_OK(faccessat_cwd, syscall(SYS_faccessat, AT_FDCWD, "/etc/passwd", R_OK));
	CHECK_ERR(faccessat_enoent, syscall(SYS_faccessat, root, "nonexistent-runsc-test", F_OK), ENOENT);
	CHECK_ERR(faccessat_ebadf, syscall(SYS_faccessat, 999, "etc", F_OK), EBADF);
	CHECK_ERR(faccessat_bad_mode, syscall(SYS_faccessat, root, "etc", 0x10), EINVAL);
	/* glibc's faccessat with flags: AT_EACCESS is fine; bad flags are EINVAL. */
	CHECK_OK(faccessat_glibc_eaccess, faccessat(AT_FDCWD, "/etc/passwd", R_OK, AT_EACCESS));
	CHECK_ERR(faccessat_glibc_bad_flags, faccessat(AT_FDCWD, "/etc/passwd", R_OK, 0x4000000), EINVAL);

	/* faccessat2: the flags argument is passed to the kernel. */
	CHECK_OK(faccessat2_ok, syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0));
	CHECK_OK(faccessat2_eaccess, syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, AT_EACCESS));
	CHECK_OK(faccessat2_nofollow, syscall(SYS_faccessat2, AT_FDCWD, "/bin", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK_OK(faccessat2_relative, syscall(SYS_faccessat2, root, "etc", X_OK, 0));
	int fd = open(f, O_RDONLY);
	CHECK_OK(faccessat2_empty_path, syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	CHECK_ERR(faccessat2_empty_path_without_flag, syscall(SYS_faccessat2, fd, "", R_OK, 0), ENOENT);
	close(fd);
	CHECK_ERR(faccessat2_bad_flags, syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0x4000000), EINVAL);
	CHECK_ERR(faccessat2_bad_mode, syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", 0x10, 0), EINVAL);
	CHECK_ERR(faccessat2_enoent, syscall(SYS_faccessat2, AT_FDCWD, "/nonexistent-runsc-test", F_OK, 0), ENOENT);
	CHECK_ERR(faccessat2_ebadf, syscall(SYS_faccessat2, 999, "etc", F_OK, 0), EBADF);
	CHECK_ERR(faccessat2_efault, syscall(SYS_faccessat2, AT_FDCWD, BADPTR, F_OK, 0), EFAULT);
	CHECK_ROFS(faccessat2_write_root_erofs, "/etc/passwd", syscall(SYS_faccessat2, AT_FDCWD, P, W_OK, 0));
	close(root);
	return check_done();
}

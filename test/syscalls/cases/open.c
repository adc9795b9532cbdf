/* openat, close, umask, and creation on the read-only root (open, mkdir). */
#include "check.h"

int main(void) {
	const char *f = scratch_path("file");
	struct stat st;

	/* openat: existing files, absolute and relative to a directory fd. */
	int fd = CHECK_OK(openat_abs, openat(AT_FDCWD, "/etc/passwd", O_RDONLY));
	close(fd);
	int root = CHECK_OK(openat_dir, openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY));
	fd = CHECK_OK(openat_relative, openat(root, "etc/passwd", O_RDONLY));
	close(fd);
	CHECK_ERR(openat_enoent, openat(AT_FDCWD, "/nonexistent-runsc-test", O_RDONLY), ENOENT);
	CHECK_ERR(openat_enoent_dir, openat(root, "etc/nonexistent-runsc-test", O_RDONLY), ENOENT);
	CHECK_ERR(openat_enotdir_component, openat(AT_FDCWD, "/etc/passwd/x", O_RDONLY), ENOTDIR);
	CHECK_ERR(openat_o_directory_on_file, openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
	CHECK_ERR(openat_eisdir_write, openat(AT_FDCWD, scratch_dir(), O_WRONLY), EISDIR);
	CHECK_ERR(openat_ebadf_dirfd, openat(999, "etc/passwd", O_RDONLY), EBADF);
	fd = CHECK_OK(openat_ebadf_ignored_for_abs, openat(999, "/etc/passwd", O_RDONLY));
	close(fd);
	int file = open("/etc/passwd", O_RDONLY);
	CHECK_ERR(openat_enotdir_dirfd, openat(file, "x", O_RDONLY), ENOTDIR);
	close(file);
	CHECK_ERR(openat_efault, syscall(SYS_openat, AT_FDCWD, BADPTR, O_RDONLY), EFAULT);
	CHECK_ERR(openat_empty_path, openat(AT_FDCWD, "", O_RDONLY), ENOENT);
	CHECK_ERR(openat_tmpfile_rdonly_einval, openat(AT_FDCWD, scratch_dir(), O_TMPFILE | O_RDONLY, 0600), EINVAL);

	/* Creation, O_EXCL, O_TRUNC, O_APPEND in the scratch dir. */
	fd = CHECK_OK(openat_creat, openat(AT_FDCWD, f, O_CREAT | O_EXCL | O_WRONLY, 0644));
	CHECK_EQ(write_new, write(fd, "0123456789", 10), 10);
	close(fd);
	CHECK_ERR(openat_excl_eexist, openat(AT_FDCWD, f, O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	fd = CHECK_OK(openat_creat_existing, openat(AT_FDCWD, f, O_CREAT | O_RDONLY, 0644));
	CHECK_OK(fstat_existing, fstat(fd, &st));
	CHECK_EQ(creat_existing_keeps_size, st.st_size, 10);
	close(fd);
	fd = CHECK_OK(openat_trunc, openat(AT_FDCWD, f, O_TRUNC | O_WRONLY));
	CHECK_OK(fstat_trunc, fstat(fd, &st));
	CHECK_EQ(trunc_size, st.st_size, 0);
	close(fd);
	fd = CHECK_OK(openat_cloexec, openat(AT_FDCWD, f, O_RDONLY | O_CLOEXEC));
	CHECK_EQ(cloexec_flag, fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);
	CHECK_ERR(openat_creat_enoent_parent, openat(AT_FDCWD, scratch_path("nodir/x"), O_CREAT | O_WRONLY, 0644), ENOENT);

	/* umask applies to the mode of new files and directories. */
	mode_t old = umask(022);
	CHECK_EQ(umask_returns_old, umask(077), 022);
	const char *g = scratch_path("umasked");
	fd = CHECK_OK(openat_umask, openat(AT_FDCWD, g, O_CREAT | O_WRONLY, 0666));
	CHECK_OK(fstat_umask, fstat(fd, &st));
	CHECK_EQ(umask_applied, st.st_mode & 0777, 0600);
	close(fd);
	CHECK_OK(mkdir_umask, mkdir(scratch_path("umaskdir"), 0777));
	CHECK_OK(stat_umaskdir, stat(scratch_path("umaskdir"), &st));
	CHECK_EQ(umask_applied_dir, st.st_mode & 0777, 0700);
	CHECK_EQ(umask_high_bits_ignored, umask(0777 | 01000), 077);
	CHECK_EQ(umask_masked_to_0777, umask(old), 0777);

	/* close */
	fd = open(f, O_RDONLY);
	CHECK_OK(close_ok, close(fd));
	CHECK_ERR(close_twice_ebadf, close(fd), EBADF);
	CHECK_ERR(close_negative_ebadf, close(-1), EBADF);
	CHECK_ERR(close_large_ebadf, close(100000), EBADF);

	/* Writes on the read-only root (EROFS under runsc; natively on scratch). */
	fd = CHECK_ROFS(creat_on_root_erofs, "/etc/runsc-test-x", open(P, O_CREAT | O_WRONLY, 0644));
	if (fd >= 0)
		close(fd);
	fd = CHECK_ROFS(mkdir_on_root_erofs, "/runsc-test-dir", mkdir(P, 0755));
	if (sandboxed()) {
		CHECK_ERR(open_existing_wronly_erofs, open("/etc/passwd", O_WRONLY), EROFS);
		CHECK_ERR(open_existing_rdwr_erofs, open("/etc/passwd", O_RDWR), EROFS);
	} else {
		/* Natively the same calls succeed on a scratch file. */
		fd = CHECK_OK(open_existing_wronly_erofs, open(f, O_WRONLY));
		close(fd);
		fd = CHECK_OK(open_existing_rdwr_erofs, open(f, O_RDWR));
		close(fd);
	}
	fd = CHECK_OK(open_existing_rdonly_on_root, open("/etc/passwd", O_RDONLY));
	close(fd);

	close(root);
	return check_done();
}

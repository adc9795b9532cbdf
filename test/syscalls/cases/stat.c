/* fstat, newfstatat, statx. */
#include "check.h"
#include <linux/stat.h>

#ifndef STATX__RESERVED
#define STATX__RESERVED 0x80000000U
#endif

int main(void) {
	struct stat st, st2;
	struct statx stx;
	const char *f = scratch_path("statme");
	umask(022);
	CHECK_OK(create, write_file(f, "twelve bytes"));

	/* fstat (raw: glibc's fstat goes through newfstatat) */
	int fd = CHECK_OK(open_file, open(f, O_RDONLY));
	CHECK_OK(fstat_ok, syscall(SYS_fstat, fd, &st));
	CHECK_EQ(fstat_size, st.st_size, 12);
	CHECK_TRUE(fstat_is_reg, S_ISREG(st.st_mode));
	CHECK_EQ(fstat_mode, st.st_mode & 0777, 0644);
	CHECK_TRUE(fstat_nlink, st.st_nlink == 1);
	CHECK_TRUE(fstat_blksize, st.st_blksize > 0);
	CHECK_ERR(fstat_ebadf, syscall(SYS_fstat, -1, &st), EBADF);
	CHECK_ERR(fstat_efault, syscall(SYS_fstat, fd, BADPTR), EFAULT);
	int dfd = CHECK_OK(open_root, open("/", O_RDONLY | O_DIRECTORY));
	CHECK_OK(fstat_dir, syscall(SYS_fstat, dfd, &st2));
	CHECK_TRUE(fstat_is_dir, S_ISDIR(st2.st_mode));
	CHECK_EQ(fstat_root_ino_differs, st2.st_ino == st.st_ino && st2.st_dev == st.st_dev, 0);

	/* newfstatat */
	CHECK_OK(fstatat_abs, syscall(SYS_newfstatat, AT_FDCWD, f, &st2, 0));
	CHECK_TRUE(fstatat_matches_fstat, st2.st_ino == st.st_ino && st2.st_dev == st.st_dev && st2.st_size == 12);
	CHECK_OK(fstatat_relative, syscall(SYS_newfstatat, dfd, "etc/passwd", &st2, 0));
	CHECK_TRUE(fstatat_relative_is_reg, S_ISREG(st2.st_mode));
	CHECK_OK(fstatat_empty_path, syscall(SYS_newfstatat, fd, "", &st2, AT_EMPTY_PATH));
	CHECK_EQ(fstatat_empty_path_ino, st2.st_ino, st.st_ino);
	CHECK_ERR(fstatat_empty_path_without_flag, syscall(SYS_newfstatat, fd, "", &st2, 0), ENOENT);
	/* /bin is a symlink to usr/bin on Debian 12 (merged /usr). */
	CHECK_OK(fstatat_nofollow, syscall(SYS_newfstatat, AT_FDCWD, "/bin", &st2, AT_SYMLINK_NOFOLLOW));
	CHECK_TRUE(fstatat_nofollow_is_link, S_ISLNK(st2.st_mode));
	CHECK_OK(fstatat_follow, syscall(SYS_newfstatat, AT_FDCWD, "/bin", &st2, 0));
	CHECK_TRUE(fstatat_follow_is_dir, S_ISDIR(st2.st_mode));
	CHECK_ERR(fstatat_enoent, syscall(SYS_newfstatat, AT_FDCWD, "/nonexistent-runsc-test", &st2, 0), ENOENT);
	CHECK_ERR(fstatat_enotdir, syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd/x", &st2, 0), ENOTDIR);
	CHECK_ERR(fstatat_bad_flags, syscall(SYS_newfstatat, AT_FDCWD, f, &st2, 0x80000000), EINVAL);
	CHECK_ERR(fstatat_ebadf, syscall(SYS_newfstatat, 999, "x", &st2, 0), EBADF);
	CHECK_ERR(fstatat_efault_path, syscall(SYS_newfstatat, AT_FDCWD, BADPTR, &st2, 0), EFAULT);
	CHECK_ERR(fstatat_efault_buf, syscall(SYS_newfstatat, AT_FDCWD, f, BADPTR, 0), EFAULT);

	/* statx */
	memset(&stx, 0, sizeof stx);
	CHECK_OK(statx_ok, syscall(SYS_statx, AT_FDCWD, f, 0, STATX_BASIC_STATS, &stx));
	CHECK_TRUE(statx_mask_size, (stx.stx_mask & (STATX_SIZE | STATX_TYPE | STATX_MODE)) == (STATX_SIZE | STATX_TYPE | STATX_MODE));
	CHECK_EQ(statx_size, stx.stx_size, 12);
	CHECK_EQ(statx_ino, stx.stx_ino, st.st_ino);
	CHECK_TRUE(statx_is_reg, S_ISREG(stx.stx_mode));
	CHECK_OK(statx_empty_path, syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx));
	CHECK_EQ(statx_empty_path_size, stx.stx_size, 12);
	CHECK_OK(statx_nofollow, syscall(SYS_statx, AT_FDCWD, "/bin", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx));
	CHECK_TRUE(statx_nofollow_is_link, S_ISLNK(stx.stx_mode));
	CHECK_OK(statx_relative, syscall(SYS_statx, dfd, "etc", 0, STATX_TYPE, &stx));
	CHECK_TRUE(statx_relative_is_dir, S_ISDIR(stx.stx_mode));
	CHECK_ERR(statx_enoent, syscall(SYS_statx, AT_FDCWD, "/nonexistent-runsc-test", 0, STATX_BASIC_STATS, &stx), ENOENT);
	CHECK_ERR(statx_bad_flags, syscall(SYS_statx, AT_FDCWD, f, 0x80000000, STATX_BASIC_STATS, &stx), EINVAL);
	CHECK_ERR(statx_reserved_mask, syscall(SYS_statx, AT_FDCWD, f, 0, STATX__RESERVED, &stx), EINVAL);
	CHECK_ERR(statx_bad_sync_type, syscall(SYS_statx, AT_FDCWD, f, AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx), EINVAL);
	CHECK_ERR(statx_ebadf, syscall(SYS_statx, 999, "x", 0, STATX_BASIC_STATS, &stx), EBADF);
	CHECK_ERR(statx_efault_buf, syscall(SYS_statx, AT_FDCWD, f, 0, STATX_BASIC_STATS, BADPTR), EFAULT);
	CHECK_ERR(statx_efault_path, syscall(SYS_statx, AT_FDCWD, BADPTR, 0, STATX_BASIC_STATS, &stx), EFAULT);

	close(fd);
	close(dfd);
	return check_done();
}

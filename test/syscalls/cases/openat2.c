/* openat2: struct open_how checks and the RESOLVE_* flags. */
#include "check.h"
#include <linux/openat2.h>

static long o2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
               unsigned long long resolve) {
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

int main(void) {
	const char *d = scratch_path("dir");
	CHECK_OK(mkdir, mkdir(d, 0755));
	int dfd = CHECK_OK(open_dir, open(d, O_RDONLY | O_DIRECTORY));
	CHECK_OK(mkdir_sub, mkdirat(dfd, "sub", 0755));
	CHECK_OK(file, write_file(scratch_path("dir/file"), "x"));
	CHECK_OK(outside, write_file(scratch_path("outside"), "x"));
	CHECK_OK(link_abs, symlinkat("/etc", dfd, "abs"));
	CHECK_OK(link_root_file, symlinkat("/file", dfd, "rootfile"));
	CHECK_OK(link_rel, symlinkat("sub", dfd, "rel"));
	CHECK_OK(link_up, symlinkat("../outside", dfd, "up"));

	/* struct open_how. */
	struct open_how how = {.flags = O_RDONLY};
	long fd = CHECK_OK(basic, syscall(SYS_openat2, dfd, "file", &how, sizeof how));
	close(fd);
	CHECK_ERR(size_too_small, syscall(SYS_openat2, dfd, "file", &how, 23), EINVAL);
	char big[64] = {0};
	memcpy(big, &how, sizeof how);
	fd = CHECK_OK(size_larger_zeroed, syscall(SYS_openat2, dfd, "file", big, sizeof big));
	close(fd);
	big[40] = 1;
	CHECK_ERR(size_larger_nonzero, syscall(SYS_openat2, dfd, "file", big, sizeof big), E2BIG);
	CHECK_ERR(size_huge, syscall(SYS_openat2, dfd, "file", big, 8192), E2BIG);
	CHECK_ERR(how_efault, syscall(SYS_openat2, dfd, "file", BADPTR, sizeof how), EFAULT);
	CHECK_ERR(unknown_flag, o2(dfd, "file", 1ULL << 40, 0, 0), EINVAL);
	CHECK_ERR(unknown_resolve, o2(dfd, "file", O_RDONLY, 0, 0x1000), EINVAL);
	CHECK_ERR(beneath_and_in_root, o2(dfd, "file", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL);
	CHECK_ERR(mode_without_creat, o2(dfd, "file", O_RDONLY, 0644, 0), EINVAL);
	CHECK_ERR(bad_mode_bits, o2(dfd, "new", O_CREAT | O_WRONLY, 010000, 0), EINVAL);
	CHECK_ERR(opath_extra_flags, o2(dfd, "file", O_PATH | O_APPEND, 0, 0), EINVAL);
	CHECK_OK(creat_mode, o2(dfd, "new", O_CREAT | O_WRONLY, 0600, 0));
	CHECK_ERR(cached_creat_eagain, o2(dfd, "new2", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED), EAGAIN);

	/* RESOLVE_BENEATH */
	CHECK_OK(beneath_plain, o2(dfd, "file", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK_OK(beneath_dotdot_inside, o2(dfd, "sub/../file", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK_OK(beneath_rel_link, o2(dfd, "rel", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK_ERR(beneath_dotdot_out, o2(dfd, "../outside", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR(beneath_dotdot_out_back, o2(dfd, "sub/../../dir/file", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR(beneath_absolute, o2(dfd, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR(beneath_abs_link, o2(dfd, "abs", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR(beneath_up_link, o2(dfd, "up", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);

	/* RESOLVE_IN_ROOT: the directory is the root. */
	CHECK_OK(in_root_absolute, o2(dfd, "/file", O_RDONLY, 0, RESOLVE_IN_ROOT));
	CHECK_OK(in_root_dotdot_clamped, o2(dfd, "../../file", O_RDONLY, 0, RESOLVE_IN_ROOT));
	CHECK_OK(in_root_abs_link, o2(dfd, "rootfile", O_RDONLY, 0, RESOLVE_IN_ROOT));
	CHECK_ERR(in_root_no_etc, o2(dfd, "/etc/passwd", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT);

	/* RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS */
	CHECK_ERR(no_symlinks, o2(dfd, "rel/../file", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
	CHECK_ERR(no_symlinks_final, o2(dfd, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
	CHECK_OK(no_symlinks_opath_nofollow, o2(dfd, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
	char magic[64];
	snprintf(magic, sizeof magic, "/proc/self/fd/%d", dfd);
	CHECK_OK(magic_ok, o2(AT_FDCWD, magic, O_RDONLY, 0, 0));
	CHECK_ERR(no_magiclinks, o2(AT_FDCWD, magic, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP);
	CHECK_OK(no_magiclinks_plain_symlink_ok, o2(dfd, "rel", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));

	/* RESOLVE_NO_XDEV: /proc is another mount. */
	int root = open("/", O_RDONLY | O_DIRECTORY);
	CHECK_ERR(no_xdev_into_proc, o2(root, "proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
	CHECK_OK(no_xdev_same_mount, o2(dfd, "sub", O_RDONLY, 0, RESOLVE_NO_XDEV));
	int proc = open("/proc", O_RDONLY | O_DIRECTORY);
	CHECK_ERR(no_xdev_out_of_proc, o2(proc, "../etc", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
	close(root);
	close(proc);
	close(dfd);
	return check_done();
}

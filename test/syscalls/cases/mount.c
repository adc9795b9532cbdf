/* mount, umount2, pivot_root, chroot (as root). Natively the program first moves to a
 * private mount namespace, so that nothing it mounts is seen by the host; in the sandbox
 * the whole mount tree is the sandbox's own. */
#include "check.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define TMPFS_MAGIC 0x01021994
#define PROC_MAGIC 0x9fa0

static int in_mounts(const char *path) {
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char dev[256], mnt[512];
		if (sscanf(line, "%255s %511s", dev, mnt) == 2 && strcmp(mnt, path) == 0)
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

static int unprivileged(void) {
	if (setgid(65534) || setuid(65534))
		return 9;
	int r = 0;
	if (!(mount("none", "/", "tmpfs", 0, NULL) == -1 && errno == EPERM))
		r |= 1;
	if (!(umount2(scratch_dir(), 0) == -1 && errno == EPERM))
		r |= 2;
	if (!(chroot("/") == -1 && errno == EPERM))
		r |= 4;
	if (!(syscall(SYS_pivot_root, "/", "/") == -1 && errno == EPERM))
		r |= 8;
	return r;
}

int main(void) {
	if (!sandboxed()) {
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
			perror("private mount namespace");
			return 2;
		}
	}
	/* scratch_path's buffers are reused: keep copies. */
	const char *mnt = strdup(scratch_path("mnt")), *src = strdup(scratch_path("src"));
	const char *bind = strdup(scratch_path("bind")), *bind2 = strdup(scratch_path("bind2"));
	chmod(scratch_dir(), 0755);
	CHECK_OK(mkdir_mnt, mkdir(mnt, 0755));
	CHECK_OK(mkdir_src, mkdir(src, 0755));
	CHECK_OK(mkdir_bind, mkdir(bind, 0755));
	CHECK_OK(mkdir_bind2, mkdir(bind2, 0755));
	struct statfs sf;
	struct stat st;

	/* tmpfs with options. */
	CHECK_OK(mount_tmpfs, mount("none", mnt, "tmpfs", MS_NOSUID, "size=1m,mode=0700"));
	CHECK_OK(statfs_tmpfs, statfs(mnt, &sf));
	CHECK_EQ(tmpfs_magic, sf.f_type, TMPFS_MAGIC);
	CHECK_EQ(tmpfs_size, (long long)sf.f_blocks * sf.f_bsize, 1 << 20);
	CHECK_OK(stat_mnt, stat(mnt, &st));
	CHECK_EQ(tmpfs_mode, st.st_mode & 07777, 0700);
	CHECK_TRUE(in_proc_mounts, in_mounts(mnt));
	char path[256];
	snprintf(path, sizeof path, "%s/big", mnt);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	static char chunk[65536];
	long total = 0;
	ssize_t n;
	while ((n = write(fd, chunk, sizeof chunk)) > 0)
		total += n;
	CHECK_ERR(tmpfs_full_enospc, write(fd, chunk, sizeof chunk), ENOSPC);
	CHECK_TRUE(tmpfs_filled_to_size, total <= (1 << 20) && total >= (1 << 20) - 65536);
	close(fd);
	unlink(path);

	/* Remount read-only and back. */
	CHECK_OK(remount_ro, mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	CHECK_ERR(write_on_ro, open(path, O_CREAT | O_WRONLY, 0644), EROFS);
	CHECK_OK(remount_rw, mount(NULL, mnt, NULL, MS_REMOUNT, NULL));
	CHECK_OK(write_on_rw, write_file(path, "x"));
	CHECK_ERR(remount_not_mount_root, mount(NULL, src, NULL, MS_REMOUNT, NULL), EINVAL);

	/* Bind mounts. */
	char srcfile[256], bindfile[256];
	snprintf(srcfile, sizeof srcfile, "%s/f", src);
	snprintf(bindfile, sizeof bindfile, "%s/f", bind);
	CHECK_OK(write_src, write_file(srcfile, "bound"));
	CHECK_OK(bind_mount, mount(src, bind, NULL, MS_BIND, NULL));
	struct stat a, b;
	CHECK_TRUE(bind_same_file, stat(srcfile, &a) == 0 && stat(bindfile, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	CHECK_OK(create_through_bind, write_file(scratch_path("bind/g"), "g"));
	snprintf(path, sizeof path, "%s/g", src);
	CHECK_OK(visible_in_src, access(path, F_OK));
	/* A recursive bind takes the mounts below. */
	snprintf(path, sizeof path, "%s/sub", src);
	CHECK_OK(mkdir_sub, mkdir(path, 0755));
	CHECK_OK(mount_sub, mount("none", path, "tmpfs", 0, NULL));
	CHECK_OK(rbind, mount(src, bind2, NULL, MS_BIND | MS_REC, NULL));
	snprintf(path, sizeof path, "%s/sub", bind2);
	CHECK_TRUE(rbind_has_submount, statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC);
	CHECK_ERR(umount_busy, umount2(bind2, 0), EBUSY);
	CHECK_OK(umount_detach, umount2(bind2, MNT_DETACH));
	CHECK_TRUE(rbind_gone, !in_mounts(bind2));
	CHECK_OK(umount_bind, umount2(bind, 0));
	CHECK_ERR(bind_gone, access(bindfile, F_OK), ENOENT);
	snprintf(path, sizeof path, "%s/sub", src);
	CHECK_OK(umount_sub, umount(path));

	/* Errors. */
	CHECK_ERR(umount_not_mount, umount2(src, 0), EINVAL);
	CHECK_ERR(umount_enoent, umount2(scratch_path("nope"), 0), ENOENT);
	CHECK_ERR(umount_bad_flags, umount2(mnt, 0x100), EINVAL);
	CHECK_ERR(mount_unknown_type, mount("none", src, "nosuchfs", 0, NULL), ENODEV);
	CHECK_ERR(mount_bad_tmpfs_option, mount("none", src, "tmpfs", 0, "bogus=1"), EINVAL);
	CHECK_ERR(mount_enoent, mount("none", scratch_path("nope"), "tmpfs", 0, NULL), ENOENT);
	CHECK_ERR(mount_notdir, mount("none", srcfile, "tmpfs", 0, NULL), ENOTDIR);
	CHECK_OK(propagation_private, mount(NULL, mnt, NULL, MS_PRIVATE, NULL));

	/* proc elsewhere. */
	CHECK_OK(mount_proc, mount("proc", src, "proc", 0, NULL));
	snprintf(path, sizeof path, "%s/self/status", src);
	CHECK_OK(proc_works, access(path, R_OK));
	CHECK_TRUE(proc_magic, statfs(src, &sf) == 0 && sf.f_type == PROC_MAGIC);
	CHECK_OK(umount_proc, umount(src));

	/* Without CAP_SYS_ADMIN / CAP_SYS_CHROOT. */
	pid_t p = fork();
	if (p == 0)
		_exit(unprivileged());
	int status = 0;
	waitpid(p, &status, 0);
	CHECK_EQ(unprivileged_eperm, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);

	/* chroot, in a child. */
	CHECK_OK(marker, write_file(scratch_path("mnt/marker"), "m"));
	p = fork();
	if (p == 0) {
		int r = 0;
		if (chroot(mnt) != 0)
			r |= 1;
		if (chdir("/") != 0 || access("/marker", F_OK) != 0)
			r |= 2;
		if (access("/../marker", F_OK) != 0)
			r |= 4;
		if (!(chroot("/marker") == -1 && errno == ENOTDIR))
			r |= 8;
		_exit(r);
	}
	waitpid(p, &status, 0);
	CHECK_EQ(chroot_child, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	CHECK_ERR(chroot_enoent, chroot(scratch_path("nope")), ENOENT);

	/* pivot_root into the tmpfs and back. */
	char old[256], back[256];
	snprintf(old, sizeof old, "%s/old", mnt);
	CHECK_OK(mkdir_old, mkdir(old, 0755));
	char cwd[256];
	getcwd(cwd, sizeof cwd);
	CHECK_OK(chdir_mnt, chdir(mnt));
	CHECK_OK(pivot_root, syscall(SYS_pivot_root, ".", "old"));
	CHECK_OK(new_root_marker, access("/marker", F_OK));
	CHECK_OK(old_root_under_old, access("/old/etc", F_OK));
	snprintf(back, sizeof back, "/old%s", mnt);
	CHECK_OK(pivot_back, syscall(SYS_pivot_root, "/old", back));
	CHECK_OK(chdir_root, chdir("/"));
	CHECK_OK(etc_again, access("/etc", F_OK));
	CHECK_TRUE(tmpfs_back_in_place, statfs(mnt, &sf) == 0 && sf.f_type == TMPFS_MAGIC);
	snprintf(path, sizeof path, "%s/notmount", mnt);
	mkdir(path, 0755);
	CHECK_ERR(pivot_not_mount, syscall(SYS_pivot_root, path, path), EINVAL);
	CHECK_ERR(pivot_put_old_on_root, syscall(SYS_pivot_root, mnt, "/"), EBUSY);
	chdir(cwd);

	CHECK_OK(umount_tmpfs, umount2(mnt, 0));
	CHECK_TRUE(tmpfs_gone, !in_mounts(mnt));
	return check_done();
}

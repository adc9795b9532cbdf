/* setxattr, getxattr, listxattr, removexattr and their l* and f* forms. */
#include "check.h"
#include <sys/wait.h>
#include <sys/xattr.h>

static int has_name(const char *list, ssize_t n, const char *name) {
	for (ssize_t i = 0; i < n; i += strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return 1;
	return 0;
}

int main(void) {
	const char *f = scratch_path("file");
	const char *d = scratch_path("dir");
	const char *l = scratch_path("link");
	char buf[256], list[1024];
	CHECK_OK(create, write_file(f, "x"));
	CHECK_OK(mkdir, mkdir(d, 0755));
	CHECK_OK(symlink, symlink("file", l));
	CHECK_OK(create_hostname, write_file(scratch_path("hostname"), "x"));

	/* Set, get, size queries. */
	CHECK_OK(set, setxattr(f, "user.k", "value", 5, 0));
	CHECK_EQ(get_size, getxattr(f, "user.k", NULL, 0), 5);
	memset(buf, 0, sizeof buf);
	CHECK_EQ(get, getxattr(f, "user.k", buf, sizeof buf), 5);
	CHECK_STR(get_value, buf, "value");
	CHECK_ERR(get_erange, getxattr(f, "user.k", buf, 2), ERANGE);
	CHECK_ERR(get_enodata, getxattr(f, "user.missing", buf, sizeof buf), ENODATA);
	CHECK_OK(set_empty_value, setxattr(f, "user.empty", "", 0, 0));
	CHECK_EQ(get_empty_value, getxattr(f, "user.empty", buf, sizeof buf), 0);

	/* Flags. */
	CHECK_ERR(create_exists, setxattr(f, "user.k", "v", 1, XATTR_CREATE), EEXIST);
	CHECK_ERR(replace_missing, setxattr(f, "user.new", "v", 1, XATTR_REPLACE), ENODATA);
	CHECK_OK(replace, setxattr(f, "user.k", "v2", 2, XATTR_REPLACE));
	CHECK_EQ(get_replaced, getxattr(f, "user.k", buf, sizeof buf), 2);
	CHECK_ERR(bad_flags, setxattr(f, "user.k", "v", 1, 4), EINVAL);

	/* Names and sizes. */
	char longname[300];
	memset(longname, 'a', sizeof longname);
	memcpy(longname, "user.", 5);
	longname[256] = 0;
	CHECK_ERR(name_too_long, setxattr(f, longname, "v", 1, 0), ERANGE);
	CHECK_ERR(get_name_too_long, getxattr(f, longname, buf, sizeof buf), ERANGE);
	CHECK_ERR(empty_name, setxattr(f, "", "v", 1, 0), ERANGE);
	CHECK_ERR(unknown_namespace, setxattr(f, "bogus.k", "v", 1, 0), EOPNOTSUPP);
	CHECK_ERR(get_unknown_namespace, getxattr(f, "bogus.k", buf, sizeof buf), EOPNOTSUPP);
	static char big[65537];
	CHECK_ERR(value_too_big, setxattr(f, "user.big", big, sizeof big, 0), E2BIG);
	CHECK_ERR(name_efault, setxattr(f, BADPTR, "v", 1, 0), EFAULT);
	CHECK_ERR(value_efault, setxattr(f, "user.k", BADPTR, 1, 0), EFAULT);
	CHECK_ERR(get_value_efault, getxattr(f, "user.k", BADPTR, 10), EFAULT);
	CHECK_ERR(path_enoent, setxattr(scratch_path("missing"), "user.k", "v", 1, 0), ENOENT);
	CHECK_ERR(get_path_enoent, getxattr(scratch_path("missing"), "user.k", buf, sizeof buf), ENOENT);

	/* Listing. */
	ssize_t n = CHECK_OK(list_size, listxattr(f, NULL, 0));
	ssize_t m = CHECK_OK(list, listxattr(f, list, sizeof list));
	CHECK_EQ(list_sizes_agree, n, m);
	CHECK_TRUE(list_has_k, has_name(list, m, "user.k"));
	CHECK_TRUE(list_has_empty, has_name(list, m, "user.empty"));
	CHECK_ERR(list_erange, listxattr(f, list, 3), ERANGE);
	CHECK_ERR(list_efault, listxattr(f, BADPTR, sizeof list), EFAULT);

	/* Remove. */
	CHECK_OK(remove, removexattr(f, "user.empty"));
	CHECK_ERR(removed_gone, getxattr(f, "user.empty", buf, sizeof buf), ENODATA);
	CHECK_ERR(remove_missing, removexattr(f, "user.empty"), ENODATA);

	/* Directories take user attributes; symlinks and devices do not. */
	CHECK_OK(dir_set, setxattr(d, "user.d", "1", 1, 0));
	CHECK_EQ(dir_get, getxattr(d, "user.d", buf, sizeof buf), 1);
	CHECK_ERR(symlink_set_eperm, lsetxattr(l, "user.k", "v", 1, 0), EPERM);
	CHECK_ERR(symlink_get_enodata, lgetxattr(l, "user.k", buf, sizeof buf), ENODATA);
	CHECK_EQ(follow_symlink_get, getxattr(l, "user.k", buf, sizeof buf), 2);
	CHECK_ERR(chardev_set_eperm, setxattr("/dev/null", "user.k", "v", 1, 0), EPERM);

	/* The f* forms. */
	int fd = CHECK_OK(open, open(f, O_RDONLY));
	CHECK_OK(fset, fsetxattr(fd, "user.f", "fv", 2, 0));
	CHECK_EQ(fget, fgetxattr(fd, "user.f", buf, sizeof buf), 2);
	CHECK_TRUE(flist, has_name(list, flistxattr(fd, list, sizeof list), "user.f"));
	CHECK_OK(fremove, fremovexattr(fd, "user.f"));
	CHECK_ERR(fget_ebadf, fgetxattr(999, "user.f", buf, sizeof buf), EBADF);
	close(fd);
	int pfd = CHECK_OK(open_path, open(f, O_PATH));
	CHECK_ERR(fget_opath_ebadf, fgetxattr(pfd, "user.k", buf, sizeof buf), EBADF);
	CHECK_ERR(fset_opath_ebadf, fsetxattr(pfd, "user.k", "v", 1, 0), EBADF);
	close(pfd);

	/* Trusted attributes are root's (CAP_SYS_ADMIN). */
	CHECK_OK(trusted_set, setxattr(f, "trusted.t", "tv", 2, 0));
	CHECK_EQ(trusted_get, getxattr(f, "trusted.t", buf, sizeof buf), 2);

	/* Unprivileged: reading needs read permission, writing write permission. */
	CHECK_OK(chmod_0644, chmod(f, 0644));
	CHECK_OK(chmod_dir, chmod(scratch_dir(), 0755));
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(9);
		int r = 0;
		if (getxattr(f, "user.k", buf, sizeof buf) != 2)
			r |= 1;
		if (!(setxattr(f, "user.k", "v", 1, 0) == -1 && errno == EACCES))
			r |= 2;
		if (!(getxattr(f, "trusted.t", buf, sizeof buf) == -1 && errno == ENODATA))
			r |= 4;
		if (!(setxattr(f, "trusted.t", "v", 1, 0) == -1 && errno == EPERM))
			r |= 8;
		ssize_t k = listxattr(f, list, sizeof list);
		if (k < 0 || has_name(list, k, "trusted.t") || !has_name(list, k, "user.k"))
			r |= 16;
		_exit(r);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_EQ(unprivileged_rules, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);

	/* The read-only root. */
	CHECK_ROFS(set_erofs, "/etc/hostname", setxattr(P, "user.k", "v", 1, 0));
	return check_done();
}

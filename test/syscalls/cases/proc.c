/* /proc: the per-process files, /proc/self, and the system files programs read. */
#include "check.h"
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <pthread.h>

static char *slurp(const char *path, size_t *len) {
	static char bufs[4][65536];
	static int next;
	char *buf = bufs[next++ % 4];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd, buf + n, sizeof bufs[0] - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* field returns the value after "key:\t" in a status-like file, or "". */
static const char *field(const char *text, const char *key) {
	static char out[256];
	char pat[64];
	snprintf(pat, sizeof pat, "\n%s:", key);
	const char *p = strstr(text, pat);
	if (!p && strncmp(text, pat + 1, strlen(pat + 1)) == 0)
		p = text - 1;
	out[0] = 0;
	if (!p)
		return out;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t')
		p++;
	size_t i = 0;
	while (p[i] && p[i] != '\n' && i < sizeof out - 1) {
		out[i] = p[i];
		i++;
	}
	out[i] = 0;
	return out;
}

static void *thread_fn(void *arg) {
	(void)arg;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)syscall(SYS_gettid));
	return (void *)(long)access(path, R_OK);
}


/* oom_read reads /proc/self/oom_score_adj (-9999 on error). */
static int oom_read(void) {
	char b[32] = {0};
	int fd = open("/proc/self/oom_score_adj", O_RDONLY);
	if (fd < 0)
		return -9999;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	return n > 0 ? atoi(b) : -9999;
}

/* oom_write writes s to /proc/self/oom_score_adj: 0 or -errno. */
static int oom_write(const char *s) {
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0)
		return -errno;
	int r = write(fd, s, strlen(s)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int main(int argc, char **argv) {
	(void)argc;
	char path[256], want[256];
	pid_t pid = getpid();

	/* /proc/self */
	ssize_t n = readlink("/proc/self", path, sizeof path - 1);
	CHECK_TRUE(self_link, n > 0);
	path[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof want, "%d", pid);
	CHECK_STR(self_is_pid, path, want);
	n = readlink("/proc/thread-self", path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof want, "%d/task/%d", pid, pid);
	CHECK_STR(thread_self, path, want);

	/* stat */
	char *s = slurp("/proc/self/stat", NULL);
	CHECK_TRUE(stat_read, s != NULL);
	int spid = 0, sppid = 0;
	char comm[64] = "", state = 0;
	if (s)
		sscanf(s, "%d (%63[^)]) %c %d", &spid, comm, &state, &sppid);
	CHECK_EQ(stat_pid, spid, pid);
	CHECK_STR(stat_comm, comm, "proc");
	CHECK_EQ(stat_state_running, state, 'R');
	CHECK_EQ(stat_ppid, sppid, getppid());
	int nfields = 0;
	for (char *p = s ? strrchr(s, ')') : NULL; p && *p; p++)
		if (*p == ' ')
			nfields++;
	CHECK_EQ(stat_field_count, nfields + 2, 52);

	/* status */
	s = slurp("/proc/self/status", NULL);
	CHECK_STR(status_name, field(s, "Name"), "proc");
	snprintf(want, sizeof want, "%d", pid);
	CHECK_STR(status_pid, field(s, "Pid"), want);
	CHECK_STR(status_tgid, field(s, "Tgid"), want);
	snprintf(want, sizeof want, "%d", getppid());
	CHECK_STR(status_ppid, field(s, "PPid"), want);
	snprintf(want, sizeof want, "%d\t%d\t%d\t%d", getuid(), geteuid(), geteuid(), geteuid());
	CHECK_STR(status_uid, field(s, "Uid"), want);
	CHECK_STR(status_threads, field(s, "Threads"), "1");
	CHECK_TRUE(status_state, strncmp(field(s, "State"), "R (running)", 11) == 0);
	CHECK_TRUE(status_vmrss, atol(field(s, "VmRSS")) > 0);
	CHECK_TRUE(status_sigblk, strlen(field(s, "SigBlk")) == 16);

	/* statm: size and resident pages. */
	s = slurp("/proc/self/statm", NULL);
	long size = 0, res = 0;
	if (s)
		sscanf(s, "%ld %ld", &size, &res);
	CHECK_TRUE(statm, size > 0 && res > 0 && res <= size);

	/* maps: an anonymous and a file mapping made here show up as made. */
	void *anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *mf = scratch_path("mapped");
	CHECK_OK(create_mapped, write_file(mf, "0123456789abcdef0123456789abcdef"));
	int mfd = open(mf, O_RDONLY);
	struct stat mst;
	fstat(mfd, &mst);
	void *fmap = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, mfd, 0);
	CHECK_TRUE(mmaps, anon != MAP_FAILED && fmap != MAP_FAILED);
	s = slurp("/proc/self/maps", NULL);
	snprintf(want, sizeof want, "%08lx-%08lx rw-p 00000000 00:00 0", (unsigned long)anon, (unsigned long)anon + 3 * 4096);
	CHECK_TRUE(maps_anon, s && strstr(s, want));
	snprintf(want, sizeof want, "%08lx-%08lx r--p 00000000 %02x:%02x %lu", (unsigned long)fmap,
	         (unsigned long)fmap + 4096, major(mst.st_dev), minor(mst.st_dev), (unsigned long)mst.st_ino);
	char *line = s ? strstr(s, want) : NULL;
	CHECK_TRUE(maps_file, line != NULL);
	char *eol = line ? strchr(line, '\n') : NULL;
	if (eol)
		*eol = 0;
	CHECK_TRUE(maps_file_name, line && strlen(line) > strlen(mf) && strcmp(line + strlen(line) - strlen(mf), mf) == 0);
	CHECK_TRUE(maps_name_column, line && line[73] == '/');
	CHECK_TRUE(maps_stack, s && strstr(eol ? eol + 1 : s, "[stack]"));
	CHECK_OK(munmap_anon, munmap(anon, 3 * 4096));
	s = slurp("/proc/self/maps", NULL);
	snprintf(want, sizeof want, "%08lx-", (unsigned long)anon);
	CHECK_TRUE(maps_after_munmap, s && !strstr(s, want));
	s = slurp("/proc/self/smaps", NULL);
	CHECK_TRUE(smaps, s && strstr(s, "Rss:") && strstr(s, "VmFlags:"));
	munmap(fmap, 4096);
	close(mfd);

	/* cmdline, environ, comm, exe, cwd, root. */
	size_t len = 0;
	s = slurp("/proc/self/cmdline", &len);
	CHECK_TRUE(cmdline, s && len == strlen(argv[0]) + 1 && strcmp(s, argv[0]) == 0);
	setenv("PROC_TEST_VAR", "x", 1); /* changes glibc's copy, not the initial area */
	s = slurp("/proc/self/environ", &len);
	int found_path = 0;
	for (size_t i = 0; s && i < len; i += strlen(s + i) + 1)
		if (strncmp(s + i, "PATH=", 5) == 0)
			found_path = 1;
	CHECK_TRUE(environ, found_path || getenv("PATH") == NULL);
	s = slurp("/proc/self/comm", NULL);
	CHECK_STR(comm, s, "proc\n");
	int cfd = open("/proc/self/comm", O_WRONLY);
	CHECK_EQ(comm_write, write(cfd, "renamed", 7), 7);
	close(cfd);
	CHECK_STR(comm_renamed, slurp("/proc/self/comm", NULL), "renamed\n");
	char exe[4096];
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	char *real = realpath(argv[0], NULL);
	CHECK_STR(exe, exe, real ? real : "?");
	free(real);
	CHECK_OK(chdir_scratch, chdir(scratch_dir()));
	n = readlink("/proc/self/cwd", path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	CHECK_STR(cwd, path, scratch_dir());
	n = readlink("/proc/self/root", path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	CHECK_STR(root, path, "/");
	struct stat a, b;
	CHECK_TRUE(root_follows, stat("/proc/self/root/etc", &a) == 0 && stat("/etc", &b) == 0 && a.st_ino == b.st_ino);
	CHECK_TRUE(cwd_follows, stat("/proc/self/cwd/mapped", &a) == 0 && a.st_ino == mst.st_ino);

	/* fd and fdinfo. */
	int fd = open(mf, O_RDONLY | O_CLOEXEC);
	lseek(fd, 7, SEEK_SET);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	char target[256];
	n = readlink(path, target, sizeof target - 1);
	target[n > 0 ? n : 0] = 0;
	CHECK_STR(fd_link, target, mf);
	int fd2 = open(path, O_RDONLY);
	char c = 0;
	CHECK_TRUE(fd_reopen, fd2 >= 0 && read(fd2, &c, 1) == 1 && c == '0');
	close(fd2);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	s = slurp(path, NULL);
	CHECK_STR(fdinfo_pos, field(s, "pos"), "7");
	CHECK_TRUE(fdinfo_flags, (strtol(field(s, "flags"), NULL, 8) & (O_CLOEXEC | O_ACCMODE)) == O_CLOEXEC);
	close(fd);
	CHECK_ERR(fd_closed_enoent, access(path, F_OK), ENOENT);
	CHECK_ERR(fd_bad_name, access("/proc/self/fd/x", F_OK), ENOENT);
	DIR *d = opendir("/proc/self/fd");
	int saw0 = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, "0") == 0 && e->d_type == DT_LNK)
			saw0 = 1;
	if (d)
		closedir(d);
	CHECK_TRUE(fd_dir_lists_0, saw0);

	/* mounts, mountinfo, limits, cgroup. */
	s = slurp("/proc/self/mounts", NULL);
	CHECK_TRUE(mounts_proc, s && strstr(s, " /proc proc "));
	CHECK_TRUE(proc_mounts_link, strcmp(slurp("/proc/mounts", NULL), s) == 0);
	s = slurp("/proc/self/mountinfo", NULL);
	CHECK_TRUE(mountinfo_proc, s && strstr(s, " /proc ") && strstr(s, " - proc "));
	s = slurp("/proc/self/limits", NULL);
	CHECK_TRUE(limits_header, s && strncmp(s, "Limit ", 6) == 0 && strstr(s, "Max open files"));
	s = slurp("/proc/self/cgroup", NULL);
	CHECK_TRUE(cgroup, s && strlen(s) > 3);

	/* Other processes: a child's directory, its state, and its disappearance. */
	int pfd[2];
	pipe(pfd);
	pid_t child = fork();
	if (child == 0) {
		close(pfd[1]);
		read(pfd[0], &c, 1);
		_exit(0);
	}
	close(pfd[0]);
	snprintf(path, sizeof path, "/proc/%d/stat", child);
	s = slurp(path, NULL);
	int cpid = 0, cppid = 0;
	if (s)
		sscanf(s, "%d (%*[^)]) %c %d", &cpid, &state, &cppid);
	CHECK_EQ(child_stat_pid, cpid, child);
	CHECK_EQ(child_stat_ppid, cppid, pid);
	CHECK_TRUE(child_not_running, state == 'S' || state == 'R');
	d = opendir("/proc");
	int saw_child = 0;
	snprintf(want, sizeof want, "%d", child);
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, want) == 0)
			saw_child = 1;
	if (d)
		closedir(d);
	CHECK_TRUE(proc_lists_child, saw_child);
	close(pfd[1]);
	waitpid(child, NULL, 0);
	CHECK_ERR(reaped_child_gone, access(path, F_OK), ENOENT);

	/* Threads. */
	pthread_t th;
	void *ret = (void *)1;
	pthread_create(&th, NULL, thread_fn, NULL);
	pthread_join(th, &ret);
	CHECK_EQ(thread_task_dir, (long)ret, 0);

	/* /proc/sys and the system files. */
	struct utsname u;
	uname(&u);
	snprintf(want, sizeof want, "%s\n", u.release);
	CHECK_STR(osrelease, slurp("/proc/sys/kernel/osrelease", NULL), want);
	CHECK_STR(ostype, slurp("/proc/sys/kernel/ostype", NULL), "Linux\n");
	snprintf(want, sizeof want, "%s\n", u.nodename);
	CHECK_STR(hostname, slurp("/proc/sys/kernel/hostname", NULL), want);
	CHECK_TRUE(pid_max, atol(slurp("/proc/sys/kernel/pid_max", NULL)) >= 32768);
	CHECK_STR(ngroups_max, slurp("/proc/sys/kernel/ngroups_max", NULL), "65536\n");
	s = slurp("/proc/sys/kernel/random/boot_id", NULL);
	CHECK_TRUE(boot_id, s && strlen(s) == 37 && s[8] == '-' && s[13] == '-');
	CHECK_TRUE(boot_id_stable, strcmp(s, slurp("/proc/sys/kernel/random/boot_id", NULL)) == 0);
	s = slurp("/proc/sys/vm/overcommit_memory", NULL);
	CHECK_TRUE(overcommit_memory, s && (s[0] == '0' || s[0] == '1' || s[0] == '2'));
	CHECK_TRUE(file_max, atol(slurp("/proc/sys/fs/file-max", NULL)) > 0);
	CHECK_TRUE(nr_open, atol(slurp("/proc/sys/fs/nr_open", NULL)) >= 1024);
	s = slurp("/proc/uptime", NULL);
	double up = -1, idle = -1;
	if (s)
		sscanf(s, "%lf %lf", &up, &idle);
	CHECK_TRUE(uptime, up >= 0 && idle >= 0);
	s = slurp("/proc/loadavg", NULL);
	double l1 = -1;
	int running = 0, total = 0;
	if (s)
		sscanf(s, "%lf %*f %*f %d/%d", &l1, &running, &total);
	CHECK_TRUE(loadavg, l1 >= 0 && running >= 1 && total >= running);
	s = slurp("/proc/version", NULL);
	CHECK_TRUE(version, s && strncmp(s, "Linux version ", 14) == 0);
	s = slurp("/proc/meminfo", NULL);
	CHECK_TRUE(meminfo, atol(field(s, "MemTotal")) > 0 && strstr(s, "MemAvailable:") && strstr(s, "SwapTotal:"));
	s = slurp("/proc/stat", NULL);
	CHECK_TRUE(stat_cpu, s && strncmp(s, "cpu ", 4) == 0 && strstr(s, "\nbtime "));
	s = slurp("/proc/cpuinfo", NULL);
	int procs = 0;
	for (char *p = s; p && (p = strstr(p, "processor")); p++)
		procs++;
	CHECK_EQ(cpuinfo_count, procs, sysconf(_SC_NPROCESSORS_ONLN));
	s = slurp("/proc/filesystems", NULL);
	CHECK_TRUE(filesystems, s && strstr(s, "\tproc\n") && strstr(s, "\ttmpfs\n"));

	/* Errors. */
	CHECK_ERR(no_such_pid, access("/proc/999999/stat", F_OK), ENOENT);
	int wfd = CHECK_OK(open_stat_wronly_root, open("/proc/self/stat", O_WRONLY));
	CHECK_ERR(write_stat_einval, write(wfd, "x", 1), EINVAL);
	close(wfd);
	CHECK_ERR(create_in_proc, open("/proc/newfile", O_CREAT | O_WRONLY, 0644), ENOENT);
	CHECK_ERR(mkdir_in_proc, mkdir("/proc/self/x", 0755), ENOENT);
	CHECK_ERR(symlink_in_proc, symlink("x", "/proc/self/y"), ENOENT);
	CHECK_ERR(unlink_in_proc, unlink("/proc/self/stat"), EPERM);
	CHECK_ERR(rmdir_in_proc, rmdir("/proc/self/fd"), EPERM);
	CHECK_ERR(chmod_in_proc, chmod("/proc/self/stat", 0777), EPERM);
	CHECK_OK(utimes_in_proc, utimensat(AT_FDCWD, "/proc/self/stat", NULL, 0));
	CHECK_ERR(mkdir_pid_exists, mkdir("/proc/1", 0755), EEXIST);
	/* uid_map/gid_map: one line per mapping, "%10u %10u %10u"; a second write is EPERM. */
	{
		char m[128] = {0};
		int fd = open("/proc/self/uid_map", O_RDONLY);
		CHECK_TRUE(uid_map_readable, fd >= 0 && read(fd, m, sizeof m - 1) > 0);
		unsigned a = 1, b = 1, c = 0;
		CHECK_TRUE(uid_map_format, sscanf(m, "%u %u %u", &a, &b, &c) == 3 && strlen(m) == 33 && m[32] == '\n');
		close(fd);
		fd = open("/proc/self/gid_map", O_RDONLY);
		CHECK_TRUE(gid_map_readable, fd >= 0 && read(fd, m, sizeof m - 1) > 0);
		close(fd);
		fd = open("/proc/self/uid_map", O_WRONLY);
		CHECK_TRUE(uid_map_rewrite_eperm, fd >= 0 && write(fd, "0 0 1\n", 6) == -1 && errno == EPERM);
		close(fd);
	}

	/* oom_score_adj: kept, inherited by fork, range-checked. */
	int oom0 = oom_read();
	CHECK_TRUE(oom_score_adj_readable, oom0 >= -1000 && oom0 <= 1000);
	if (oom0 <= 900) {
		char v[16];
		snprintf(v, sizeof v, "%d\n", oom0 + 100);
		CHECK_EQ(oom_score_adj_write, oom_write(v), 0);
		CHECK_EQ(oom_score_adj_kept, oom_read(), oom0 + 100);
		pid_t c = fork();
		if (c == 0)
			_exit(oom_read() == oom0 + 100 ? 0 : 1);
		int st;
		waitpid(c, &st, 0);
		CHECK_TRUE(oom_score_adj_inherited, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	CHECK_EQ(oom_score_adj_range, oom_write("1001"), -EINVAL);
	CHECK_EQ(oom_score_adj_garbage, oom_write("abc"), -EINVAL);
	return check_done();
}

/* execve and execveat: static and dynamic programs, argv and envp, #! scripts (with an
 * argument, nested, missing interpreter, recursion), E2BIG, ENOEXEC, EACCES, ENOENT,
 * close-on-exec, signal dispositions (handled reset, ignored kept), the mask and pending
 * signals kept, identity kept (pid, ppid, process group, cwd, umask, rlimits), comm, and
 * execveat's dirfd, AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW.
 *
 * The program re-executes itself in "child modes" that report on fd 9 (a pipe to the
 * parent) or in their exit status. */
#include "check.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const char *self;

static int wait_exit(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* child_mode runs in the re-executed program. */
static int child_mode(int argc, char **argv, char **envp) {
	const char *mode = argv[1];
	char out[4096];
	int n = 0;
	if (strncmp(mode, "argv", 4) == 0) {
		for (int i = 0; i < argc; i++)
			n += snprintf(out + n, sizeof out - n, "%s|", argv[i]);
		n += snprintf(out + n, sizeof out - n, "env:");
		for (char **e = envp; *e; e++)
			n += snprintf(out + n, sizeof out - n, "%s|", *e);
		write(9, out, n);
		return 0;
	}
	if (strcmp(mode, "fds") == 0) {
		/* argv[2], argv[3]: an fd opened with O_CLOEXEC and one without. */
		int a = atoi(argv[2]), b = atoi(argv[3]);
		return (fcntl(a, F_GETFD) == -1 && errno == EBADF ? 1 : 0) | (fcntl(b, F_GETFD) != -1 ? 2 : 0);
	}
	if (strcmp(mode, "signals") == 0) {
		struct sigaction sa;
		int r = 0;
		sigaction(SIGUSR1, NULL, &sa);
		r |= sa.sa_handler == SIG_DFL ? 1 : 0;
		sigaction(SIGUSR2, NULL, &sa);
		r |= sa.sa_handler == SIG_IGN ? 2 : 0;
		sigset_t m, p;
		sigprocmask(SIG_SETMASK, NULL, &m);
		r |= sigismember(&m, SIGTERM) ? 4 : 0;
		sigpending(&p);
		r |= sigismember(&p, SIGTERM) ? 8 : 0;
		stack_t ss;
		sigaltstack(NULL, &ss);
		r |= (ss.ss_flags & SS_DISABLE) ? 16 : 0;
		return r;
	}
	if (strcmp(mode, "identity") == 0) {
		/* argv[2..]: pid, ppid, pgid, umask, nofile soft limit, cwd. */
		int r = 0;
		r |= getpid() == atoi(argv[2]) ? 1 : 0;
		r |= getppid() == atoi(argv[3]) ? 2 : 0;
		r |= getpgrp() == atoi(argv[4]) ? 4 : 0;
		mode_t um = umask(0);
		r |= (int)um == atoi(argv[5]) ? 8 : 0;
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		r |= (long)rl.rlim_cur == atol(argv[6]) ? 16 : 0;
		char cwd[256];
		r |= getcwd(cwd, sizeof cwd) && strcmp(cwd, argv[7]) == 0 ? 32 : 0;
		char name[16] = {0};
		prctl(PR_GET_NAME, name);
		r |= strcmp(name, "exec_basic") == 0 || strncmp(name, argv[8], 15) == 0 ? 64 : 0;
		return r;
	}
	if (strcmp(mode, "exit") == 0)
		return atoi(argv[2]);
	return 100;
}

/* run_argv forks, runs execve(path, argv, envp) in the child with fd 9 as a pipe, and
 * returns the exit status; out gets what the child wrote on fd 9. */
static int run_exec(const char *path, char *const argv[], char *const envp[], char *out, size_t outsz, int *exec_errno) {
	int p[2];
	pipe(p);
	int e[2];
	pipe2(e, O_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(e[0]);
		dup2(p[1], 9);
		execve(path, argv, envp);
		int err = errno;
		write(e[1], &err, sizeof err);
		_exit(255);
	}
	close(p[1]);
	close(e[1]);
	int err = 0;
	if (read(e[0], &err, sizeof err) != sizeof err)
		err = 0;
	close(e[0]);
	if (exec_errno)
		*exec_errno = err;
	ssize_t n = 0, k;
	if (out) {
		while (n < (ssize_t)outsz - 1 && (k = read(p[0], out + n, outsz - 1 - n)) > 0)
			n += k;
		out[n] = 0;
	}
	close(p[0]);
	return wait_exit(pid);
}

/* exec_errno returns the errno of a failed execve of path (0 if it ran). */
static int exec_errno(const char *path, char *const argv[]) {
	int err = 0;
	char *envp[] = {NULL};
	run_exec(path, argv, envp, NULL, 0, &err);
	return err;
}

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv, char **envp) {
	if (argc > 1 && (strncmp(argv[1], "argv", 4) == 0 || strcmp(argv[1], "fds") == 0 || strcmp(argv[1], "signals") == 0 ||
	                 strcmp(argv[1], "identity") == 0 || strcmp(argv[1], "exit") == 0))
		return child_mode(argc, argv, envp);
	self = argv[0];
	char out[4096];
	int err;

	/* A static program: argv and envp arrive as given. */
	char *a1[] = {"prog-name", "argv", "one", "two words", "", NULL};
	char *e1[] = {"A=1", "B=two", NULL};
	CHECK_EQ(static_exit, run_exec(self, a1, e1, out, sizeof out, &err), 0);
	CHECK_STR(static_argv_envp, out, "prog-name|argv|one|two words||env:A=1|B=two|");

	/* A dynamic program, through its PT_INTERP. */
	char *a2[] = {"sh", "-c", "exit 7", NULL};
	CHECK_EQ(dynamic_sh, run_exec("/bin/sh", a2, e1, NULL, 0, &err), 7);
	char *a3[] = {"true", NULL};
	CHECK_EQ(dynamic_true, run_exec("/bin/true", a3, e1, NULL, 0, &err), 0);
	char *a4[] = {"false", NULL};
	CHECK_EQ(dynamic_false, run_exec("/bin/false", a4, e1, NULL, 0, &err), 1);

	/* #! scripts: interpreter, its one optional argument, the script path, the rest. */
	const char *script = scratch_path("script");
	char text[512];
	snprintf(text, sizeof text, "#!%s argv\nignored\n", self);
	write_file(script, text);
	chmod(script, 0755);
	char *a5[] = {"script-name", "x", "y", NULL};
	CHECK_EQ(shebang_exit, run_exec(script, a5, e1, out, sizeof out, &err), 0);
	char want[1024];
	snprintf(want, sizeof want, "%s|argv|%s|x|y|env:A=1|B=two|", self, script);
	CHECK_STR(shebang_argv, out, want);
	/* Spaces and tabs around the interpreter; the argument is everything after it. */
	snprintf(text, sizeof text, "#! \t%s  argv  with spaces \n", self);
	write_file(script, text);
	CHECK_EQ(shebang_spaces_exit, run_exec(script, a5, e1, out, sizeof out, &err), 0);
	snprintf(want, sizeof want, "%s|argv  with spaces|%s|x|y|env:A=1|B=two|", self, script);
	CHECK_STR(shebang_spaces_argv, out, want);
	/* A script interpreted by a dynamic program. */
	write_file(script, "#!/bin/sh\nexit 9\n");
	CHECK_EQ(shebang_sh, run_exec(script, a5, e1, NULL, 0, &err), 9);
	/* A script whose interpreter is a script. */
	const char *inner = scratch_path("inner");
	snprintf(text, sizeof text, "#!%s argv\n", self);
	write_file(inner, text);
	chmod(inner, 0755);
	snprintf(text, sizeof text, "#!%s\n", inner);
	write_file(script, text);
	CHECK_EQ(shebang_nested_exit, run_exec(script, a5, e1, out, sizeof out, &err), 0);
	snprintf(want, sizeof want, "%s|argv|%s|%s|x|y|env:A=1|B=two|", self, inner, script);
	CHECK_STR(shebang_nested_argv, out, want);
	/* Missing interpreter: ENOENT. */
	write_file(script, "#!/nonexistent/interp\n");
	CHECK_EQ(shebang_missing_interp, exec_errno(script, a5), ENOENT);
	/* A script that names itself: ELOOP. */
	snprintf(text, sizeof text, "#!%s\n", script);
	write_file(script, text);
	CHECK_EQ(shebang_recursion_eloop, exec_errno(script, a5), ELOOP);
	/* "#!" alone: ENOEXEC. */
	write_file(script, "#!\n");
	CHECK_EQ(shebang_empty_enoexec, exec_errno(script, a5), ENOEXEC);

	/* ENOEXEC: neither ELF nor #!. */
	write_file(script, "just some text\n");
	CHECK_EQ(garbage_enoexec, exec_errno(script, a5), ENOEXEC);
	/* EACCES: no execute bit (even for root), a directory. */
	write_file(script, "#!/bin/sh\n");
	chmod(script, 0644);
	CHECK_EQ(no_x_bit_eacces, exec_errno(script, a5), EACCES);
	CHECK_EQ(directory_eacces, exec_errno("/", a5), EACCES);
	CHECK_EQ(missing_enoent, exec_errno("/nonexistent", a5), ENOENT);
	CHECK_EQ(not_dir_enotdir, exec_errno("/bin/true/x", a5), ENOTDIR);
	CHECK_ERR(execve_efault_path, syscall(SYS_execve, BADPTR, a5, envp), EFAULT);
	CHECK_ERR(execve_efault_argv, syscall(SYS_execve, self, BADPTR, envp), EFAULT);
	char *bad_argv[] = {"x", BADPTR, NULL};
	CHECK_ERR(execve_efault_argv_string, execve(self, bad_argv, envp), EFAULT);

	/* E2BIG: one string over MAX_ARG_STRLEN (32 pages); all of them over a quarter of
	 * RLIMIT_STACK. */
	static char huge[140000];
	memset(huge, 'x', sizeof huge - 1);
	char *a6[] = {"x", huge, NULL};
	CHECK_EQ(e2big_one_string, exec_errno(self, a6), E2BIG);
	static char chunk[100000];
	memset(chunk, 'y', sizeof chunk - 1);
	char *a7[40];
	for (int i = 0; i < 39; i++)
		a7[i] = chunk;
	a7[39] = NULL;
	CHECK_EQ(e2big_total, exec_errno(self, a7), E2BIG);
	/* ... and a big but allowed argument list works. */
	char *a8[] = {"x", "exit", "3", chunk, chunk, NULL};
	CHECK_EQ(big_args_ok, run_exec(self, a8, e1, NULL, 0, &err), 3);

	/* close-on-exec. */
	int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC), keep = open("/dev/null", O_RDONLY);
	char sa[16], sb[16];
	snprintf(sa, sizeof sa, "%d", cloexec);
	snprintf(sb, sizeof sb, "%d", keep);
	char *a9[] = {"x", "fds", sa, sb, NULL};
	CHECK_EQ(close_on_exec, run_exec(self, a9, e1, NULL, 0, &err), 3);
	close(cloexec);
	close(keep);

	/* Signals: a handled signal resets to SIG_DFL, an ignored one stays ignored, the mask
	 * and pending signals are kept, the alternate stack is gone. */
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGUSR1, on_usr1);
		signal(SIGUSR2, SIG_IGN);
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGTERM);
		sigprocmask(SIG_BLOCK, &m, NULL);
		raise(SIGTERM);
		static char altstk[65536];
		stack_t ss = {.ss_sp = altstk, .ss_size = sizeof altstk};
		sigaltstack(&ss, NULL);
		char *a[] = {"x", "signals", NULL};
		execve(self, a, envp);
		_exit(255);
	}
	CHECK_EQ(exec_signal_state, wait_exit(pid), 31);

	/* Identity is kept. */
	char cwd[256];
	chdir(scratch_dir());
	getcwd(cwd, sizeof cwd);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		umask(027);
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = 200;
		setrlimit(RLIMIT_NOFILE, &rl);
		char s_pid[16], s_ppid[16], s_pgid[16];
		snprintf(s_pid, sizeof s_pid, "%d", getpid());
		snprintf(s_ppid, sizeof s_ppid, "%d", getppid());
		snprintf(s_pgid, sizeof s_pgid, "%d", getpgrp());
		const char *base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
		char *a[] = {"x", "identity", s_pid, s_ppid, s_pgid, "23", "200", cwd, (char *)base, NULL};
		execve(self, a, envp);
		_exit(255);
	}
	CHECK_EQ(exec_identity_kept, wait_exit(pid), 127);
	chdir("/");

	/* execveat: a dirfd and a relative path; AT_EMPTY_PATH on an fd of the program;
	 * AT_SYMLINK_NOFOLLOW refuses a symlink; bad flags. */
	char dir[512];
	strcpy(dir, self);
	*strrchr(dir, '/') = 0;
	const char *base = strrchr(self, '/') + 1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	pid = fork();
	if (pid == 0) {
		char *a[] = {"x", "exit", "41", NULL};
		syscall(SYS_execveat, dfd, base, a, envp, 0);
		_exit(255);
	}
	CHECK_EQ(execveat_dirfd, wait_exit(pid), 41);
	int pfd = open(self, O_RDONLY);
	pid = fork();
	if (pid == 0) {
		char *a[] = {"x", "exit", "42", NULL};
		syscall(SYS_execveat, pfd, "", a, envp, AT_EMPTY_PATH);
		_exit(255);
	}
	CHECK_EQ(execveat_empty_path, wait_exit(pid), 42);
	const char *link = scratch_path("link");
	symlink(self, link);
	char *ax[] = {"x", "exit", "43", NULL};
	CHECK_ERR(execveat_nofollow_eloop, syscall(SYS_execveat, AT_FDCWD, link, ax, envp, AT_SYMLINK_NOFOLLOW), ELOOP);
	CHECK_ERR(execveat_bad_flags, syscall(SYS_execveat, AT_FDCWD, self, ax, envp, 0x4), EINVAL);
	CHECK_ERR(execveat_empty_without_flag, syscall(SYS_execveat, pfd, "", ax, envp, 0), ENOENT);
	CHECK_ERR(execveat_bad_dirfd, syscall(SYS_execveat, 999, base, ax, envp, 0), EBADF);
	pid = fork();
	if (pid == 0) {
		syscall(SYS_execveat, AT_FDCWD, link, ax, envp, 0);
		_exit(255);
	}
	CHECK_EQ(execveat_follows_symlink, wait_exit(pid), 43);
	close(dfd);
	close(pfd);
	return check_done();
}

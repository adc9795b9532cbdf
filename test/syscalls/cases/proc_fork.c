/* fork, vfork, clone (process and thread flags), clone3, exit and exit_group, zombies,
 * getppid.
 *
 * Children never print: they report through their exit status (or a pipe) and the parent
 * checks. Nothing here depends on the runner's process tree: under runsc this program is
 * the container's init (PID 1), natively it is not. */
#include "check.h"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* wait_status waits for pid (any kind of child) and returns the raw status, or -1. */
static int wait_status(pid_t pid) {
	int st;
	if (waitpid(pid, &st, __WALL) != pid)
		return -1;
	return st;
}

static int wait_exit(pid_t pid) {
	int st = wait_status(pid);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* raw_clone is clone(2) without a new stack: the child returns like fork's child. */
static long raw_clone(unsigned long flags, void *ptid, void *ctid, unsigned long tls) {
	return syscall(SYS_clone, flags, NULL, ptid, ctid, tls);
}

static char child_stack[4][65536] __attribute__((aligned(16)));
static volatile int shared_word;
static int pipefd[2];

static int vm_child(void *arg) {
	shared_word = (int)(long)arg;
	return 7;
}

static int files_child(void *arg) {
	(void)arg;
	/* Opened here, visible to the parent with CLONE_FILES. */
	return open("/dev/null", O_RDONLY);
}

static int fs_child(void *arg) {
	(void)arg;
	umask(0077);
	return chdir("/") == 0 ? 0 : 1;
}

static void on_usr1(int sig) { (void)sig; }

static int sighand_child(void *arg) {
	(void)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	return sigaction(SIGUSR2, &sa, NULL) == 0 ? 0 : 1;
}

static volatile int thread_tid, thread_pid;
static int thread_child(void *arg) {
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	thread_pid = syscall(SYS_getpid);
	syscall(SYS_exit, 0); /* only this thread */
	return 0;
}

static int late_thread(void *arg) {
	(void)arg;
	sleep_ms(50);
	syscall(SYS_exit, 2);
	return 0;
}

static int settid_child(void *arg) {
	(void)arg;
	return 0;
}

static long clone3(struct clone_args *a, size_t size) { return syscall(SYS_clone3, a, size); }

/* stack_child runs on child_stack[2] and says so. */
static int stack_child(void) {
	int local;
	shared_word = ((char *)&local > child_stack[2] && (char *)&local < child_stack[2] + sizeof child_stack[2]) ? 1 : 2;
	return 0;
}

/* clone3_on_stack calls clone3; the child, on its new stack, calls fn and exits with its
 * value without touching the parent's stack frame. */
static long clone3_on_stack(struct clone_args *a, size_t size, int (*fn)(void)) {
	register long rax __asm__("rax") = SYS_clone3;
	register void *rdi __asm__("rdi") = a;
	register long rsi __asm__("rsi") = (long)size;
	register int (*r12)(void) __asm__("r12") = fn;
	__asm__ volatile("syscall\n\t"
	                 "test %%rax, %%rax\n\t"
	                 "jnz 1f\n\t"
	                 "xor %%ebp, %%ebp\n\t"
	                 "call *%%r12\n\t"
	                 "mov %%eax, %%edi\n\t"
	                 "mov $60, %%eax\n\t"
	                 "syscall\n\t"
	                 "1:\n\t"
	                 : "+r"(rax)
	                 : "r"(rdi), "r"(rsi), "r"(r12)
	                 : "rcx", "r11", "memory");
	return rax;
}

int main(void) {
	pid_t me = getpid();

	/* fork: two returns, the child sees the parent as its parent. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(getppid() == me ? 11 : 12);
	CHECK_TRUE(fork_returns_pid, pid > 0 && pid != me);
	CHECK_EQ(fork_child_sees_parent, wait_exit(pid), 11);

	/* The child's pid is its own and its memory a copy. */
	int pfd[2];
	pipe(pfd);
	shared_word = 1;
	pid = fork();
	if (pid == 0) {
		shared_word = 2;
		pid_t self = getpid();
		write(pfd[1], &self, sizeof self);
		_exit(0);
	}
	pid_t reported = 0;
	read(pfd[0], &reported, sizeof reported);
	CHECK_EQ(fork_child_getpid, reported, pid);
	CHECK_EQ(fork_child_exit, wait_exit(pid), 0);
	CHECK_EQ(fork_memory_is_a_copy, shared_word, 1);
	close(pfd[0]);
	close(pfd[1]);

	/* exit_group's status keeps only the low 8 bits. */
	pid = fork();
	if (pid == 0)
		syscall(SYS_exit_group, 256 + 42);
	CHECK_EQ(exit_group_low_bits, wait_exit(pid), 42);

	/* exit(2) of the only thread ends the process with that status. */
	pid = fork();
	if (pid == 0)
		syscall(SYS_exit, 5);
	CHECK_EQ(exit_only_thread, wait_exit(pid), 5);

	/* exit(2) of one thread leaves the others running; the process ends with the
	 * status of its last exit. */
	pid = fork();
	if (pid == 0) {
		long t = clone(thread_child, child_stack[0] + sizeof child_stack[0],
		               CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, NULL);
		if (t < 0)
			_exit(100);
		for (int i = 0; i < 200 && thread_tid == 0; i++)
			sleep_ms(5);
		if (thread_tid != t || thread_pid != getpid() || thread_tid == getpid())
			_exit(101);
		sleep_ms(20);
		syscall(SYS_exit, 9); /* the leader goes last */
	}
	CHECK_EQ(clone_thread_ids_and_exit, wait_exit(pid), 9);

	/* vfork: the parent waits until the child exits; the child shares memory. */
	shared_word = 0;
	pid = vfork();
	if (pid == 0) {
		shared_word = 77;
		_exit(3);
	}
	CHECK_EQ(vfork_shares_memory, shared_word, 77);
	CHECK_EQ(vfork_child_exit, wait_exit(pid), 3);

	/* vfork then exec: the parent resumes when the child execs. */
	pid = vfork();
	if (pid == 0) {
		char *argv[] = {"true", NULL};
		execve("/bin/true", argv, NULL);
		_exit(127);
	}
	CHECK_EQ(vfork_exec_child_exit, wait_exit(pid), 0);

	/* CLONE_VM with a stack: the child writes our memory; exit signal SIGCHLD. */
	shared_word = 0;
	pid = clone(vm_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | SIGCHLD, (void *)42L);
	CHECK_TRUE(clone_vm_ok, pid > 0);
	CHECK_EQ(clone_vm_exit, wait_exit(pid), 7);
	CHECK_EQ(clone_vm_shared, shared_word, 42);

	/* A child with no exit signal is a "clone" child: wait without __WCLONE/__WALL
	 * does not see it. */
	pid = clone(vm_child, child_stack[0] + sizeof child_stack[0], CLONE_VM, (void *)1L);
	sleep_ms(20);
	int st;
	CHECK_ERR(clone_nosig_invisible_to_plain_wait, waitpid(pid, &st, WNOHANG), ECHILD);
	CHECK_EQ(clone_nosig_wclone, waitpid(pid, &st, __WCLONE), pid);
	CHECK_TRUE(clone_nosig_status, WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* Another exit signal: SIGUSR1 (blocked, so that it stays pending). */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	pid = clone(vm_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | SIGUSR1, (void *)1L);
	CHECK_EQ(clone_exit_signal_wall, wait_exit(pid), 7);
	sigset_t pend;
	sigpending(&pend);
	CHECK_EQ(clone_exit_signal_sent, sigismember(&pend, SIGUSR1), 1);
	struct timespec zero = {0, 0};
	sigtimedwait(&set, NULL, &zero);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* CLONE_FILES: the fd table is shared. */
	int fd = clone(files_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
	int childfd = wait_exit(fd);
	CHECK_TRUE(clone_files_shared, childfd >= 3 && fcntl(childfd, F_GETFD) != -1);
	if (childfd >= 3)
		close(childfd);
	/* Without it, the child's fd stays in the child. */
	pid = clone(files_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | SIGCHLD, NULL);
	childfd = wait_exit(pid);
	CHECK_ERR(clone_files_not_shared, fcntl(childfd, F_GETFD), EBADF);

	/* CLONE_FS: umask and cwd are shared. */
	char cwd[256];
	getcwd(cwd, sizeof cwd);
	mode_t oldmask = umask(022);
	if (chdir(scratch_dir()) != 0)
		perror("chdir");
	pid = clone(fs_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | CLONE_FS | SIGCHLD, NULL);
	CHECK_EQ(clone_fs_exit, wait_exit(pid), 0);
	CHECK_EQ(clone_fs_umask_shared, umask(022), 0077);
	char now[256];
	getcwd(now, sizeof now);
	CHECK_STR(clone_fs_cwd_shared, now, "/");
	/* Without CLONE_FS they are the child's own. */
	chdir(scratch_dir());
	pid = clone(fs_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | SIGCHLD, NULL);
	wait_exit(pid);
	CHECK_EQ(clone_nofs_umask_private, umask(oldmask), 022);
	getcwd(now, sizeof now);
	CHECK_STR(clone_nofs_cwd_private, now, scratch_dir());
	chdir(cwd);

	/* CLONE_SIGHAND: the handler table is shared. */
	signal(SIGUSR2, SIG_DFL);
	pid = clone(sighand_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	CHECK_EQ(clone_sighand_exit, wait_exit(pid), 0);
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	CHECK_TRUE(clone_sighand_shared, sa.sa_handler == on_usr1);
	signal(SIGUSR2, SIG_DFL);
	pid = clone(sighand_child, child_stack[0] + sizeof child_stack[0], CLONE_VM | SIGCHLD, NULL);
	wait_exit(pid);
	sigaction(SIGUSR2, NULL, &sa);
	CHECK_TRUE(clone_nosighand_private, sa.sa_handler == SIG_DFL);

	/* CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID. */
	static volatile pid_t ptid, ctid;
	ptid = 0;
	ctid = 0;
	pid = raw_clone(CLONE_PARENT_SETTID | SIGCHLD, (void *)&ptid, NULL, 0);
	if (pid == 0)
		_exit(0);
	CHECK_EQ(clone_parent_settid, ptid, pid);
	wait_exit(pid);
	pid = raw_clone(CLONE_CHILD_SETTID | SIGCHLD, NULL, (void *)&ctid, 0);
	if (pid == 0)
		_exit(ctid == getpid() ? 0 : 1);
	CHECK_EQ(clone_child_settid_in_child, wait_exit(pid), 0);
	CHECK_EQ(clone_child_settid_not_in_parent, ctid, 0);
	ctid = -1;
	pid = clone(settid_child, child_stack[0] + sizeof child_stack[0],
	            CLONE_VM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL, NULL, (void *)&ctid);
	CHECK_EQ(clone_child_cleartid_exit, wait_exit(pid), 0);
	CHECK_EQ(clone_child_cleartid_cleared, ctid, 0);

	/* Invalid flag combinations. */
	CHECK_ERR(clone_thread_without_sighand, raw_clone(CLONE_VM | CLONE_THREAD, NULL, NULL, 0), EINVAL);
	CHECK_ERR(clone_sighand_without_vm, raw_clone(CLONE_SIGHAND, NULL, NULL, 0), EINVAL);
	CHECK_ERR(clone_fs_with_newns, raw_clone(CLONE_FS | CLONE_NEWNS, NULL, NULL, 0), EINVAL);

	/* CLONE_PARENT: the new process is a sibling, not a child. */
	pid = fork();
	if (pid == 0) {
		pid_t gc = raw_clone(CLONE_PARENT | SIGCHLD, NULL, NULL, 0);
		if (gc == 0) {
			sleep_ms(50);
			_exit(getppid() == me ? 21 : 22);
		}
		int s;
		/* Not our child. */
		_exit(waitpid(gc, &s, WNOHANG) == -1 && errno == ECHILD ? gc & 0x7f : 255);
	}
	int sib_low = wait_exit(pid);
	/* The sibling is ours to wait for. */
	pid_t sib = -1;
	for (int i = 0; i < 100; i++) {
		sib = waitpid(-1, &st, 0);
		if (sib != -1)
			break;
	}
	CHECK_EQ(clone_parent_not_callers_child, sib_low, sib & 0x7f);
	CHECK_TRUE(clone_parent_sibling_status, WIFEXITED(st) && WEXITSTATUS(st) == 21);

	/* clone3 */
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	pid = clone3(&ca, CLONE_ARGS_SIZE_VER0);
	if (pid == 0)
		_exit(getppid() == me ? 31 : 32);
	CHECK_TRUE(clone3_fork_ok, pid > 0);
	CHECK_EQ(clone3_fork_child, wait_exit(pid), 31);
	ctid = 0;
	ptid = 0;
	ca.flags = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID;
	ca.parent_tid = (unsigned long)&ptid;
	ca.child_tid = (unsigned long)&ctid;
	pid = clone3(&ca, sizeof ca);
	if (pid == 0)
		_exit(ctid == getpid() ? 0 : 1);
	CHECK_EQ(clone3_parent_settid, ptid, pid);
	CHECK_EQ(clone3_child_settid, wait_exit(pid), 0);
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	CHECK_ERR(clone3_size_too_small, clone3(&ca, 32), EINVAL);
	CHECK_ERR(clone3_efault, clone3(BADPTR, sizeof ca), EFAULT);
	ca.exit_signal = 65;
	CHECK_ERR(clone3_bad_exit_signal, clone3(&ca, sizeof ca), EINVAL);
	ca.exit_signal = SIGCHLD;
	ca.flags = 0xff; /* the CSIGNAL bits belong in exit_signal */
	CHECK_ERR(clone3_csignal_in_flags, clone3(&ca, sizeof ca), EINVAL);
	ca.flags = 0;
	ca.stack = (unsigned long)child_stack[1];
	CHECK_ERR(clone3_stack_without_size, clone3(&ca, sizeof ca), EINVAL);
	ca.stack = 0;
	struct {
		struct clone_args a;
		unsigned long extra;
	} big;
	memset(&big, 0, sizeof big);
	big.a.exit_signal = SIGCHLD;
	big.extra = 1;
	CHECK_ERR(clone3_nonzero_tail_e2big, clone3(&big.a, sizeof big), E2BIG);
	/* A zero tail beyond the known size is fine. */
	big.extra = 0;
	pid = clone3(&big.a, sizeof big);
	if (pid == 0)
		_exit(0);
	CHECK_TRUE(clone3_zero_tail_ok, pid > 0);
	wait_exit(pid);
	/* clone3 with a new stack: the child starts on it (see clone3_on_stack). */
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_VM;
	ca.exit_signal = SIGCHLD;
	ca.stack = (unsigned long)child_stack[2];
	ca.stack_size = sizeof child_stack[2];
	shared_word = 0;
	pid = clone3_on_stack(&ca, sizeof ca, stack_child);
	CHECK_EQ(clone3_stack_exit, wait_exit(pid), 0);
	CHECK_EQ(clone3_stack_used, shared_word, 1);

	/* A zombie exists until it is reaped: kill(pid, 0) finds it, then ESRCH. */
	pid = fork();
	if (pid == 0)
		_exit(0);
	sleep_ms(50);
	CHECK_OK(zombie_still_exists, kill(pid, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK_OK(zombie_waitid_nowait, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	CHECK_EQ(zombie_nowait_pid, si.si_pid, pid);
	CHECK_OK(zombie_still_there_after_nowait, kill(pid, 0));
	CHECK_EQ(zombie_reaped, waitpid(pid, &st, 0), pid);
	CHECK_ERR(zombie_gone, kill(pid, 0), ESRCH);

	/* getppid after the parent dies: the orphan goes to the nearest subreaper. */
	pipe(pfd);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		pid_t mid = fork();
		if (mid == 0) {
			pid_t gc = fork();
			if (gc == 0) {
				sleep_ms(100);
				pid_t pp = getppid();
				write(pfd[1], &pp, sizeof pp);
				_exit(0);
			}
			_exit(0);
		}
		waitpid(mid, NULL, 0);
		pid_t pp = 0;
		read(pfd[0], &pp, sizeof pp);
		/* The orphan is now ours to reap. */
		int s;
		pid_t r = waitpid(-1, &s, 0);
		_exit(pp == getpid() && r > 0 ? 0 : 1);
	}
	CHECK_EQ(orphan_reparented_to_subreaper, wait_exit(pid), 0);
	close(pfd[0]);
	close(pfd[1]);

	/* An orphan without a subreaper goes to init: PID 1 under runsc (this program),
	 * natively whoever the host's init or subreaper is (never the dead parent). */
	pipe(pfd);
	pid = fork();
	if (pid == 0) {
		pid_t gc = fork();
		if (gc == 0) {
			sleep_ms(100);
			pid_t pp = getppid();
			write(pfd[1], &pp, sizeof pp);
			_exit(0);
		}
		_exit(0);
	}
	wait_exit(pid);
	pid_t pp = 0;
	read(pfd[0], &pp, sizeof pp);
	if (me == 1)
		CHECK_EQ(orphan_reparented_to_init, pp, 1);
	else
		CHECK_TRUE(orphan_reparented_to_init, pp != pid && pp > 0);
	if (me == 1) {
		/* We are init: the orphan is ours to reap. */
		for (int i = 0; i < 100 && waitpid(-1, &st, WNOHANG) == 0; i++)
			sleep_ms(5);
	}
	close(pfd[0]);
	close(pfd[1]);

	/* PR_SET_PDEATHSIG: the child gets the signal when its parent dies. */
	pipe(pfd);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		pid_t mid = fork();
		if (mid == 0) {
			pid_t gc = fork();
			if (gc == 0) {
				sigset_t s;
				sigemptyset(&s);
				sigaddset(&s, SIGUSR1);
				sigprocmask(SIG_BLOCK, &s, NULL);
				prctl(PR_SET_PDEATHSIG, SIGUSR1);
				write(pfd[1], "r", 1);
				struct timespec ts = {5, 0};
				int sig = sigtimedwait(&s, NULL, &ts);
				_exit(sig == SIGUSR1 ? 0 : 1);
			}
			char c;
			read(pfd[0], &c, 1);
			_exit(0);
		}
		waitpid(mid, NULL, 0);
		int s;
		waitpid(-1, &s, 0);
		_exit(WIFEXITED(s) ? WEXITSTATUS(s) : 2);
	}
	CHECK_EQ(pdeathsig_delivered, wait_exit(pid), 0);
	close(pfd[0]);
	close(pfd[1]);

	/* A process whose threads all called exit(2): the leader going first stays a zombie
	 * until the last thread is gone, and the status is the last thread's. */
	pid = fork();
	if (pid == 0) {
		clone(late_thread, child_stack[3] + sizeof child_stack[3],
		      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, NULL);
		syscall(SYS_exit, 4);
	}
	CHECK_EQ(last_thread_status, wait_exit(pid), 2);

	/* mmap'ed MAP_SHARED memory written by a forked child is seen by the parent. */
	int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*sh = 0;
	pid = fork();
	if (pid == 0) {
		*sh = 1234;
		_exit(0);
	}
	wait_exit(pid);
	CHECK_EQ(fork_shared_anon, *sh, 1234);
	(void)pipefd;
	return check_done();
}

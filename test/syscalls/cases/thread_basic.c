/* Threads through glibc: pthread create/join/detach, thread IDs, a thread exiting while
 * another waits on its futex (pthread_join's CLONE_CHILD_CLEARTID wake), mutexes and
 * condition variables under contention, fork while another thread holds a lock, execve
 * from a non-leader thread (every other thread dies, the exec'ing thread takes the PID),
 * exit_group from a thread, per-thread signal masks and tgkill, a thread waiting for a
 * child forked by another thread. */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void *ret_arg(void *arg) { return arg; }

static void *get_tid(void *arg) {
	*(long *)arg = syscall(SYS_gettid);
	return (void *)(long)syscall(SYS_getpid);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;

static void *adder(void *arg) {
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *cond_waiter(void *arg) {
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return (void *)7;
}

static void *late_exit(void *arg) {
	sleep_ms((long)arg);
	return (void *)99;
}

static void *hold_lock(void *arg) {
	(void)arg;
	pthread_mutex_lock(&mu);
	__atomic_store_n(&ready, 1, __ATOMIC_SEQ_CST);
	sleep_ms(100);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static const char *self_path;

static void *exec_from_thread(void *arg) {
	(void)arg;
	char *argv[] = {(char *)self_path, "exec-child", NULL};
	execv(self_path, argv);
	return NULL;
}

static void *forever(void *arg) {
	(void)arg;
	for (;;)
		sleep_ms(10);
	return NULL;
}

static void *exit_group_thread(void *arg) {
	(void)arg;
	sleep_ms(20);
	exit(33);
	return NULL;
}

static volatile long sig_tid;
static void on_usr1(int sig) {
	(void)sig;
	sig_tid = syscall(SYS_gettid);
}
static volatile long waiter_tid;
static void *unblocked_waiter(void *arg) {
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	pthread_sigmask(SIG_SETMASK, &s, NULL);
	waiter_tid = syscall(SYS_gettid);
	while (!sig_tid)
		sleep_ms(1);
	return NULL;
}

static pid_t forked_child;
static void *forker(void *arg) {
	(void)arg;
	forked_child = fork();
	if (forked_child == 0)
		_exit(12);
	return NULL;
}

static void *nothing(void *arg) { return arg; }

/* fresh_threads_race forks children that start two threads at once: both run code the
 * child has not touched since fork, so their first instructions fault on the same pages
 * at the same time. Returns how many children did not exit cleanly. */
static int fresh_threads_race(void) {
	int bad = 0;
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			pthread_t a, b;
			pthread_create(&a, NULL, nothing, NULL);
			pthread_create(&b, NULL, nothing, NULL);
			pthread_join(a, NULL);
			pthread_join(b, NULL);
			_exit(7);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 7)
			bad++;
	}
	return bad;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
		/* After execve from a thread: alone, with the old PID. */
		_exit(syscall(SYS_gettid) == getpid() ? 50 : 51);
	}
	self_path = argv[0];

	/* create and join: the return value comes back. */
	pthread_t th;
	void *ret;
	CHECK_EQ(pthread_create_ok, pthread_create(&th, NULL, ret_arg, (void *)1234), 0);
	CHECK_EQ(pthread_join_ok, pthread_join(th, &ret), 0);
	CHECK_EQ(pthread_join_value, (long)ret, 1234);

	/* Thread IDs: a new TID, the same PID. */
	long tid = 0;
	pthread_create(&th, NULL, get_tid, &tid);
	pthread_join(th, &ret);
	CHECK_EQ(thread_same_pid, (long)ret, getpid());
	CHECK_TRUE(thread_new_tid, tid > 0 && tid != getpid());

	/* Many threads at once. */
	pthread_t many[50];
	int created = 0;
	for (int i = 0; i < 50; i++)
		if (pthread_create(&many[i], NULL, ret_arg, (void *)(long)i) == 0)
			created++;
	long sum = 0;
	for (int i = 0; i < created; i++) {
		pthread_join(many[i], &ret);
		sum += (long)ret;
	}
	CHECK_EQ(fifty_threads, created, 50);
	CHECK_EQ(fifty_threads_sum, sum, 49 * 50 / 2);

	/* Mutex under contention. */
	pthread_t adders[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&adders[i], NULL, adder, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(adders[i], NULL);
	CHECK_EQ(mutex_contention, counter, 80000);

	/* Condition variable. */
	pthread_t waiters[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&waiters[i], NULL, cond_waiter, NULL);
	sleep_ms(30);
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	long rsum = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(waiters[i], &ret);
		rsum += (long)ret;
	}
	CHECK_EQ(cond_broadcast, rsum, 21);

	/* Joining a thread that exits later: the join sleeps on the TID futex until the
	 * kernel clears and wakes it. */
	pthread_create(&th, NULL, late_exit, (void *)50L);
	CHECK_EQ(join_waits_for_exit, pthread_join(th, &ret), 0);
	CHECK_EQ(join_late_value, (long)ret, 99);
	/* A detached thread runs to its end on its own. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	CHECK_EQ(detached_create, pthread_create(&th, &attr, late_exit, (void *)1L), 0);
	sleep_ms(20);

	/* fork while another thread holds a lock: the child has only the forking thread and
	 * a copy of the lock as it was (held); the parent's lock is released normally. */
	ready = 0;
	pthread_create(&th, NULL, hold_lock, NULL);
	while (!__atomic_load_n(&ready, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	pid_t pid = fork();
	if (pid == 0) {
		int busy = pthread_mutex_trylock(&mu) == EBUSY;
		_exit(busy ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE(fork_with_held_lock, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pthread_join(th, NULL);
	CHECK_EQ(parent_lock_released, pthread_mutex_trylock(&mu), 0);
	pthread_mutex_unlock(&mu);

	/* A thread can wait for a child that another thread forked. */
	pthread_create(&th, NULL, forker, NULL);
	pthread_join(th, NULL);
	CHECK_EQ(wait_child_of_other_thread, waitpid(forked_child, &st, 0), forked_child);
	CHECK_EQ(wait_child_of_other_thread_status, WEXITSTATUS(st), 12);

	/* execve from a non-leader thread: the others die, the new program has the PID and
	 * is single-threaded. */
	pid = fork();
	if (pid == 0) {
		pthread_t a, b;
		pthread_create(&a, NULL, forever, NULL);
		pthread_create(&b, NULL, exec_from_thread, NULL);
		for (;;)
			sleep_ms(10);
	}
	waitpid(pid, &st, 0);
	CHECK_TRUE(exec_from_thread_kills_others, WIFEXITED(st) && WEXITSTATUS(st) == 50);

	/* Threads of a new child faulting on the same pages at once. */
	CHECK_EQ(fresh_threads_same_faults, fresh_threads_race(), 0);

	/* exit_group from a thread ends every thread. */
	pid = fork();
	if (pid == 0) {
		pthread_t a, b;
		pthread_create(&a, NULL, forever, NULL);
		pthread_create(&b, NULL, exit_group_thread, NULL);
		for (;;)
			sleep_ms(10);
	}
	waitpid(pid, &st, 0);
	CHECK_TRUE(exit_group_from_thread, WIFEXITED(st) && WEXITSTATUS(st) == 33);

	/* A fatal signal to one thread kills the process. */
	pid = fork();
	if (pid == 0) {
		pthread_t a;
		pthread_create(&a, NULL, forever, NULL);
		sleep_ms(10);
		pthread_kill(a, SIGTERM);
		for (;;)
			sleep_ms(10);
	}
	waitpid(pid, &st, 0);
	CHECK_TRUE(thread_fatal_signal_kills_process, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

	/* Per-thread masks: a process-directed signal goes to the thread that does not
	 * block it; tgkill to a thread reaches that thread. */
	sigset_t s, old;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, &old);
	signal(SIGUSR1, on_usr1);
	pthread_create(&th, NULL, unblocked_waiter, NULL);
	while (!waiter_tid)
		sleep_ms(1);
	kill(getpid(), SIGUSR1);
	pthread_join(th, NULL);
	CHECK_EQ(process_signal_picks_unblocked_thread, sig_tid, waiter_tid);
	sig_tid = 0;
	waiter_tid = 0;
	pthread_create(&th, NULL, unblocked_waiter, NULL);
	while (!waiter_tid)
		sleep_ms(1);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK_EQ(tgkill_reaches_thread, sig_tid, waiter_tid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);

	return check_done();
}

/* futex(2): WAIT (value mismatch, timeout, wake, signal), WAKE counts, REQUEUE,
 * CMP_REQUEUE, WAKE_OP, WAIT_BITSET/WAKE_BITSET (absolute timeouts on both clocks),
 * private and shared futexes, shared across fork through MAP_SHARED anonymous memory and
 * through a shared file mapping, robust lists walked at thread exit, and the errors. */
#include "check.h"
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

static long futex(volatile uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts, volatile uint32_t *uaddr2, uint32_t val3) {
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static long ms_since(struct timespec *t0) {
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static volatile uint32_t word, word2;
static volatile int woken_count, started;

struct waitarg {
	volatile uint32_t *addr;
	int op;
	uint32_t val, bitset;
	long ret;
	int err;
};

static void *waiter(void *p) {
	struct waitarg *a = p;
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	a->ret = futex(a->addr, a->op, a->val, NULL, NULL, a->bitset);
	a->err = errno;
	if (a->ret == 0)
		__atomic_add_fetch(&woken_count, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* start_waiters starts n threads waiting on addr (value val) and gives them time to
 * block. */
static void start_waiters(pthread_t *th, struct waitarg *args, int n, volatile uint32_t *addr, int op, uint32_t bitset) {
	started = 0;
	woken_count = 0;
	for (int i = 0; i < n; i++) {
		args[i] = (struct waitarg){.addr = addr, .op = op, .val = *addr, .bitset = bitset};
		pthread_create(&th[i], NULL, waiter, &args[i]);
	}
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < n)
		sleep_ms(1);
	sleep_ms(30);
}

static void on_usr1(int sig) { (void)sig; }

/* A robust mutex's owner thread exits holding it. */
static pthread_mutex_t robust;
static void *take_and_exit(void *arg) {
	(void)arg;
	pthread_mutex_lock(&robust);
	return NULL;
}

int main(void) {
	pthread_t th[8];
	struct waitarg args[8];
	struct timespec ts, t0;

	/* WAIT returns EAGAIN at once if the word differs. */
	word = 1;
	CHECK_ERR(wait_value_mismatch, futex(&word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0), EAGAIN);
	/* ... and ETIMEDOUT after a relative timeout. */
	ts = (struct timespec){0, 50000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR(wait_timeout, futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0), ETIMEDOUT);
	CHECK_TRUE(wait_timeout_duration, ms_since(&t0) >= 45);
	ts = (struct timespec){0, 0};
	CHECK_ERR(wait_zero_timeout, futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0), ETIMEDOUT);
	ts = (struct timespec){0, 1000000000};
	CHECK_ERR(wait_bad_timeout, futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0), EINVAL);
	ts = (struct timespec){-1, 0};
	CHECK_ERR(wait_negative_timeout, futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0), EINVAL);
	CHECK_ERR(wait_efault, futex((uint32_t *)8, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0), EFAULT);
	CHECK_ERR(wait_unaligned, futex((uint32_t *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	CHECK_ERR(bad_op, futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
	CHECK_ERR(clock_realtime_with_wake, futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS);
	CHECK_EQ(wake_nobody, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);

	/* WAKE wakes as many as asked. */
	start_waiters(th, args, 3, &word, FUTEX_WAIT_PRIVATE, 0);
	CHECK_EQ(wake_one, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	CHECK_EQ(wake_rest, futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 2);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(wake_all_returned_zero, woken_count, 3);

	/* A private waiter is not woken by a shared wake of the same word, and vice versa. */
	start_waiters(th, args, 1, &word, FUTEX_WAIT_PRIVATE, 0);
	CHECK_EQ(shared_wake_misses_private, futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
	CHECK_EQ(private_wake_hits_private, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);
	start_waiters(th, args, 1, &word, FUTEX_WAIT, 0);
	CHECK_EQ(private_wake_misses_shared, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_EQ(shared_wake_hits_shared, futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);

	/* A signal interrupts a wait: EINTR after the handler, or with SA_RESTART the wait
	 * goes on. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	start_waiters(th, args, 1, &word, FUTEX_WAIT_PRIVATE, 0);
	pthread_kill(th[0], SIGUSR1);
	pthread_join(th[0], NULL);
	CHECK_TRUE(wait_eintr, args[0].ret == -1 && args[0].err == EINTR);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	start_waiters(th, args, 1, &word, FUTEX_WAIT_PRIVATE, 0);
	pthread_kill(th[0], SIGUSR1);
	sleep_ms(30);
	CHECK_EQ(wait_restarted_after_handler, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);
	CHECK_EQ(wait_restarted_returns_zero, args[0].ret, 0);

	/* REQUEUE: wake 1, move the others to word2; they wake from word2. */
	word2 = 0;
	start_waiters(th, args, 4, &word, FUTEX_WAIT_PRIVATE, 0);
	CHECK_EQ(requeue_count, futex(&word, FUTEX_REQUEUE_PRIVATE, 1, (struct timespec *)2L, &word2, 0), 3);
	sleep_ms(20);
	CHECK_EQ(requeue_woke_one, woken_count, 1);
	CHECK_EQ(requeue_left_on_first, futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 1);
	CHECK_EQ(requeue_moved_to_second, futex(&word2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 2);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	/* CMP_REQUEUE checks the value first. */
	start_waiters(th, args, 2, &word, FUTEX_WAIT_PRIVATE, 0);
	CHECK_ERR(cmp_requeue_mismatch, futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 0, (struct timespec *)10L, &word2, word + 1), EAGAIN);
	CHECK_EQ(cmp_requeue_moves, futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 0, (struct timespec *)10L, &word2, word), 2);
	CHECK_EQ(cmp_requeue_woken_on_second, futex(&word2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 2);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_ERR(cmp_requeue_negative_count, futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, (uint32_t)-1, (struct timespec *)1L, &word2, word), EINVAL);

	/* WAKE_OP: word2 += 1 (old value 0 compared == 0: wake on word2 too). */
	word2 = 0;
	start_waiters(th, args, 1, &word, FUTEX_WAIT_PRIVATE, 0);
	start_waiters(th + 1, args + 1, 1, &word2, FUTEX_WAIT_PRIVATE, 0);
	long n = futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (struct timespec *)1L, &word2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ(wake_op_both, n, 2);
	CHECK_EQ(wake_op_applied, word2, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	/* The comparison fails: only the first word's waiters. */
	start_waiters(th, args, 1, &word2, FUTEX_WAIT_PRIVATE, 0);
	n = futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (struct timespec *)1L, &word2, FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_GT, 100));
	CHECK_EQ(wake_op_cmp_false, n, 0);
	CHECK_EQ(wake_op_set, word2, 5);
	/* OPARG_SHIFT: word2 |= 1 << 4. */
	futex(&word, FUTEX_WAKE_OP_PRIVATE, 0, (struct timespec *)1L, &word2, FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ(wake_op_oparg_shift, word2, 5 | 16);
	futex(&word2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(th[0], NULL);

	/* WAIT_BITSET / WAKE_BITSET: only intersecting bitsets wake. */
	start_waiters(th, args, 1, &word, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
	start_waiters(th + 1, args + 1, 1, &word, FUTEX_WAIT_BITSET_PRIVATE, 0x2);
	CHECK_EQ(wake_bitset_selects, futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x2), 1);
	pthread_join(th[1], NULL);
	CHECK_EQ(wake_bitset_other, futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0xffffffff), 1);
	pthread_join(th[0], NULL);
	CHECK_ERR(wait_bitset_zero, futex(&word, FUTEX_WAIT_BITSET_PRIVATE, word, NULL, NULL, 0), EINVAL);
	CHECK_ERR(wake_bitset_zero, futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	/* An absolute timeout on CLOCK_MONOTONIC, and on CLOCK_REALTIME. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 50000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR(wait_bitset_abs_monotonic, futex(&word, FUTEX_WAIT_BITSET_PRIVATE, word, &ts, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	CHECK_TRUE(wait_bitset_abs_monotonic_duration, ms_since(&t0) >= 45 && ms_since(&t0) < 2000);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR(wait_bitset_abs_realtime, futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, word, &ts, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	CHECK_TRUE(wait_bitset_abs_realtime_duration, ms_since(&t0) >= 45 && ms_since(&t0) < 2000);
	/* A deadline in the past times out at once. */
	ts = (struct timespec){1, 0};
	CHECK_ERR(wait_bitset_past, futex(&word, FUTEX_WAIT_BITSET_PRIVATE, word, &ts, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);

	/* Shared futexes across fork through MAP_SHARED anonymous memory. */
	volatile uint32_t *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*sh = 0;
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec to = {5, 0};
		long r = futex(sh, FUTEX_WAIT, 0, &to, NULL, 0);
		_exit(r == 0 && sh[1] == 77 ? 0 : 1);
	}
	sleep_ms(50);
	sh[1] = 77;
	long w = 0;
	for (int i = 0; i < 200 && w == 0; i++) {
		w = futex(sh, FUTEX_WAKE, 1, NULL, NULL, 0);
		if (w == 0)
			sleep_ms(5);
	}
	CHECK_EQ(shared_anon_fork_wake, w, 1);
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE(shared_anon_fork_waiter_ok, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* A private mapping's futex after fork is private to each process. */
	static uint32_t priv_word;
	pid = fork();
	if (pid == 0) {
		struct timespec to = {0, 200000000};
		long r = futex(&priv_word, FUTEX_WAIT, 0, &to, NULL, 0);
		_exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
	}
	sleep_ms(50);
	CHECK_EQ(cow_futex_not_shared, futex(&priv_word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
	waitpid(pid, &st, 0);
	CHECK_TRUE(cow_futex_child_timed_out, WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Shared futex through two mappings of one file (different addresses, same page). */
	const char *path = scratch_path("futexfile");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ftruncate(fd, 4096);
	volatile uint32_t *m1 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (CHECK_TRUE(file_futex_map, m1 != MAP_FAILED)) {
		pid = fork();
		if (pid == 0) {
			volatile uint32_t *m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			struct timespec to = {5, 0};
			long r = futex(m2 + 4, FUTEX_WAIT, 0, &to, NULL, 0);
			_exit(r == 0 ? 0 : 1);
		}
		sleep_ms(50);
		w = 0;
		for (int i = 0; i < 200 && w == 0; i++) {
			w = futex(m1 + 4, FUTEX_WAKE, 1, NULL, NULL, 0);
			if (w == 0)
				sleep_ms(5);
		}
		CHECK_EQ(file_futex_wake, w, 1);
		waitpid(pid, &st, 0);
		CHECK_TRUE(file_futex_waiter_ok, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	} else {
		check_fail("file_futex_wake", "no mapping");
		check_fail("file_futex_waiter_ok", "no mapping");
	}
	close(fd);

	/* Robust lists: a thread that dies holding a robust mutex leaves it EOWNERDEAD. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &ma);
	pthread_create(&th[0], NULL, take_and_exit, NULL);
	pthread_join(th[0], NULL);
	CHECK_EQ(robust_owner_died, pthread_mutex_lock(&robust), EOWNERDEAD);
	CHECK_EQ(robust_consistent, pthread_mutex_consistent(&robust), 0);
	pthread_mutex_unlock(&robust);
	CHECK_EQ(robust_usable_again, pthread_mutex_lock(&robust), 0);
	pthread_mutex_unlock(&robust);
	/* ... across processes too: a robust shared mutex whose owner process dies. */
	pthread_mutex_t *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(pm, &ma);
	pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(pm);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK_EQ(robust_shared_owner_died, pthread_mutex_lock(pm), EOWNERDEAD);
	pthread_mutex_consistent(pm);
	pthread_mutex_unlock(pm);
	/* A waiter blocked on the robust mutex is woken when the owner dies. */
	pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(pm);
		sleep_ms(100);
		_exit(0);
	}
	sleep_ms(30);
	CHECK_EQ(robust_waiter_woken_on_death, pthread_mutex_lock(pm), EOWNERDEAD);
	waitpid(pid, &st, 0);

	/* get_robust_list and set_robust_list. */
	void *head;
	size_t len;
	CHECK_OK(get_robust_list_self, syscall(SYS_get_robust_list, 0, &head, &len));
	CHECK_TRUE(get_robust_list_len, len == 24 && head != NULL);
	CHECK_ERR(set_robust_list_bad_len, syscall(SYS_set_robust_list, head, 16), EINVAL);
	CHECK_ERR(get_robust_list_no_such, syscall(SYS_get_robust_list, 0x3ffffff0, &head, &len), ESRCH);

	return check_done();
}

/* Shared file mappings: stores seen by read(2) and write(2) seen by the mapping, two
 * processes sharing a file through their own mappings and through fork, msync and its
 * errors, data surviving munmap and close, truncation making mapped pages SIGBUS, private
 * mappings of a shared-written file, shared anonymous memory and futexes across
 * processes, and a read-only shared mapping of a file on the root filesystem (the gofer,
 * under runsc) matching read(2). */
#include "check.h"
#include <linux/futex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define PAGE 4096L

static sigjmp_buf jb;
static volatile int armed, faulted, fault_code;
static void on_fault(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (!armed) {
		printf("FAIL unexpected_fault: signal %d\n", sig);
		_exit(1);
	}
	armed = 0;
	faulted = sig;
	fault_code = si->si_code;
	siglongjmp(jb, 1);
}
/* FAULTS(stmt) is the signal stmt raised, or 0. */
#define FAULTS(stmt)                                                                           \
	({                                                                                         \
		faulted = 0;                                                                           \
		armed = 1;                                                                             \
		if (sigsetjmp(jb, 1) == 0) {                                                           \
			stmt;                                                                              \
		}                                                                                      \
		armed = 0;                                                                             \
		faulted;                                                                               \
	})

static int wait_exit(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long futex(volatile uint32_t *uaddr, int op, uint32_t val, const struct timespec *to) {
	return syscall(SYS_futex, uaddr, op, val, to, NULL, 0);
}

static void sleep_ms(int ms) {
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	const char *path = scratch_path("shared");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[3 * PAGE];
	memset(buf, 'a', sizeof buf);
	write(fd, buf, sizeof buf);

	/* Stores through the mapping are seen by read(2), write(2) by the mapping. */
	char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK_TRUE(map_shared_rw, m != MAP_FAILED))
		return check_done();
	m[10] = 'S';
	m[PAGE + 20] = 'T';
	char c = 0;
	pread(fd, &c, 1, 10);
	CHECK_EQ(store_seen_by_pread, c, 'S');
	char rb[PAGE];
	lseek(fd, PAGE, SEEK_SET);
	CHECK_EQ(read_len, read(fd, rb, PAGE), PAGE);
	CHECK_EQ(store_seen_by_read, rb[20], 'T');
	pwrite(fd, "W", 1, 2 * PAGE + 5);
	CHECK_EQ(pwrite_seen_by_mapping, m[2 * PAGE + 5], 'W');
	/* A write(2) across a page boundary lands in both pages. */
	pwrite(fd, "XY", 2, PAGE - 1);
	CHECK_TRUE(pwrite_across_pages, m[PAGE - 1] == 'X' && m[PAGE] == 'Y');

	/* A second mapping at another offset sees the same pages. */
	char *m2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	CHECK_EQ(second_mapping_offset_sees, m2[20], 'T');
	m2[21] = 'U';
	CHECK_EQ(first_sees_second, m[PAGE + 21], 'U');
	munmap(m2, PAGE);

	/* Another process: its own mapping of the file, and the mapping it inherited. */
	pid_t pid = fork();
	if (pid == 0) {
		int ok = 1;
		char *mc = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ok &= mc != MAP_FAILED && mc[10] == 'S';
		mc[11] = 'C';
		m[12] = 'D'; /* through the inherited mapping */
		_exit(ok ? 0 : 1);
	}
	CHECK_EQ(child_own_mapping_sees, wait_exit(pid), 0);
	CHECK_EQ(child_own_mapping_store_seen, m[11], 'C');
	CHECK_EQ(child_inherited_store_seen, m[12], 'D');
	pread(fd, &c, 1, 12);
	CHECK_EQ(child_store_seen_by_read, c, 'D');

	/* A private mapping sees the shared stores; its own stores stay private. */
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_TRUE(private_sees_shared_stores, p != MAP_FAILED && p[10] == 'S' && p[11] == 'C');
	p[10] = 'P';
	CHECK_EQ(private_store_not_in_shared, m[10], 'S');
	pread(fd, &c, 1, 10);
	CHECK_EQ(private_store_not_in_file, c, 'S');
	munmap(p, PAGE);

	/* msync and its errors. */
	CHECK_OK(msync_sync, msync(m, 3 * PAGE, MS_SYNC));
	CHECK_OK(msync_async, msync(m, PAGE, MS_ASYNC));
	CHECK_OK(msync_no_flags, msync(m, PAGE, 0));
	CHECK_ERR(msync_bad_flag, msync(m, PAGE, 0x100), EINVAL);
	CHECK_ERR(msync_sync_and_async, msync(m, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
	CHECK_ERR(msync_unaligned, msync(m + 1, PAGE, MS_SYNC), EINVAL);
	char *hole = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole + PAGE, PAGE);
	CHECK_ERR(msync_unmapped_enomem, msync(hole, 2 * PAGE, MS_SYNC), ENOMEM);
	munmap(hole, PAGE);
	CHECK_OK(fsync_after_stores, fsync(fd));

	/* Data survive munmap and close. */
	m[2 * PAGE + 100] = 'Z';
	munmap(m, 3 * PAGE);
	close(fd);
	fd = open(path, O_RDONLY);
	c = 0;
	pread(fd, &c, 1, 2 * PAGE + 100);
	CHECK_EQ(store_survives_munmap_close, c, 'Z');
	close(fd);

	/* Truncation: a page already touched beyond the new end is SIGBUS; the part of the
	 * last page beyond the end reads zero. */
	fd = open(path, O_RDWR);
	m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	m[2 * PAGE] = 'q';
	m[PAGE + 200] = 'r';
	CHECK_OK(ftruncate_shrink, ftruncate(fd, PAGE + 100));
	CHECK_EQ(truncated_page_sigbus, FAULTS(c = *(volatile char *)(m + 2 * PAGE)), SIGBUS);
	CHECK_EQ(truncated_sigbus_code, fault_code, BUS_ADRERR);
	CHECK_EQ(truncated_tail_zero, m[PAGE + 200], 0);
	CHECK_EQ(truncated_kept_data, m[10], 'S');
	CHECK_OK(ftruncate_extend, ftruncate(fd, 3 * PAGE));
	CHECK_EQ(extended_page_ok, FAULTS(c = *(volatile char *)(m + 2 * PAGE)), 0);
	CHECK_EQ(extended_page_zero, c, 0);
	munmap(m, 3 * PAGE);
	close(fd);

	/* A read-only open: PROT_WRITE is EACCES, PROT_READ sees the data. */
	fd = open(path, O_RDONLY);
	CHECK_ERR(rdonly_prot_write_eacces, (long)mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_TRUE(rdonly_shared_map, ro != MAP_FAILED && ro[10] == 'S');
	CHECK_ERR(rdonly_mprotect_write_eacces, mprotect(ro, PAGE, PROT_READ | PROT_WRITE), EACCES);
	munmap(ro, PAGE);
	close(fd);

	/* MAP_SHARED anonymous memory: shared with a child even when untouched before fork;
	 * a shared futex in it wakes across processes. */
	volatile uint32_t *sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid = fork();
	if (pid == 0) {
		struct timespec to = {5, 0};
		sh[1] = 1;
		long r = futex(&sh[0], FUTEX_WAIT, 0, &to);
		_exit(r == 0 && sh[0] == 7 ? 0 : 1);
	}
	while (sh[1] != 1)
		sleep_ms(1);
	sleep_ms(20);
	sh[0] = 7;
	long woken = 0;
	for (int i = 0; i < 200 && woken == 0; i++) {
		woken = futex(&sh[0], FUTEX_WAKE, 1, NULL);
		if (woken == 0)
			sleep_ms(5);
	}
	CHECK_EQ(anon_shared_futex_wake, woken, 1);
	CHECK_EQ(anon_shared_futex_waiter_ok, wait_exit(pid), 0);
	/* A private futex op on shared memory does not reach a shared waiter of another
	 * process (different keys). */
	CHECK_EQ(anon_shared_private_wake_none, futex(&sh[0], FUTEX_WAKE_PRIVATE, 1, NULL), 0);
	munmap((void *)sh, PAGE);

	/* A read-only shared mapping of a file on the root filesystem matches read(2). */
	int efd = open("/proc/self/exe", O_RDONLY);
	char *ex = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, efd, 0);
	char eb[2 * PAGE];
	long got = pread(efd, eb, sizeof eb, 0);
	CHECK_TRUE(rootfs_shared_ro_matches_read, ex != MAP_FAILED && got == sizeof eb && memcmp(ex, eb, sizeof eb) == 0);
	munmap(ex, 2 * PAGE);
	close(efd);

	return check_done();
}

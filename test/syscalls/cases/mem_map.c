/* Memory: fork copy-on-write, MAP_SHARED anonymous memory across fork, private and shared
 * file mappings (writes through a shared mapping seen by read(2), by other mappings and
 * by other processes; write(2) seen by mappings; msync; private mappings not writing
 * back), mremap (shrink, grow in place, MREMAP_MAYMOVE, MREMAP_FIXED, data kept),
 * mprotect of parts, madvise (DONTNEED on private and shared, DONTFORK), mlock family,
 * mincore, brk, MAP_GROWSDOWN, MAP_POPULATE/MAP_FIXED_NOREPLACE, /proc/self/maps. */
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define PAGE 4096L

static sigjmp_buf jb;
static volatile int armed, faulted;
static void on_segv(int sig) {
	if (!armed) {
		printf("FAIL unexpected_fault: signal %d\n", sig);
		_exit(1);
	}
	armed = 0;
	faulted = sig;
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

/* maps_has reports whether /proc/self/maps has a line for [start, end) with perms. */
static int maps_has(void *start, void *end, const char *perms) {
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, p) == 3 && s == (unsigned long)start && e == (unsigned long)end && strcmp(p, perms) == 0)
			found = 1;
	}
	fclose(f);
	return found;
}

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	/* fork: copy-on-write both ways. */
	char *priv = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(priv, 'p', 4 * PAGE);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = priv[0] == 'p' && priv[3 * PAGE] == 'p';
		priv[0] = 'c';
		sleep(0);
		_exit(ok && priv[0] == 'c' ? 0 : 1);
	}
	CHECK_EQ(cow_child_sees_and_writes, wait_exit(pid), 0);
	CHECK_EQ(cow_parent_unchanged, priv[0], 'p');
	priv[PAGE] = 'q';
	pid = fork();
	if (pid == 0)
		_exit(priv[PAGE] == 'q' ? 0 : 1);
	priv[PAGE] = 'r'; /* after fork: the child must still see 'q' */
	CHECK_EQ(cow_parent_write_after_fork, wait_exit(pid), 0);
	CHECK_EQ(cow_parent_sees_own_write, priv[PAGE], 'r');
	/* Many forks of the same pages, each writing. */
	int okc = 0;
	for (int i = 0; i < 5; i++) {
		pid = fork();
		if (pid == 0) {
			priv[2 * PAGE] = (char)('0' + i);
			_exit(priv[2 * PAGE] == '0' + i && priv[0] == 'p' ? 0 : 1);
		}
		okc += wait_exit(pid) == 0;
	}
	CHECK_EQ(cow_repeated_forks, okc, 5);
	CHECK_EQ(cow_parent_after_forks, priv[2 * PAGE], 'p');

	/* MAP_SHARED anonymous: shared with the child both ways. */
	volatile int *sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	sh[0] = 1;
	pid = fork();
	if (pid == 0) {
		while (sh[1] != 2)
			;
		sh[0] = 3;
		_exit(0);
	}
	sh[1] = 2;
	wait_exit(pid);
	CHECK_EQ(shared_anon_both_ways, sh[0], 3);
	/* MADV_DONTNEED on shared anonymous memory keeps the data. */
	madvise((void *)sh, PAGE, MADV_DONTNEED);
	CHECK_EQ(shared_anon_dontneed_keeps, sh[0], 3);

	/* MADV_DONTFORK: the child does not get the range. */
	char *df = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	df[0] = 1;
	CHECK_OK(madvise_dontfork, madvise(df, PAGE, MADV_DONTFORK));
	pid = fork();
	if (pid == 0)
		_exit(FAULTS(df[0] = 2) == SIGSEGV ? 0 : 1);
	CHECK_EQ(madv_dontfork_not_in_child, wait_exit(pid), 0);
	CHECK_OK(madvise_dofork, madvise(df, PAGE, MADV_DOFORK));
	pid = fork();
	if (pid == 0)
		_exit(df[0] == 1 ? 0 : 1);
	CHECK_EQ(madv_dofork_in_child, wait_exit(pid), 0);
	/* MADV_WIPEONFORK: the child sees zeros. */
	CHECK_OK(madvise_wipeonfork, madvise(df, PAGE, MADV_WIPEONFORK));
	pid = fork();
	if (pid == 0)
		_exit(df[0] == 0 ? 0 : 1);
	CHECK_EQ(madv_wipeonfork_zero_in_child, wait_exit(pid), 0);
	CHECK_EQ(madv_wipeonfork_parent_kept, df[0], 1);
	munmap(df, PAGE);

	/* File mappings. */
	const char *path = scratch_path("mapped");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[2 * PAGE];
	memset(buf, 'a', sizeof buf);
	write(fd, buf, sizeof buf);

	/* A private mapping sees the file, writes stay private. */
	char *pm = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_EQ(private_file_data, pm[PAGE + 5], 'a');
	pm[0] = 'X';
	char c = 0;
	pread(fd, &c, 1, 0);
	CHECK_EQ(private_file_write_not_in_file, c, 'a');
	munmap(pm, 2 * PAGE);

	/* A shared mapping: stores are seen by read(2) with no msync. */
	char *m1 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (CHECK_TRUE(shared_file_map, m1 != MAP_FAILED)) {
		m1[1] = 'S';
		c = 0;
		pread(fd, &c, 1, 1);
		CHECK_EQ(shared_store_seen_by_read, c, 'S');
		/* write(2) is seen through the mapping. */
		pwrite(fd, "T", 1, 2);
		CHECK_EQ(shared_write_seen_by_mapping, m1[2], 'T');
		/* A second mapping of the same file sees the first one's stores. */
		char *m2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK_EQ(shared_second_mapping_sees, m2[1], 'S');
		m2[3] = 'U';
		CHECK_EQ(shared_first_mapping_sees_second, m1[3], 'U');
		/* Another process, its own mapping. */
		pid = fork();
		if (pid == 0) {
			char *m3 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			int ok = m3[3] == 'U';
			m3[4] = 'V';
			_exit(ok ? 0 : 1);
		}
		CHECK_EQ(shared_other_process_sees, wait_exit(pid), 0);
		CHECK_EQ(shared_other_process_store_seen, m1[4], 'V');
		/* A private mapping made now sees the shared stores. */
		pm = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
		CHECK_EQ(private_sees_shared_store, pm[4], 'V');
		munmap(pm, PAGE);
		CHECK_OK(msync_sync, msync(m1, 2 * PAGE, MS_SYNC));
		CHECK_OK(msync_async, msync(m1, PAGE, MS_ASYNC));
		CHECK_OK(msync_invalidate, msync(m1, PAGE, MS_INVALIDATE));
		CHECK_ERR(msync_both_flags, msync(m1, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
		CHECK_ERR(msync_unaligned, msync(m1 + 1, PAGE, MS_SYNC), EINVAL);
		munmap(m2, PAGE);
		/* Data survive munmap and close: reopen and read. */
		m1[PAGE + 7] = 'Z';
		munmap(m1, 2 * PAGE);
		close(fd);
		fd = open(path, O_RDONLY);
		c = 0;
		pread(fd, &c, 1, PAGE + 7);
		CHECK_EQ(shared_store_survives_unmap, c, 'Z');
		close(fd);
		fd = open(path, O_RDWR);
		/* Extending the file makes the mapping's next page valid. */
		ftruncate(fd, 2 * PAGE);
		m1 = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK_EQ(shared_beyond_eof_sigbus, FAULTS(m1[2 * PAGE] = 1), SIGBUS);
		ftruncate(fd, 3 * PAGE);
		CHECK_EQ(shared_after_extend_ok, FAULTS(m1[2 * PAGE] = 1), 0);
		c = 0;
		pread(fd, &c, 1, 2 * PAGE);
		CHECK_EQ(shared_after_extend_in_file, c, 1);
		/* MADV_DONTNEED on a shared file mapping keeps the data. */
		madvise(m1, PAGE, MADV_DONTNEED);
		CHECK_EQ(shared_file_dontneed_keeps, m1[1], 'S');
		munmap(m1, 3 * PAGE);
	}
	/* Mapping permissions follow the open mode. */
	close(fd);
	fd = open(path, O_RDONLY);
	CHECK_TRUE(shared_ro_fd_prot_write_eacces, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES);
	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_TRUE(shared_ro_map, ro != MAP_FAILED);
	CHECK_ERR(shared_ro_mprotect_write_eacces, mprotect(ro, PAGE, PROT_READ | PROT_WRITE), EACCES);
	char *pw = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_TRUE(private_ro_fd_writable, pw != MAP_FAILED && FAULTS(pw[0] = 1) == 0);
	munmap(ro, PAGE);
	munmap(pw, PAGE);
	close(fd);
	fd = open(path, O_WRONLY);
	CHECK_TRUE(wronly_fd_eacces, mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == EACCES);
	close(fd);

	/* mremap: shrink, grow in place, move. */
	char *r = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(r + 2 * PAGE, 2 * PAGE); /* free space after 2 pages */
	r[0] = 'r';
	r[PAGE] = 's';
	CHECK_TRUE(mremap_shrink, mremap(r, 2 * PAGE, PAGE, 0) == r);
	CHECK_EQ(mremap_shrunk_gone, FAULTS(r[PAGE] = 1), SIGSEGV);
	CHECK_TRUE(mremap_grow_in_place, mremap(r, PAGE, 3 * PAGE, 0) == r);
	CHECK_TRUE(mremap_grow_kept_and_zero, r[0] == 'r' && r[PAGE] == 0 && r[2 * PAGE] == 0);
	/* Block growth with a mapping right after: without MAYMOVE, ENOMEM. */
	char *blocker = mmap(r + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK_TRUE(mremap_blocker, blocker == r + 3 * PAGE);
	CHECK_TRUE(mremap_no_room_enomem, mremap(r, 3 * PAGE, 5 * PAGE, 0) == MAP_FAILED && errno == ENOMEM);
	char *moved = mremap(r, 3 * PAGE, 5 * PAGE, MREMAP_MAYMOVE);
	CHECK_TRUE(mremap_maymove, moved != MAP_FAILED && moved != r);
	CHECK_TRUE(mremap_moved_data, moved[0] == 'r' && moved[4 * PAGE] == 0);
	CHECK_EQ(mremap_old_gone, FAULTS(r[0] = 1), SIGSEGV);
	char *target = mmap(NULL, 5 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *fixed = mremap(moved, 5 * PAGE, 5 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	CHECK_TRUE(mremap_fixed, fixed == target && fixed[0] == 'r');
	CHECK_TRUE(mremap_fixed_without_maymove, mremap(fixed, PAGE, PAGE, MREMAP_FIXED, r) == MAP_FAILED && errno == EINVAL);
	CHECK_TRUE(mremap_unmapped_efault, mremap(r, PAGE, 2 * PAGE, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT);
	CHECK_TRUE(mremap_unaligned, mremap(fixed + 1, PAGE, 2 * PAGE, 0) == MAP_FAILED && errno == EINVAL);
	CHECK_TRUE(mremap_bad_flags, mremap(fixed, PAGE, 2 * PAGE, 0x80) == MAP_FAILED && errno == EINVAL);
	munmap(fixed, 5 * PAGE);
	munmap(blocker, PAGE);
	/* mremap of a shared anonymous mapping stays shared with a child. */
	volatile int *shm = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		_exit(shm[0] == 9 ? 0 : 1);
	}
	volatile int *shm2 = mremap((void *)shm, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	shm2[0] = 9;
	CHECK_EQ(mremap_shared_still_shared, wait_exit(pid), 0);
	/* old_size 0 on a shared mapping makes a second mapping of the same pages. */
	volatile int *dup = mremap((void *)shm2, 0, PAGE, MREMAP_MAYMOVE);
	CHECK_TRUE(mremap_dup_shared, dup != MAP_FAILED && dup != shm2 && dup[0] == 9);
	if (dup != MAP_FAILED) {
		dup[1] = 10;
		CHECK_EQ(mremap_dup_same_pages, shm2[1], 10);
	}

	/* mprotect on part of a mapping splits it. */
	char *mp = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(mp + 3 * PAGE, PAGE); /* nothing after */
	mp[0] = mp[PAGE] = mp[2 * PAGE] = 1;
	CHECK_OK(mprotect_middle, mprotect(mp + PAGE, PAGE, PROT_READ));
	CHECK_EQ(mprotect_middle_ro, FAULTS(mp[PAGE] = 2), SIGSEGV);
	CHECK_EQ(mprotect_first_rw, FAULTS(mp[0] = 2), 0);
	CHECK_EQ(mprotect_last_rw, FAULTS(mp[2 * PAGE] = 2), 0);
	CHECK_EQ(mprotect_middle_readable, mp[PAGE], 1);
	CHECK_EQ(maps_split_middle, maps_has(mp + PAGE, mp + 2 * PAGE, "r--p"), 1);
	CHECK_EQ(maps_split_first, maps_has(mp, mp + PAGE, "rw-p"), 1);
	CHECK_OK(mprotect_back, mprotect(mp + PAGE, PAGE, PROT_READ | PROT_WRITE));
	CHECK_EQ(mprotect_back_rw, FAULTS(mp[PAGE] = 3), 0);
	CHECK_ERR(mprotect_unmapped, mprotect(mp + 3 * PAGE, PAGE, PROT_READ), ENOMEM);
	CHECK_ERR(mprotect_unaligned, mprotect(mp + 1, PAGE, PROT_READ), EINVAL);
	munmap(mp + PAGE, PAGE); /* a hole */
	CHECK_ERR(mprotect_across_hole, mprotect(mp, 3 * PAGE, PROT_READ), ENOMEM);
	munmap(mp, 3 * PAGE);

	/* madvise */
	char *ad = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(ad + 2 * PAGE, PAGE);
	ad[0] = 5;
	CHECK_OK(madvise_free, madvise(ad, PAGE, MADV_FREE));
	CHECK_TRUE(madvise_free_value, ad[0] == 0 || ad[0] == 5);
	CHECK_OK(madvise_willneed_anon, madvise(ad, 2 * PAGE, MADV_WILLNEED));
	CHECK_ERR(madvise_unmapped, madvise(ad + 2 * PAGE, PAGE, MADV_DONTNEED), ENOMEM);
	munmap(ad, 2 * PAGE);

	/* mlock family. */
	char *lk = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(lk + PAGE, PAGE);
	CHECK_OK(mlock_ok, mlock(lk, PAGE));
	CHECK_OK(munlock_ok, munlock(lk, PAGE));
	CHECK_ERR(mlock_unmapped, mlock(lk + PAGE, PAGE), ENOMEM);
	CHECK_OK(mlock2_onfault, syscall(SYS_mlock2, lk, PAGE, 1));
	CHECK_ERR(mlock2_bad_flags, syscall(SYS_mlock2, lk, PAGE, 2), EINVAL);
	CHECK_OK(mlockall_current, mlockall(MCL_CURRENT));
	CHECK_OK(munlockall_ok, munlockall());
	CHECK_ERR(mlockall_bad, mlockall(0), EINVAL);

	/* mincore: touched pages are resident; unmapped is ENOMEM. */
	unsigned char vec[4];
	char *mc = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(mc + 4 * PAGE, PAGE);
	mc[PAGE] = 1;
	CHECK_OK(mincore_ok, mincore(mc, 4 * PAGE, vec));
	CHECK_EQ(mincore_touched, vec[1] & 1, 1);
	CHECK_ERR(mincore_unaligned, mincore(mc + 1, PAGE, vec), EINVAL);
	CHECK_ERR(mincore_unmapped, mincore(mc + 4 * PAGE, PAGE, vec), ENOMEM);
	CHECK_ERR(mincore_efault, mincore(mc, PAGE, BADPTR), EFAULT);
	munmap(mc, 4 * PAGE);

	/* brk */
	char *b0 = sbrk(0);
	CHECK_TRUE(brk_query, b0 != (void *)-1);
	CHECK_TRUE(brk_grow, sbrk(3 * PAGE) == b0);
	CHECK_EQ(brk_grown_usable, FAULTS(b0[3 * PAGE - 1] = 1), 0);
	CHECK_TRUE(brk_shrink, sbrk(-3 * PAGE) != (void *)-1 && sbrk(0) == b0);
	CHECK_EQ(brk_shrunk_gone, FAULTS(b0[2 * PAGE] = 1), SIGSEGV);
	CHECK_EQ(brk_below_start_ignored, syscall(SYS_brk, 4096), (long)b0);

	/* MAP_GROWSDOWN: touching the page below the lowest grows the mapping. */
	char *gd = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gd, 4 * PAGE);
	char *st = mmap(gd + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
	CHECK_TRUE(growsdown_map, st == gd + 3 * PAGE);
	CHECK_EQ(growsdown_grows, FAULTS(st[-PAGE] = 1), 0);
	CHECK_EQ(growsdown_new_page, st[-PAGE], 1);
	CHECK_EQ(maps_growsdown_extended, maps_has(gd + 2 * PAGE, gd + 4 * PAGE, "rw-p"), 1);
	munmap(gd, 4 * PAGE);

	/* MAP_FIXED_NOREPLACE and MAP_POPULATE. */
	char *np = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_TRUE(fixed_noreplace_eexist, mmap(np, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED && errno == EEXIST);
	munmap(np, PAGE);
	char *pop = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	CHECK_OK(populate_mincore, mincore(pop, 2 * PAGE, vec));
	CHECK_EQ(populate_resident, vec[0] & vec[1] & 1, 1);

	/* RLIMIT_AS bounds mappings. */
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = {256 << 20, 256 << 20};
		setrlimit(RLIMIT_AS, &rl);
		void *big = mmap(NULL, 512 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		_exit(big == MAP_FAILED && errno == ENOMEM ? 0 : 1);
	}
	CHECK_EQ(rlimit_as_enforced, wait_exit(pid), 0);

	return check_done();
}

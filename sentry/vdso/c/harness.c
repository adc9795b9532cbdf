/*
 * harness.c: loads the vDSO the way the sandbox does and checks it against the host's
 * clocks. harness_test.go builds it with gcc and runs
 *
 *     harness VVAR_OFFSET TEXT_OFFSET TEXT_LENGTH [expect-syscalls]
 *
 * with the sentry's memory file as fd 3: it maps the vvar page read-only and the image
 * read+execute right above it (both MAP_SHARED from the memory file, as the platform
 * does), finds the symbols through the ELF dynamic section as a dynamic loader does (both
 * hash tables, versions checked), and calls them. It prints "PASS name" / "FAIL name: ..."
 * lines and "BENCH name ns" lines, and exits 1 if anything failed.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failed;

#define PASS(name) printf("PASS %s\n", name)
#define FAIL(name, ...)                                                                        \
	do {                                                                                       \
		failed = 1;                                                                            \
		printf("FAIL %s: ", name);                                                             \
		printf(__VA_ARGS__);                                                                   \
		printf("\n");                                                                          \
	} while (0)
#define CHECK(name, cond, ...)                                                                 \
	do {                                                                                       \
		if (cond)                                                                              \
			PASS(name);                                                                        \
		else                                                                                   \
			FAIL(name, __VA_ARGS__);                                                           \
	} while (0)

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, struct timezone *);
typedef time_t (*time_fn)(time_t *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);

/* The loaded image. */
static uintptr_t base;
static const Elf64_Sym *symtab;
static const char *strtab;
static const uint32_t *hash, *gnu_hash;
static const Elf64_Versym *versym;
static const Elf64_Verdef *verdef;

static uint32_t elf_hash(const char *s) {
	uint32_t h = 0, g;
	for (; *s; s++) {
		h = (h << 4) + (unsigned char)*s;
		if ((g = h & 0xf0000000))
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static uint32_t gnu_hash_of(const char *s) {
	uint32_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* version_ok: symbol index i is defined in version VERSION (by name and by hash). */
static int version_ok(uint32_t i, const char *version) {
	if (!versym || !verdef)
		return 0;
	uint16_t want = versym[i] & 0x7fff;
	const Elf64_Verdef *d = verdef;
	for (;;) {
		if (d->vd_ndx == want && !(d->vd_flags & VER_FLG_BASE)) {
			const Elf64_Verdaux *a = (const void *)((const char *)d + d->vd_aux);
			return strcmp(strtab + a->vda_name, version) == 0 && d->vd_hash == elf_hash(version);
		}
		if (!d->vd_next)
			return 0;
		d = (const void *)((const char *)d + d->vd_next);
	}
}

static int sym_ok(uint32_t i, const char *name, const char *version) {
	const Elf64_Sym *s = &symtab[i];
	return strcmp(strtab + s->st_name, name) == 0 && s->st_shndx != SHN_UNDEF &&
	       ELF64_ST_TYPE(s->st_info) == STT_FUNC &&
	       (ELF64_ST_BIND(s->st_info) == STB_GLOBAL || ELF64_ST_BIND(s->st_info) == STB_WEAK) &&
	       version_ok(i, version);
}

/* lookup_sysv finds NAME@VERSION through DT_HASH. */
static void *lookup_sysv(const char *name, const char *version) {
	uint32_t nbucket = hash[0];
	const uint32_t *bucket = &hash[2], *chain = &hash[2 + nbucket];
	for (uint32_t i = bucket[elf_hash(name) % nbucket]; i; i = chain[i])
		if (sym_ok(i, name, version))
			return (void *)(base + symtab[i].st_value);
	return NULL;
}

/* lookup_gnu finds NAME@VERSION through DT_GNU_HASH, bloom filter included. */
static void *lookup_gnu(const char *name, const char *version) {
	uint32_t nbucket = gnu_hash[0], symoffset = gnu_hash[1], bloom_size = gnu_hash[2], shift = gnu_hash[3];
	const uint64_t *bloom = (const uint64_t *)&gnu_hash[4];
	const uint32_t *bucket = (const uint32_t *)&bloom[bloom_size];
	const uint32_t *chain = &bucket[nbucket];
	uint32_t h = gnu_hash_of(name);
	uint64_t word = bloom[(h / 64) % bloom_size];
	if (!((word >> (h % 64)) & (word >> ((h >> shift) % 64)) & 1))
		return NULL;
	uint32_t i = bucket[h % nbucket];
	if (i < symoffset)
		return NULL;
	for (;; i++) {
		uint32_t ch = chain[i - symoffset];
		if ((ch | 1) == (h | 1) && sym_ok(i, name, version))
			return (void *)(base + symtab[i].st_value);
		if (ch & 1)
			return NULL;
	}
}

static void *lookup(const char *name) {
	void *a = lookup_sysv(name, "LINUX_2.6"), *b = lookup_gnu(name, "LINUX_2.6");
	char check[96];
	snprintf(check, sizeof check, "symbol_%s", name);
	CHECK(check, a && a == b, "DT_HASH gives %p, DT_GNU_HASH gives %p", a, b);
	return a;
}

/* load parses the image at base as a loader does. */
static void load(void) {
	const Elf64_Ehdr *eh = (const void *)base;
	CHECK("elf_header", memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_type == ET_DYN && eh->e_machine == EM_X86_64,
	      "not an x86-64 ET_DYN object");
	const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	int loads = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			loads++;
			CHECK("load_segment_identity", ph[i].p_offset == ph[i].p_vaddr && ph[i].p_vaddr == 0 && !(ph[i].p_flags & PF_W),
			      "PT_LOAD offset %#lx vaddr %#lx flags %#x", (long)ph[i].p_offset, (long)ph[i].p_vaddr, ph[i].p_flags);
		}
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const void *)(base + ph[i].p_offset);
	}
	CHECK("one_load_segment", loads == 1, "%d PT_LOAD segments", loads);
	CHECK("pt_dynamic", dyn != NULL, "no PT_DYNAMIC");
	if (!dyn)
		exit(1);
	const char *soname_off = NULL;
	long soname = -1, relocs = 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t p = base + dyn->d_un.d_ptr;
		switch (dyn->d_tag) {
		case DT_SYMTAB: symtab = (const void *)p; break;
		case DT_STRTAB: strtab = (const void *)p; break;
		case DT_HASH: hash = (const void *)p; break;
		case DT_GNU_HASH: gnu_hash = (const void *)p; break;
		case DT_VERSYM: versym = (const void *)p; break;
		case DT_VERDEF: verdef = (const void *)p; break;
		case DT_SONAME: soname = dyn->d_un.d_val; break;
		case DT_REL: case DT_RELA: case DT_JMPREL: case DT_TEXTREL: case DT_NEEDED:
		case DT_INIT: case DT_FINI: case DT_INIT_ARRAY: case DT_FINI_ARRAY:
			relocs++;
			break;
		}
	}
	(void)soname_off;
	CHECK("dynamic_tables", symtab && strtab && hash && gnu_hash && versym && verdef,
	      "symtab %p strtab %p hash %p gnu_hash %p versym %p verdef %p", (void *)symtab, (void *)strtab,
	      (void *)hash, (void *)gnu_hash, (void *)versym, (void *)verdef);
	CHECK("no_relocations_or_dependencies", relocs == 0, "%ld DT_REL*/NEEDED/INIT entries", relocs);
	if (!(symtab && strtab && hash && gnu_hash && versym && verdef))
		exit(1);
	CHECK("soname", soname >= 0 && strcmp(strtab + soname, "linux-vdso.so.1") == 0, "soname %s",
	      soname >= 0 ? strtab + soname : "(none)");
}

static long long ts_ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long now_ns(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return ts_ns(t);
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: harness VVAR_OFFSET TEXT_OFFSET TEXT_LENGTH [expect-syscalls]\n");
		return 2;
	}
	off_t vvar_off = strtoll(argv[1], NULL, 0), text_off = strtoll(argv[2], NULL, 0);
	size_t text_len = strtoull(argv[3], NULL, 0);
	int expect_syscalls = argc > 4 && strcmp(argv[4], "expect-syscalls") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Reserve the range, then map the two parts over it as the sandbox does. */
	char *r = mmap(NULL, 4096 + text_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED || mmap(r, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, 3, vvar_off) == MAP_FAILED ||
	    mmap(r + 4096, text_len, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, 3, text_off) == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	base = (uintptr_t)r + 4096;
	load();

	clock_gettime_fn vgettime = lookup("__vdso_clock_gettime");
	gettimeofday_fn vgettimeofday = lookup("__vdso_gettimeofday");
	time_fn vtime = lookup("__vdso_time");
	clock_getres_fn vgetres = lookup("__vdso_clock_getres");
	getcpu_fn vgetcpu = lookup("__vdso_getcpu");
	const char *aliases[] = {"clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu"};
	for (unsigned i = 0; i < 5; i++)
		lookup(aliases[i]);
	CHECK("alias_is_same_function", lookup_sysv("clock_gettime", "LINUX_2.6") == (void *)vgettime, "alias differs");
	if (!vgettime || !vgettimeofday || !vtime || !vgetres || !vgetcpu)
		return 1;

	/* Each clock the vDSO computes agrees with the host's, read just before and after. The
	 * tolerance is generous (the sentry steers to within tens of ns) so that a preemption
	 * between the reads cannot fail the test; the coarse clocks are compared with their fine
	 * clocks, since the vDSO's coarse clocks are the fine ones. */
	struct {
		clockid_t id, ref;
		const char *name;
	} clocks[] = {
		{CLOCK_REALTIME, CLOCK_REALTIME, "realtime"},
		{CLOCK_MONOTONIC, CLOCK_MONOTONIC, "monotonic"},
		{CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC, "monotonic_raw"},
		{CLOCK_REALTIME_COARSE, CLOCK_REALTIME, "realtime_coarse"},
		{CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, "monotonic_coarse"},
		{CLOCK_BOOTTIME, CLOCK_BOOTTIME, "boottime"},
		{CLOCK_TAI, CLOCK_TAI, "tai"},
	};
	const long long tol = 20000; /* 20 us */
	for (unsigned c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
		long long worst = 0;
		int bad = 0, ret = 0;
		for (int i = 0; i < 20000 && !bad; i++) {
			struct timespec v;
			long long h1 = now_ns(clocks[c].ref);
			ret = vgettime(clocks[c].id, &v);
			long long h2 = now_ns(clocks[c].ref);
			long long got = ts_ns(v);
			if (ret != 0 || v.tv_nsec < 0 || v.tv_nsec >= 1000000000)
				bad = 1;
			long long e = got < h1 ? h1 - got : got > h2 ? got - h2 : 0;
			/* The coarse host clocks lag by a tick: only "not ahead of the fine clock". */
			if (clocks[c].id != clocks[c].ref)
				e = got > h2 ? got - h2 : 0;
			if (e > worst)
				worst = e;
			if (e > tol)
				bad = 1;
		}
		char name[64];
		snprintf(name, sizeof name, "clock_gettime_%s", clocks[c].name);
		CHECK(name, !bad, "returned %d; outside the host's [before, after] by %lld ns", ret, worst);
		printf("INFO %s: worst distance outside [before, after] %lld ns\n", name, worst);
	}

	/* Monotonic never goes backwards, across the sentry's refreshes. */
	{
		struct timespec t;
		vgettime(CLOCK_MONOTONIC, &t);
		long long prev = ts_ns(t), back = 0;
		long calls = 3000000;
		for (long i = 0; i < calls; i++) {
			vgettime(CLOCK_MONOTONIC, &t);
			long long n = ts_ns(t);
			if (n < prev && prev - n > back)
				back = prev - n;
			prev = n;
		}
		CHECK("monotonic_never_backwards", back == 0, "went backwards by %lld ns in %ld calls", back, calls);
	}

	/* Clocks the vDSO does not compute go to the (here: host) syscall. */
	{
		struct timespec t = {-1, -1};
		int ret = vgettime(CLOCK_PROCESS_CPUTIME_ID, &t);
		CHECK("cputime_falls_back", ret == 0 && t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000,
		      "ret %d, %lld.%09ld", ret, (long long)t.tv_sec, t.tv_nsec);
		ret = vgettime(CLOCK_THREAD_CPUTIME_ID, &t);
		CHECK("thread_cputime_falls_back", ret == 0, "ret %d", ret);
		CHECK("bad_clock_einval", vgettime(1000, &t) == -EINVAL, "ret %d", vgettime(1000, &t));
		CHECK("negative_clock_einval", vgettime(-1000, &t) == -EINVAL, "ret %d", vgettime(-1000, &t));
		CHECK("clock_16_einval", vgettime(16, &t) == -EINVAL, "ret %d", vgettime(16, &t));
		int vr = vgettime(CLOCK_BOOTTIME_ALARM, &t);
		long sr = syscall(SYS_clock_gettime, CLOCK_BOOTTIME_ALARM, &t);
		CHECK("alarm_clock_falls_back", sr == 0 ? vr == 0 : vr == -errno, "vdso %d, syscall %ld (%s)", vr, sr, strerror(errno));
	}

	/* gettimeofday and time agree with CLOCK_REALTIME. */
	{
		struct timeval tv;
		struct timezone tz = {123, 456};
		long long h1 = now_ns(CLOCK_REALTIME) / 1000;
		int ret = vgettimeofday(&tv, &tz);
		long long h2 = now_ns(CLOCK_REALTIME) / 1000;
		long long got = tv.tv_sec * 1000000LL + tv.tv_usec;
		CHECK("gettimeofday", ret == 0 && got >= h1 - tol / 1000 && got <= h2 + tol / 1000 && tv.tv_usec < 1000000,
		      "ret %d, %lld us, host [%lld, %lld]", ret, got, h1, h2);
		CHECK("gettimeofday_tz_utc", tz.tz_minuteswest == 0 && tz.tz_dsttime == 0, "tz %d %d", tz.tz_minuteswest, tz.tz_dsttime);
		CHECK("gettimeofday_null", vgettimeofday(NULL, NULL) == 0, "failed");
		time_t t1 = time(NULL), out = 0;
		time_t got_t = vtime(&out);
		time_t t2 = time(NULL);
		CHECK("time", got_t >= t1 && got_t <= t2 && out == got_t, "got %ld (stored %ld), host [%ld, %ld]", (long)got_t, (long)out, (long)t1, (long)t2);
		CHECK("time_null", vtime(NULL) >= t1, "failed");
	}

	/* clock_getres matches the host for every clock. */
	{
		clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
		                   CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI};
		int ok = 1;
		for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
			struct timespec a = {-1, -1}, b = {-2, -2};
			int ra = vgetres(ids[i], &a), rb = clock_getres(ids[i], &b);
			if (ra != rb || a.tv_sec != b.tv_sec || a.tv_nsec != b.tv_nsec) {
				printf("  clock %d: vdso %d %ld.%09ld, host %d %ld.%09ld\n", ids[i], ra, (long)a.tv_sec, a.tv_nsec, rb,
				       (long)b.tv_sec, b.tv_nsec);
				ok = 0;
			}
		}
		CHECK("clock_getres", ok, "differs from the host");
		CHECK("clock_getres_null", vgetres(CLOCK_MONOTONIC, NULL) == 0, "failed");
		struct timespec t;
		CHECK("clock_getres_bad_clock", vgetres(1000, &t) == -EINVAL, "ret %d", vgetres(1000, &t));
	}

	/* getcpu: a CPU the process may run on. */
	{
		unsigned cpu = 9999, node = 9999;
		int ret = vgetcpu(&cpu, &node, NULL);
		cpu_set_t set;
		sched_getaffinity(0, sizeof set, &set);
		CHECK("getcpu", ret == 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set) && node < 1024, "ret %d cpu %u node %u", ret, cpu, node);
		CHECK("getcpu_null", vgetcpu(NULL, NULL, NULL) == 0, "failed");
		printf("INFO getcpu: cpu %u node %u (host sched_getcpu %d)\n", cpu, node, sched_getcpu());
	}

	/* Cost per call, ours and the host's. */
	{
		const long n = 2000000;
		struct timespec t, a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++)
			vgettime(CLOCK_MONOTONIC, &t);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double ours = (double)(ts_ns(b) - ts_ns(a)) / n;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++)
			clock_gettime(CLOCK_MONOTONIC, &t);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double host = (double)(ts_ns(b) - ts_ns(a)) / n;
		printf("BENCH clock_gettime_ns_per_call ours=%.1f host=%.1f\n", ours, host);
		if (expect_syscalls)
			printf("INFO the page said: make syscalls (ours includes a host syscall)\n");
	}
	printf("DONE %s\n", failed ? "failed" : "passed");
	return failed;
}

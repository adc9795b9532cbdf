/*
 * vdso.c: the sandbox's virtual dynamic shared object (vDSO).
 *
 * Every process the sentry starts gets this shared object mapped into its address space
 * (AT_SYSINFO_EHDR points at it), with one read-only data page, the "vvar" page, mapped
 * immediately below it. The sentry keeps the vvar page current (vvar.go); the functions
 * here turn it and the CPU's time-stamp counter into the time without leaving user mode:
 *
 *     time(clock) = base[clock] + (((tsc_now - tsc_base) * mult) >> shift) ns
 *
 * with the 64x64-bit product taken in 128 bits, and tsc_now clamped so that it is never
 * below tsc_base. base[clock] is kept as whole seconds and nanoseconds (below 10^9), so
 * that making a timespec of the result needs no 64-bit division, only a carry: the
 * nanoseconds added since the last refresh (100 ms ago) rarely reach a second. What the functions cannot answer from the page (a clock the sentry did
 * not publish, such as the CPU-time clocks, or any clock while the page says the TSC is not
 * usable) they ask for with the real syscall instruction, which the platform intercepts
 * like any other system call: so errors (EINVAL for a bad clock) come from the sentry.
 *
 * Built freestanding (no libc, no relocations, no dependencies) by ../gen.go; the layout of
 * struct vvar is mirrored in ../vvar.go, and both sides check it.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long s64;
typedef unsigned long size_t;

#define VVAR_VERSION 1
#define VVAR_TSC_VALID 1u    /* flags: base_ns/tsc_base/mult/shift may be used */
#define VVAR_CLOCKS 16       /* clock ids 0..15 may be published */
#define CPU_MODE_ZERO 0      /* getcpu reports cpu 0, node 0 */
#define CPU_MODE_RDTSCP 1    /* getcpu reads TSC_AUX (node << 12 | cpu) with RDTSCP */
#define CPU_MODE_RDPID 2     /* the same value with RDPID */
#define SPIN_LIMIT 4096      /* reads of an odd sequence before giving up for the syscall */

#define NSEC_PER_SEC 1000000000L
#define CLOCK_REALTIME 0

#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_getcpu 309

/* The vvar page. Every field is written by the sentry only; the sequence is odd while it
 * writes the fields from tsc_base on. Offsets are part of the ABI between this file and
 * vvar.go (checked below and in vvar_test.go). */
struct vvar {
	u32 seq;                /* 0x00 */
	u32 version;            /* 0x04 VVAR_VERSION once initialised */
	u32 flags;              /* 0x08 VVAR_TSC_VALID */
	u32 clock_mask;         /* 0x0c bit i: clock id i is computed here */
	u32 cpu_mode;           /* 0x10 CPU_MODE_* */
	u32 shift;              /* 0x14 */
	u64 tsc_base;           /* 0x18 */
	u64 mult;               /* 0x20 */
	u64 reserved;           /* 0x28 */
	struct {
		s64 sec;        /* >= 0 */
		u64 nsec;       /* < NSEC_PER_SEC */
	} base[VVAR_CLOCKS];    /* 0x30 clock id i at tsc_base */
	u32 res_ns[VVAR_CLOCKS];  /* 0x130 clock_getres of clock id i; 0: ask the syscall */
};

#define VVAR_AT(field, off) _Static_assert(__builtin_offsetof(struct vvar, field) == off, "vvar layout: " #field)
VVAR_AT(seq, 0x00);
VVAR_AT(version, 0x04);
VVAR_AT(flags, 0x08);
VVAR_AT(clock_mask, 0x0c);
VVAR_AT(cpu_mode, 0x10);
VVAR_AT(shift, 0x14);
VVAR_AT(tsc_base, 0x18);
VVAR_AT(mult, 0x20);
VVAR_AT(base, 0x30);
VVAR_AT(res_ns, 0x130);
_Static_assert(sizeof(struct vvar) == 0x170, "vvar layout: size");

/* Defined by the linker script one page below the image's first byte. Hidden, so that the
 * compiler addresses it relative to the instruction pointer and no relocation is needed. */
extern const volatile struct vvar vvar_page __attribute__((visibility("hidden")));

struct timespec_k {
	s64 tv_sec;
	s64 tv_nsec;
};
struct timeval_k {
	s64 tv_sec;
	s64 tv_usec;
};
struct timezone_k {
	int tz_minuteswest;
	int tz_dsttime;
};

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline long raw_syscall2(long nr, long a, long b) {
	long ret;
	__asm__ __volatile__("syscall"
	                     : "=a"(ret)
	                     : "0"(nr), "D"(a), "S"(b)
	                     : "rcx", "r11", "memory");
	return ret;
}

/* The TSC, read after every earlier load has completed, so that it is not sampled before
 * the parameters it is paired with. No LFENCE after it (it would cost 15% of a call): the
 * second read of the sequence may execute early, but x86 re-executes a load whose line is
 * written by another CPU before the load retires, and it retires after RDTSC sampled; so a
 * reader that sees the old, even sequence read the TSC before the sentry's write became
 * visible, hence before the sentry read its anchor (page_unsafe.go), and the old
 * parameters at that TSC never exceed the new ones after it. */
static inline u64 tsc_ordered(void) {
	u32 lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((u64)hi << 32) | lo;
}

/* clock_now computes clock ID into *ts; 0 if the page cannot answer (the caller then
 * makes the syscall). */
static inline int clock_now(u32 id, struct timespec_k *ts) {
	const volatile struct vvar *v = &vvar_page;
	u32 seq, spins = 0;
	s64 sec;
	u64 nsec;
	if (id >= VVAR_CLOCKS)
		return 0;
	do {
		seq = v->seq;
		if (seq & 1) {
			/* The sentry is writing; it takes well under a microsecond unless its
			 * thread was descheduled mid-write, in which case ask it directly. */
			if (++spins > SPIN_LIMIT)
				return 0;
			__builtin_ia32_pause();
			continue;
		}
		barrier();
		if (!(v->flags & VVAR_TSC_VALID) || !((v->clock_mask >> id) & 1))
			return 0;
		u64 tsc_base = v->tsc_base, mult = v->mult;
		u32 shift = v->shift;
		sec = v->base[id].sec;
		nsec = v->base[id].nsec;
		u64 now = tsc_ordered();
		u64 delta = now > tsc_base ? now - tsc_base : 0;
		nsec += (u64)(((unsigned __int128)delta * mult) >> shift);
		barrier();
	} while ((seq & 1) || v->seq != seq);
	if (__builtin_expect(nsec >= NSEC_PER_SEC, 0)) {
		/* Only when a refresh is late: divide if it is very late. */
		if (nsec >= 4 * NSEC_PER_SEC) {
			sec += nsec / NSEC_PER_SEC;
			nsec %= NSEC_PER_SEC;
		}
		while (nsec >= NSEC_PER_SEC) {
			nsec -= NSEC_PER_SEC;
			sec++;
		}
	}
	ts->tv_sec = sec;
	ts->tv_nsec = nsec;
	return 1;
}

int __vdso_clock_gettime(int id, struct timespec_k *ts) {
	if (id < 0 || !clock_now((u32)id, ts))
		return (int)raw_syscall2(SYS_clock_gettime, id, (long)ts);
	return 0;
}

int __vdso_gettimeofday(struct timeval_k *tv, struct timezone_k *tz) {
	struct timespec_k ts;
	if (tv != 0) {
		if (!clock_now(CLOCK_REALTIME, &ts))
			return (int)raw_syscall2(SYS_gettimeofday, (long)tv, (long)tz);
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = (u64)ts.tv_nsec / 1000;
	}
	if (tz != 0) {
		/* The sandbox runs in UTC, as the gettimeofday syscall says. */
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

s64 __vdso_time(s64 *t) {
	struct timespec_k ts;
	if (!clock_now(CLOCK_REALTIME, &ts))
		return raw_syscall2(SYS_time, (long)t, 0);
	if (t != 0)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int __vdso_clock_getres(int id, struct timespec_k *res) {
	const volatile struct vvar *v = &vvar_page;
	u32 r;
	if (id < 0 || id >= VVAR_CLOCKS || v->version != VVAR_VERSION || (r = v->res_ns[id]) == 0)
		return (int)raw_syscall2(SYS_clock_getres, id, (long)res);
	if (res != 0) {
		res->tv_sec = r / NSEC_PER_SEC;
		res->tv_nsec = r % NSEC_PER_SEC;
	}
	return 0;
}

int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused) {
	u32 aux = 0;
	(void)unused;
	switch (vvar_page.cpu_mode) {
	case CPU_MODE_RDTSCP: {
		u32 lo, hi;
		__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
		break;
	}
	case CPU_MODE_RDPID: {
		u64 p;
		__asm__ __volatile__("rdpid %0" : "=r"(p));
		aux = (u32)p;
		break;
	}
	}
	if (cpu != 0)
		*cpu = aux & 0xfff;
	if (node != 0)
		*node = aux >> 12;
	return 0;
}

/* The unprefixed names, as weak aliases, as Linux's vDSO has them. */
int clock_gettime(int, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval_k *, struct timezone_k *) __attribute__((weak, alias("__vdso_gettimeofday")));
s64 time(s64 *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));

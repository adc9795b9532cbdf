/* Thread set-up calls: arch_prctl, set_tid_address, set_robust_list, rseq. */
#include "check.h"
#include <asm/prctl.h>
#include <linux/futex.h>
#include <sys/rseq.h>

/* set_fs_and_read_back sets FS to VALUE, reads it back with ARCH_GET_FS, and restores OLD,
 * all in one asm block: nothing may touch thread-local storage (errno, the stack protector
 * canary) while FS points elsewhere. Returns the value read back; *ret gets the SET result. */
static unsigned long set_fs_and_read_back(unsigned long value, unsigned long old, long *ret) {
	unsigned long got = 0;
	long r1, r2, r3;
	__asm__ volatile(
	    "mov %[nr], %%eax\n\t"
	    "mov %[set], %%edi\n\t"
	    "mov %[value], %%rsi\n\t"
	    "syscall\n\t"
	    "mov %%rax, %[r1]\n\t"
	    "mov %[nr], %%eax\n\t"
	    "mov %[get], %%edi\n\t"
	    "lea %[got], %%rsi\n\t"
	    "syscall\n\t"
	    "mov %%rax, %[r2]\n\t"
	    "mov %[nr], %%eax\n\t"
	    "mov %[set], %%edi\n\t"
	    "mov %[old], %%rsi\n\t"
	    "syscall\n\t"
	    "mov %%rax, %[r3]\n\t"
	    : [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [got] "+m"(got)
	    : [nr] "i"(SYS_arch_prctl), [set] "i"(ARCH_SET_FS), [get] "i"(ARCH_GET_FS), [value] "r"(value), [old] "r"(old)
	    : "rax", "rdi", "rsi", "rcx", "r11", "memory");
	*ret = (r1 == 0 && r2 == 0 && r3 == 0) ? 0 : -1;
	return got;
}

static __thread int tls_var = 42;

int main(void) {
	unsigned long fs = 0, gs = 0;
	long ret;

	/* arch_prctl */
	CHECK_OK(arch_get_fs, syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
	CHECK_TRUE(arch_get_fs_nonzero, fs != 0);
	/* On x86-64 the TCB's first word points at itself. */
	CHECK_EQ(arch_get_fs_is_tcb, *(unsigned long *)fs, fs);
	CHECK_EQ(tls_still_works, tls_var, 42);
	unsigned long other = fs + 4096;
	CHECK_EQ(arch_set_fs_other_read_back, set_fs_and_read_back(other, fs, &ret), other);
	CHECK_EQ(arch_set_fs_all_calls_ok, ret, 0);
	unsigned long now = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &now);
	CHECK_EQ(arch_set_fs_restored, now, fs);
	CHECK_OK(arch_set_fs_same, syscall(SYS_arch_prctl, ARCH_SET_FS, fs));
	tls_var = 7;
	CHECK_EQ(tls_after_set_fs, tls_var, 7);
	CHECK_OK(arch_set_gs, syscall(SYS_arch_prctl, ARCH_SET_GS, 0x12345000UL));
	CHECK_OK(arch_get_gs, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
	CHECK_EQ(arch_gs_read_back, gs, 0x12345000UL);
	CHECK_OK(arch_set_gs_zero, syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL));
	CHECK_ERR(arch_prctl_bad_code, syscall(SYS_arch_prctl, 0x9999, 0UL), EINVAL);
	CHECK_ERR(arch_get_fs_efault, syscall(SYS_arch_prctl, ARCH_GET_FS, BADPTR), EFAULT);
	CHECK_ERR(arch_set_gs_noncanonical_eperm, syscall(SYS_arch_prctl, ARCH_SET_GS, 0x8000000000000000UL), EPERM);

	/* set_tid_address returns the caller's TID. */
	static int tid_word;
	CHECK_EQ(set_tid_address_returns_tid, syscall(SYS_set_tid_address, &tid_word), syscall(SYS_gettid));
	CHECK_EQ(set_tid_address_null, syscall(SYS_set_tid_address, NULL), syscall(SYS_gettid));

	/* set_robust_list: the length must be sizeof(struct robust_list_head). */
	static struct robust_list_head head;
	head.list.next = &head.list;
	CHECK_OK(set_robust_list_ok, syscall(SYS_set_robust_list, &head, sizeof head));
	CHECK_ERR(set_robust_list_bad_len, syscall(SYS_set_robust_list, &head, sizeof head + 1), EINVAL);
	CHECK_ERR(set_robust_list_zero_len, syscall(SYS_set_robust_list, &head, 0), EINVAL);
	struct robust_list_head *got = NULL;
	size_t len = 0;
	CHECK_OK(get_robust_list_ok, syscall(SYS_get_robust_list, 0, &got, &len));
	CHECK_TRUE(get_robust_list_matches, got == &head && len == sizeof head);

	/* rseq. glibc >= 2.35 registers an area of its own at start-up (__rseq_size > 0 when
	 * that worked). The same four cases run in every situation, with the answers Linux
	 * gives in it:
	 *  - glibc's area registered: registering it again is EBUSY, another area EINVAL;
	 *  - rseq "not supported here" (glibc's registration failed): ENOSYS everywhere,
	 *    an accepted answer;
	 *  - rseq works but glibc did not register (GLIBC_TUNABLES=glibc.pthread.rseq=0):
	 *    registering our own area succeeds, then another area is EINVAL.
	 * Bad flags are EINVAL and another signature EPERM, once an area is registered. */
	static struct rseq area __attribute__((aligned(32)));
	static struct rseq other_area __attribute__((aligned(32)));
	struct rseq *registered = &area;
	int want_register = 0, want_other = EINVAL, want_flags = EINVAL, want_sig = EPERM;
	if (__rseq_size > 0) {
		registered = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		want_register = EBUSY;
	} else if (syscall(SYS_rseq, &area, 7, 0, RSEQ_SIG) == -1 && errno == ENOSYS) {
		want_register = want_other = want_flags = want_sig = ENOSYS;
	}
	if (want_register == 0)
		CHECK_OK(rseq_register, syscall(SYS_rseq, registered, sizeof(struct rseq), 0, RSEQ_SIG));
	else
		CHECK_ERR(rseq_register, syscall(SYS_rseq, registered, sizeof(struct rseq), 0, RSEQ_SIG), want_register);
	CHECK_ERR(rseq_other_area, syscall(SYS_rseq, &other_area, sizeof other_area, 0, RSEQ_SIG), want_other);
	CHECK_ERR(rseq_bad_flags, syscall(SYS_rseq, registered, sizeof(struct rseq), 0x100, RSEQ_SIG), want_flags);
	CHECK_ERR(rseq_bad_sig, syscall(SYS_rseq, registered, sizeof(struct rseq), 0, RSEQ_SIG + 1), want_sig);
	if (registered == &area && want_register == 0)
		syscall(SYS_rseq, &area, sizeof area, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
	return check_done();
}

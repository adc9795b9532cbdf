/* Synchronous signals and the signal frame: SIGSEGV (SEGV_MAPERR, SEGV_ACCERR, si_addr),
 * SIGBUS beyond the end of a file mapping, SIGFPE, SIGILL, SIGTRAP; handlers that change
 * the interrupted registers (uc_mcontext) and FP/SSE state (the fpstate the frame points
 * to) and return with rt_sigreturn; a fault with the signal blocked or ignored still
 * kills; a fault in a handler-less child dumps the default way. */
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>

static sigjmp_buf jb;

/* TRY runs STMT, which may fault into on_fault_jump. */
#define TRY(stmt)                                                                              \
	do {                                                                                       \
		armed = 1;                                                                             \
		if (sigsetjmp(jb, 1) == 0) {                                                           \
			stmt;                                                                              \
		}                                                                                      \
		armed = 0;                                                                             \
	} while (0)
static volatile siginfo_t got;
static volatile int got_sig;

/* armed says a TRY is waiting for a fault; any other fault ends the program. */
static volatile int armed;
static void on_fault_jump(int sig, siginfo_t *si, void *ucv) {
	(void)ucv;
	if (!armed) {
		printf("FAIL unexpected_fault: signal %d code %d at %p\n", sig, si->si_code, si->si_addr);
		_exit(1);
	}
	armed = 0;
	got_sig = sig;
	memcpy((void *)&got, si, sizeof *si);
	siglongjmp(jb, 1);
}

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* A handler that skips the faulting 2-byte instruction (ud2) and sets registers. */
static volatile uint64_t seen_rip, seen_rax, seen_xmm0;
static void on_ill_fix(int sig, siginfo_t *si, void *ucv) {
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	seen_rip = uc->uc_mcontext.gregs[REG_RIP];
	seen_rax = uc->uc_mcontext.gregs[REG_RAX];
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	uc->uc_mcontext.gregs[REG_RAX] = 0x1234;
	uc->uc_mcontext.gregs[REG_RBX] = 0x5678;
	/* The FP state: read xmm0, replace it. */
	struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
	memcpy((void *)&seen_xmm0, &fp->_xmm[0], 8);
	uint64_t v[2] = {0xabcdef0123456789ULL, 0};
	memcpy(&fp->_xmm[0], v, 16);
	/* Clobber xmm0 here: the interrupted code must see what the frame says. */
	__asm__ volatile("pxor %%xmm0, %%xmm0" ::: "xmm0");
}

static volatile int trap_hits;
static volatile uint64_t trap_rip;
static void on_trap(int sig, siginfo_t *si, void *ucv) {
	(void)sig;
	ucontext_t *uc = ucv;
	trap_hits++;
	trap_rip = uc->uc_mcontext.gregs[REG_RIP];
	memcpy((void *)&got, si, sizeof *si);
}

/* The handler's mask arrives in uc_sigmask; a change there takes effect on return. */
static void on_usr1_mask(int sig, siginfo_t *si, void *ucv) {
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	sigaddset(&uc->uc_sigmask, SIGUSR2);
}

static volatile int usr2_hits;
static void on_usr2(int sig, siginfo_t *si, void *ucv) {
	(void)sig;
	(void)si;
	(void)ucv;
	usr2_hits++;
}

static void child_segv_blocked(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	sigprocmask(SIG_BLOCK, &s, NULL);
	*(volatile int *)8 = 1;
	_exit(0);
}

static void child_segv_ignored(void) {
	signal(SIGSEGV, SIG_IGN);
	*(volatile int *)8 = 1;
	_exit(0);
}

static void child_div0(void) {
	signal(SIGFPE, SIG_DFL);
	int z = 0, hi = 0, lo = 10;
	__asm__ volatile("idivl %2" : "+a"(lo), "+d"(hi) : "r"(z));
	_exit(0);
}

static int child_status(void (*fn)(void)) {
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return st;
}

int main(void) {
	install(SIGSEGV, on_fault_jump, 0);
	install(SIGBUS, on_fault_jump, 0);
	install(SIGFPE, on_fault_jump, 0);

	/* SEGV_MAPERR: nothing is mapped there. */
	char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 4096);
	got_sig = 0;
	TRY(*(volatile char *)(p + 12) = 1);
	CHECK_EQ(segv_maperr_signal, got_sig, SIGSEGV);
	CHECK_EQ(segv_maperr_code, got.si_code, SEGV_MAPERR);
	CHECK_TRUE(segv_maperr_addr, got.si_addr == p + 12);

	/* SEGV_ACCERR: a write to a read-only page, a read of a PROT_NONE page. */
	p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	got_sig = 0;
	TRY(*(volatile char *)(p + 100) = 1);
	CHECK_EQ(segv_accerr_signal, got_sig, SIGSEGV);
	CHECK_EQ(segv_accerr_code, got.si_code, SEGV_ACCERR);
	CHECK_TRUE(segv_accerr_addr, got.si_addr == p + 100);
	/* Touched (mapped read-only) first, then written. */
	volatile char rd = p[4096];
	(void)rd;
	got_sig = 0;
	TRY(*(volatile char *)(p + 4097) = 1);
	CHECK_EQ(segv_accerr_present_code, got.si_code, SEGV_ACCERR);
	CHECK_TRUE(segv_accerr_present_addr, got.si_addr == p + 4097);
	mprotect(p, 8192, PROT_NONE);
	got_sig = 0;
	TRY(rd = *(volatile char *)(p + 5));
	CHECK_EQ(segv_prot_none_code, got.si_code, SEGV_ACCERR);
	CHECK_TRUE(segv_prot_none_addr, got.si_addr == p + 5);
	munmap(p, 8192);
	/* Executing a non-executable page. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = (char)0xc3; /* ret */
	got_sig = 0;
	TRY(((void (*)(void))p)());
	CHECK_EQ(segv_noexec_signal, got_sig, SIGSEGV);
	CHECK_EQ(segv_noexec_code, got.si_code, SEGV_ACCERR);
	CHECK_TRUE(segv_noexec_addr, got.si_addr == p);
	/* ... and once made executable, it runs. */
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	got_sig = 0;
	TRY(((void (*)(void))p)());
	CHECK_EQ(exec_after_mprotect, got_sig, 0);
	munmap(p, 4096);

	/* SIGBUS beyond the end of a file mapping (the page after the last one with data);
	 * the rest of the last page reads zero. */
	const char *path = scratch_path("bus");
	write_file(path, "data");
	int fd = open(path, O_RDWR);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK_TRUE(bus_map_ok, p != MAP_FAILED))
		p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK_TRUE(bus_tail_zero, p[0] == 'd' && p[4] == 0 && p[4095] == 0);
	got_sig = 0;
	TRY(rd = *(volatile char *)(p + 4096 + 8));
	CHECK_EQ(bus_signal, got_sig, SIGBUS);
	CHECK_EQ(bus_code, got.si_code, BUS_ADRERR);
	CHECK_TRUE(bus_addr, got.si_addr == p + 4096 + 8);
	munmap(p, 8192);
	/* A private mapping too. */
	p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
	got_sig = 0;
	TRY(rd = *(volatile char *)(p + 4096));
	CHECK_EQ(bus_private_signal, got_sig, SIGBUS);
	munmap(p, 8192);
	close(fd);

	/* SIGFPE: integer division by zero, FPE_INTDIV at the instruction. */
	got_sig = 0;
	volatile int zero = 0, res = 0;
	TRY(res = 10 / zero);
	CHECK_EQ(fpe_signal, got_sig, SIGFPE);
	CHECK_EQ(fpe_code, got.si_code, FPE_INTDIV);
	CHECK_TRUE(fpe_addr_nonnull, got.si_addr != NULL);
	(void)res;

	/* SIGILL from ud2; the handler moves RIP past it and sets RAX, RBX and XMM0. */
	install(SIGILL, on_ill_fix, 0);
	uint64_t rax_out, rbx_out, xmm_out, ud2_addr;
	uint64_t xmm_in[2] = {0x1111222233334444ULL, 0};
	__asm__ volatile("movdqu (%[in]), %%xmm0\n\t"
	                 "mov $77, %%rax\n\t"
	                 "mov $0, %%rbx\n\t"
	                 "lea 1f(%%rip), %[addr]\n\t"
	                 "1: ud2\n\t"
	                 "movq %%xmm0, %[xmm]\n\t"
	                 : "=a"(rax_out), "=b"(rbx_out), [xmm] "=r"(xmm_out), [addr] "=&r"(ud2_addr)
	                 : [in] "r"(xmm_in)
	                 : "xmm0", "memory");
	CHECK_EQ(ill_frame_rip, seen_rip, ud2_addr);
	CHECK_EQ(ill_frame_rax, seen_rax, 77);
	CHECK_EQ(ill_frame_xmm0, seen_xmm0, 0x1111222233334444ULL);
	CHECK_EQ(ill_sigreturn_rax, rax_out, 0x1234);
	CHECK_EQ(ill_sigreturn_rbx, rbx_out, 0x5678);
	CHECK_EQ(ill_sigreturn_xmm0, xmm_out, 0xabcdef0123456789ULL);

	/* SIGILL's siginfo. */
	install(SIGILL, on_fault_jump, 0);
	got_sig = 0;
	TRY(__asm__ volatile("ud2"));
	CHECK_EQ(ill_signal, got_sig, SIGILL);
	CHECK_EQ(ill_code, got.si_code, ILL_ILLOPN);
	CHECK_TRUE(ill_addr_nonnull, got.si_addr != NULL);

	/* SIGTRAP from int3: SI_KERNEL, and execution resumes after it. */
	install(SIGTRAP, on_trap, 0);
	uint64_t after;
	__asm__ volatile("int3\n\t"
	                 "1: lea 1b(%%rip), %0"
	                 : "=r"(after));
	CHECK_EQ(trap_handled, trap_hits, 1);
	CHECK_EQ(trap_signal, got.si_signo, SIGTRAP);
	CHECK_EQ(trap_code, got.si_code, SI_KERNEL);
	CHECK_EQ(trap_rip_after_int3, trap_rip, after);

	/* The FP state of the interrupted code survives a handler that uses FP. */
	volatile double d = 1.5;
	raise(SIGTRAP);
	CHECK_TRUE(fp_survives_handler, d * 2 == 3.0);

	/* uc_sigmask: the mask restored on return is the frame's. */
	install(SIGUSR1, on_usr1_mask, 0);
	install(SIGUSR2, on_usr2, 0);
	raise(SIGUSR1);
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	CHECK_EQ(uc_sigmask_applied, sigismember(&cur, SIGUSR2), 1);
	raise(SIGUSR2);
	CHECK_EQ(uc_sigmask_blocks, usr2_hits, 0);
	sigprocmask(SIG_UNBLOCK, &cur, NULL);
	CHECK_EQ(uc_sigmask_unblocked_delivers, usr2_hits, 1);

	/* A fault with SIGSEGV blocked or ignored kills anyway. */
	int st = child_status(child_segv_blocked);
	CHECK_TRUE(segv_blocked_kills, WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = child_status(child_segv_ignored);
	CHECK_TRUE(segv_ignored_kills, WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = child_status(child_div0);
	CHECK_TRUE(fpe_default_kills, WIFSIGNALED(st) && WTERMSIG(st) == SIGFPE);

	/* A handler with a bad stack: the thread dies of SIGSEGV. */
	pid_t pid = fork();
	if (pid == 0) {
		install(SIGUSR1, on_usr2, 0);
		__asm__ volatile("mov $8, %%rsp\n\t"
		                 "mov %[nr], %%eax\n\t"
		                 "mov %[pid], %%edi\n\t"
		                 "mov %[sig], %%esi\n\t"
		                 "syscall\n\t"
		                 "ud2"
		                 :
		                 : [nr] "i"(SYS_kill), [pid] "r"(getpid()), [sig] "i"(SIGUSR1));
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK_TRUE(bad_stack_segv, WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);

	return check_done();
}

/* rt_sigaction, rt_sigprocmask, sigaltstack (no delivery: that needs kill/tgkill). */
#include "check.h"
#include <signal.h>

/* The kernel's struct sigaction, for the raw calls. */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

static void handler(int sig) { (void)sig; }

int main(void) {
	struct sigaction sa, old;
	struct ksigaction ksa, kold;
	sigset_t set, oset;

	/* rt_sigaction: install, read back, restore. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK_OK(sigaction_install, sigaction(SIGUSR1, &sa, NULL));
	memset(&old, 0, sizeof old);
	CHECK_OK(sigaction_query, sigaction(SIGUSR1, NULL, &old));
	CHECK_TRUE(sigaction_handler_read_back, old.sa_handler == handler);
	CHECK_TRUE(sigaction_flags_read_back, (old.sa_flags & SA_RESTART) != 0);
	CHECK_TRUE(sigaction_mask_read_back, sigismember(&old.sa_mask, SIGUSR2) == 1);
	sa.sa_handler = SIG_IGN;
	CHECK_OK(sigaction_ignore, sigaction(SIGUSR1, &sa, &old));
	CHECK_TRUE(sigaction_old_returned, old.sa_handler == handler);
	sa.sa_handler = SIG_DFL;
	CHECK_OK(sigaction_default, sigaction(SIGUSR1, &sa, NULL));
	CHECK_OK(sigaction_query_sigkill, sigaction(SIGKILL, NULL, &old));
	CHECK_TRUE(sigaction_sigkill_default, old.sa_handler == SIG_DFL);
	CHECK_ERR(sigaction_sigkill_einval, sigaction(SIGKILL, &sa, NULL), EINVAL);
	CHECK_ERR(sigaction_sigstop_einval, sigaction(SIGSTOP, &sa, NULL), EINVAL);
	memset(&ksa, 0, sizeof ksa);
	ksa.handler = SIG_DFL;
	CHECK_ERR(rt_sigaction_sig0_einval, syscall(SYS_rt_sigaction, 0, &ksa, NULL, 8), EINVAL);
	CHECK_ERR(rt_sigaction_sig65_einval, syscall(SYS_rt_sigaction, 65, &ksa, NULL, 8), EINVAL);
	CHECK_ERR(rt_sigaction_negative_einval, syscall(SYS_rt_sigaction, -1, &ksa, NULL, 8), EINVAL);
	CHECK_ERR(rt_sigaction_bad_sigsetsize, syscall(SYS_rt_sigaction, SIGUSR1, &ksa, NULL, 4), EINVAL);
	CHECK_ERR(rt_sigaction_efault_act, syscall(SYS_rt_sigaction, SIGUSR1, BADPTR, NULL, 8), EFAULT);
	CHECK_ERR(rt_sigaction_efault_old, syscall(SYS_rt_sigaction, SIGUSR1, NULL, BADPTR, 8), EFAULT);
	CHECK_OK(rt_sigaction_raw_query_rt_signal, syscall(SYS_rt_sigaction, 64, NULL, &kold, 8));

	/* rt_sigprocmask */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_OK(sigprocmask_block, sigprocmask(SIG_BLOCK, &set, &oset));
	CHECK_OK(sigprocmask_query, sigprocmask(SIG_SETMASK, NULL, &oset));
	CHECK_EQ(sigprocmask_blocked, sigismember(&oset, SIGUSR1), 1);
	CHECK_OK(sigprocmask_unblock, sigprocmask(SIG_UNBLOCK, &set, NULL));
	sigprocmask(SIG_SETMASK, NULL, &oset);
	CHECK_EQ(sigprocmask_unblocked, sigismember(&oset, SIGUSR1), 0);
	/* SIGKILL and SIGSTOP cannot be blocked: silently left out of the mask. */
	unsigned long kset = (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)) | (1UL << (SIGUSR2 - 1));
	unsigned long kold_mask = 0, know = 0;
	CHECK_OK(rt_sigprocmask_block_kill, syscall(SYS_rt_sigprocmask, SIG_BLOCK, &kset, &kold_mask, 8));
	CHECK_OK(rt_sigprocmask_raw_query, syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &know, 8));
	CHECK_EQ(rt_sigprocmask_kill_not_blocked, know & ((1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1))), 0);
	CHECK_TRUE(rt_sigprocmask_usr2_blocked, (know & (1UL << (SIGUSR2 - 1))) != 0);
	CHECK_OK(rt_sigprocmask_restore, syscall(SYS_rt_sigprocmask, SIG_SETMASK, &kold_mask, NULL, 8));
	CHECK_ERR(rt_sigprocmask_bad_how, syscall(SYS_rt_sigprocmask, 99, &kset, NULL, 8), EINVAL);
	CHECK_ERR(rt_sigprocmask_bad_sigsetsize, syscall(SYS_rt_sigprocmask, SIG_BLOCK, &kset, NULL, 4), EINVAL);
	CHECK_ERR(rt_sigprocmask_efault, syscall(SYS_rt_sigprocmask, SIG_BLOCK, BADPTR, NULL, 8), EFAULT);
	CHECK_OK(rt_sigprocmask_bad_how_without_set, syscall(SYS_rt_sigprocmask, 99, NULL, &know, 8));

	/* sigaltstack */
	static char stack_mem[65536];
	stack_t ss, oss;
	memset(&oss, 0, sizeof oss);
	CHECK_OK(sigaltstack_query, sigaltstack(NULL, &oss));
	CHECK_TRUE(sigaltstack_initially_disabled, (oss.ss_flags & SS_DISABLE) != 0);
	ss.ss_sp = stack_mem;
	ss.ss_size = sizeof stack_mem;
	ss.ss_flags = 0;
	CHECK_OK(sigaltstack_set, sigaltstack(&ss, NULL));
	memset(&oss, 0, sizeof oss);
	CHECK_OK(sigaltstack_query_after_set, sigaltstack(NULL, &oss));
	CHECK_TRUE(sigaltstack_read_back, oss.ss_sp == stack_mem && oss.ss_size == sizeof stack_mem && oss.ss_flags == 0);
	ss.ss_size = 512; /* below MINSIGSTKSZ */
	CHECK_ERR(sigaltstack_too_small_enomem, sigaltstack(&ss, NULL), ENOMEM);
	ss.ss_size = sizeof stack_mem;
	ss.ss_flags = 0x1234;
	CHECK_ERR(sigaltstack_bad_flags_einval, sigaltstack(&ss, NULL), EINVAL);
	CHECK_ERR(sigaltstack_efault, syscall(SYS_sigaltstack, BADPTR, NULL), EFAULT);
	ss.ss_flags = SS_DISABLE;
	CHECK_OK(sigaltstack_disable, sigaltstack(&ss, NULL));
	sigaltstack(NULL, &oss);
	CHECK_TRUE(sigaltstack_disabled, (oss.ss_flags & SS_DISABLE) != 0);
	return check_done();
}

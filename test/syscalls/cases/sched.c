/* sched_getaffinity, sched_yield. */
#include "check.h"
#include <sched.h>

int main(void) {
	unsigned long mask[16];
	memset(mask, 0, sizeof mask);
	/* The raw call returns the size of the kernel's mask in bytes. */
	long n = CHECK_OK(getaffinity_ok, syscall(SYS_sched_getaffinity, 0, sizeof mask, mask));
	CHECK_TRUE(getaffinity_size, n >= 8 && n <= (long)sizeof mask && n % 8 == 0);
	int cpus = 0;
	for (unsigned i = 0; i < sizeof mask / sizeof mask[0]; i++)
		cpus += __builtin_popcountl(mask[i]);
	CHECK_TRUE(getaffinity_some_cpu, cpus >= 1);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK_TRUE(getaffinity_at_most_online, online < 1 || cpus <= online);
	CHECK_OK(getaffinity_self_pid, syscall(SYS_sched_getaffinity, getpid(), sizeof mask, mask));
	cpu_set_t set;
	CHECK_OK(getaffinity_glibc, sched_getaffinity(0, sizeof set, &set));
	CHECK_EQ(getaffinity_glibc_count, CPU_COUNT(&set), cpus);
	CHECK_ERR(getaffinity_unaligned_size, syscall(SYS_sched_getaffinity, 0, 3, mask), EINVAL);
	CHECK_ERR(getaffinity_zero_size, syscall(SYS_sched_getaffinity, 0, 0, mask), EINVAL);
	CHECK_ERR(getaffinity_no_such_pid, syscall(SYS_sched_getaffinity, 999999999, sizeof mask, mask), ESRCH);
	CHECK_ERR(getaffinity_efault, syscall(SYS_sched_getaffinity, 0, sizeof mask, BADPTR), EFAULT);

	CHECK_EQ(sched_yield_ok, syscall(SYS_sched_yield), 0);
	int ok = 1;
	for (int i = 0; i < 1000; i++)
		ok &= syscall(SYS_sched_yield) == 0;
	CHECK_TRUE(sched_yield_many, ok);
	return check_done();
}

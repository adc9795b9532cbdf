/* sysinfo. */
#include "check.h"
#include <sys/sysinfo.h>

int main(void) {
	struct sysinfo si;
	memset(&si, 0, sizeof si);
	CHECK_OK(sysinfo_ok, syscall(SYS_sysinfo, &si));
	CHECK_TRUE(sysinfo_mem_unit, si.mem_unit >= 1);
	CHECK_TRUE(sysinfo_totalram, si.totalram > 0);
	CHECK_TRUE(sysinfo_freeram_le_total, si.freeram <= si.totalram);
	CHECK_TRUE(sysinfo_procs, si.procs >= 1);
	CHECK_TRUE(sysinfo_uptime, si.uptime >= 0);
	CHECK_TRUE(sysinfo_totalram_plausible, (unsigned long long)si.totalram * si.mem_unit >= 16ULL << 20);
	CHECK_ERR(sysinfo_efault, syscall(SYS_sysinfo, BADPTR), EFAULT);
	return check_done();
}

/* /sys: the CPU lists and the files programs size themselves with. */
#include "check.h"
#include <sys/statfs.h>
#include <sys/statvfs.h>

static char *slurp(const char *path) {
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

int main(void) {
	char want[64];
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK_TRUE(nprocs, n >= 1);
	if (n == 1)
		snprintf(want, sizeof want, "0\n");
	else
		snprintf(want, sizeof want, "0-%ld\n", n - 1);
	CHECK_STR(cpu_online, slurp("/sys/devices/system/cpu/online"), want);
	CHECK_STR(cpu_possible, slurp("/sys/devices/system/cpu/possible"), want);
	CHECK_STR(cpu_present, slurp("/sys/devices/system/cpu/present"), want);
	CHECK_EQ(nprocs_conf, sysconf(_SC_NPROCESSORS_CONF), n);
	struct stat st;
	CHECK_OK(cpu0_dir, stat("/sys/devices/system/cpu/cpu0", &st));
	CHECK_TRUE(cpu0_is_dir, S_ISDIR(st.st_mode));
	CHECK_OK(stat_online, stat("/sys/devices/system/cpu/online", &st));
	CHECK_TRUE(online_regular_0444, S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0444);
	CHECK_EQ(online_size, st.st_size, 4096);
	struct statfs sf;
	CHECK_OK(statfs_sys, statfs("/sys", &sf));
	CHECK_EQ(sysfs_magic, sf.f_type, 0x62656572);
	CHECK_OK(cgroup_dir, stat("/sys/fs/cgroup", &st));
	CHECK_STR(thp_pmd_size, slurp("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"), "2097152\n");
	CHECK_ERR(no_such_file, open("/sys/devices/system/cpu/nonexistent", O_RDONLY), ENOENT);
	CHECK_ERR(create_erofs_or_eacces, mkdir("/sys/devices/x", 0755), sf.f_flags & ST_RDONLY ? EROFS : EPERM);
	return check_done();
}

/* uname, getpid, getppid, gettid, getuid, geteuid, getgid, getegid. */
#include "check.h"
#include <sys/utsname.h>

int main(void) {
	struct utsname u;
	memset(&u, 0, sizeof u);
	CHECK_OK(uname_ok, uname(&u));
	CHECK_STR(uname_sysname, u.sysname, "Linux");
	CHECK_STR(uname_machine, u.machine, "x86_64");
	CHECK_TRUE(uname_release_nonempty, u.release[0] != 0);
	CHECK_TRUE(uname_version_nonempty, u.version[0] != 0);
	CHECK_TRUE(uname_nodename_terminated, memchr(u.nodename, 0, sizeof u.nodename) != NULL);
	CHECK_ERR(uname_efault, syscall(SYS_uname, BADPTR), EFAULT);

	/* Process and thread IDs: raw calls, so that nothing is cached. */
	long pid = CHECK_OK(getpid_ok, syscall(SYS_getpid));
	CHECK_TRUE(getpid_positive, pid > 0);
	CHECK_EQ(getpid_stable, syscall(SYS_getpid), pid);
	CHECK_EQ(getpid_glibc_agrees, getpid(), pid);
	CHECK_EQ(gettid_is_pid_single_thread, syscall(SYS_gettid), pid);
	long ppid = CHECK_OK(getppid_ok, syscall(SYS_getppid));
	CHECK_TRUE(getppid_not_self, ppid >= 0 && ppid != pid);

	/* Credentials: valid IDs (never (uid_t)-1), real and effective equal for a program
	 * started without set-ID bits, and the glibc wrappers agree with the raw calls. */
	long uid = CHECK_OK(getuid_ok, syscall(SYS_getuid));
	long euid = CHECK_OK(geteuid_ok, syscall(SYS_geteuid));
	long gid = CHECK_OK(getgid_ok, syscall(SYS_getgid));
	long egid = CHECK_OK(getegid_ok, syscall(SYS_getegid));
	CHECK_TRUE(uid_valid, uid >= 0 && uid < 0xffffffffL);
	CHECK_TRUE(gid_valid, gid >= 0 && gid < 0xffffffffL);
	CHECK_EQ(euid_is_uid, euid, uid);
	CHECK_EQ(egid_is_gid, egid, gid);
	CHECK_EQ(getuid_glibc_agrees, getuid(), uid);
	CHECK_EQ(getgid_glibc_agrees, getgid(), gid);
	return check_done();
}

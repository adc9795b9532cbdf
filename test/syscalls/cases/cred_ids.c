/* Credentials and prctl: setuid/setgid, setreuid/setregid, setresuid/setresgid,
 * setfsuid/setfsgid, getgroups/setgroups, capget/capset (and the capability rules of
 * uid changes, PR_SET_KEEPCAPS), prctl NAME, PDEATHSIG, NO_NEW_PRIVS, DUMPABLE,
 * CHILD_SUBREAPER, CAPBSET_READ/DROP, and their errors. Every change of identity happens
 * in a child (the runner starts us as root). */
#include "check.h"
#include <linux/capability.h>
#include <signal.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* The checks a child makes come back as a bitmask in its exit status. */
static int run(int (*fn)(void)) {
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn());
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int capget_eff(__u32 *eff, __u32 *perm) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	*eff = d[0].effective;
	*perm = d[0].permitted;
	return 0;
}

static int ids(uid_t r, uid_t e, uid_t s) {
	uid_t a, b, c;
	getresuid(&a, &b, &c);
	return a == r && b == e && c == s;
}

static int gids(gid_t r, gid_t e, gid_t s) {
	gid_t a, b, c;
	getresgid(&a, &b, &c);
	return a == r && b == e && c == s;
}

static int t_setuid_root(void) {
	/* Privileged setuid sets all three and drops capabilities. */
	int r = 0;
	__u32 eff, perm;
	r |= setuid(1000) == 0 ? 1 : 0;
	r |= ids(1000, 1000, 1000) ? 2 : 0;
	r |= capget_eff(&eff, &perm) == 0 && eff == 0 && perm == 0 ? 4 : 0;
	r |= setuid(0) == -1 && errno == EPERM ? 8 : 0;
	r |= setuid(1000) == 0 ? 16 : 0; /* to itself */
	return r;
}

static int t_setresuid(void) {
	int r = 0;
	r |= setresuid(1000, 2000, 0) == 0 ? 1 : 0;
	r |= ids(1000, 2000, 0) ? 2 : 0;
	/* Unprivileged now (euid != 0) but may take any of its three ids. */
	r |= setresuid(-1, 0, -1) == 0 ? 4 : 0;
	r |= ids(1000, 0, 0) ? 8 : 0;
	/* Back to root euid: effective capabilities come back (permitted kept: saved 0). */
	__u32 eff, perm;
	r |= capget_eff(&eff, &perm) == 0 && eff != 0 ? 16 : 0;
	r |= setresuid(3000, 3000, 3000) == 0 && ids(3000, 3000, 3000) ? 32 : 0;
	r |= setresuid(1000, -1, -1) == -1 && errno == EPERM ? 64 : 0;
	return r;
}

static int t_setreuid(void) {
	int r = 0;
	/* setreuid(r, e) with e != old real: saved = new effective. */
	r |= setreuid(1000, 2000) == 0 ? 1 : 0;
	r |= ids(1000, 2000, 2000) ? 2 : 0;
	/* Unprivileged: may swap real and effective. */
	r |= setreuid(2000, 1000) == 0 ? 4 : 0;
	r |= ids(2000, 1000, 1000) ? 8 : 0;
	r |= setreuid(-1, 5000) == -1 && errno == EPERM ? 16 : 0;
	/* seteuid to the real uid leaves saved alone. */
	r |= setreuid(-1, 2000) == 0 && ids(2000, 2000, 1000) ? 32 : 0;
	return r;
}

static int t_seteuid_keep_perm(void) {
	/* seteuid(1000) as root: effective caps gone, permitted kept (saved uid is 0). */
	int r = 0;
	__u32 eff, perm;
	r |= seteuid(1000) == 0 ? 1 : 0;
	r |= capget_eff(&eff, &perm) == 0 && eff == 0 && perm != 0 ? 2 : 0;
	r |= seteuid(0) == 0 ? 4 : 0;
	r |= capget_eff(&eff, &perm) == 0 && eff == perm ? 8 : 0;
	/* Unprivileged setuid (euid 1000, real 0): sets euid only. */
	seteuid(1000);
	r |= setuid(0) == 0 && ids(0, 0, 0) ? 16 : 0;
	return r;
}

static int t_keepcaps(void) {
	int r = 0;
	__u32 eff, perm;
	r |= prctl(PR_GET_KEEPCAPS) == 0 ? 1 : 0;
	r |= prctl(PR_SET_KEEPCAPS, 1) == 0 && prctl(PR_GET_KEEPCAPS) == 1 ? 2 : 0;
	r |= setresuid(1000, 1000, 1000) == 0 ? 4 : 0;
	r |= capget_eff(&eff, &perm) == 0 && eff == 0 && perm != 0 ? 8 : 0;
	r |= prctl(PR_SET_KEEPCAPS, 2) == -1 && errno == EINVAL ? 16 : 0;
	return r;
}

static int t_gids(void) {
	int r = 0;
	r |= setresgid(100, 200, 300) == 0 && gids(100, 200, 300) ? 1 : 0;
	r |= setregid(400, -1) == 0 && gids(400, 200, 200) ? 2 : 0;
	r |= setgid(500) == 0 && gids(500, 500, 500) ? 4 : 0;
	/* Without CAP_SETGID: only one's own gids. */
	setresuid(1000, 1000, 1000);
	r |= setgid(600) == -1 && errno == EPERM ? 8 : 0;
	r |= setresgid(-1, 500, -1) == 0 ? 16 : 0;
	r |= setgroups(0, NULL) == -1 && errno == EPERM ? 32 : 0;
	return r;
}

static int t_fsuid(void) {
	int r = 0;
	r |= setfsuid(1234) == 0 ? 1 : 0;           /* returns the old fsuid */
	r |= setfsuid(-1) == 1234 ? 2 : 0;          /* a query */
	r |= setfsgid(4321) == 0 ? 4 : 0;
	r |= setfsgid(-1) == 4321 ? 8 : 0;
	/* fsuid follows euid changes. */
	r |= seteuid(1000) == 0 && setfsuid(-1) == 1000 ? 16 : 0;
	/* Unprivileged: an id that is none of ours is refused (the old value returned). */
	r |= setfsuid(777) == 1000 && setfsuid(-1) == 1000 ? 32 : 0;
	return r;
}

static int t_groups(void) {
	int r = 0;
	gid_t g[4] = {10, 20, 30, 40}, out[8];
	r |= setgroups(4, g) == 0 ? 1 : 0;
	r |= getgroups(0, NULL) == 4 ? 2 : 0;
	r |= getgroups(8, out) == 4 && out[0] == 10 && out[3] == 40 ? 4 : 0;
	r |= getgroups(2, out) == -1 && errno == EINVAL ? 8 : 0;
	r |= setgroups(0, NULL) == 0 && getgroups(0, NULL) == 0 ? 16 : 0;
	r |= syscall(SYS_setgroups, 4, BADPTR) == -1 && errno == EFAULT ? 32 : 0;
	r |= syscall(SYS_setgroups, 65537, g) == -1 && errno == EINVAL ? 64 : 0;
	return r;
}

static int t_capset(void) {
	int r = 0;
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	/* Drop CAP_CHOWN from effective only. */
	d[0].effective &= ~(1u << CAP_CHOWN);
	r |= syscall(SYS_capset, &h, d) == 0 ? 1 : 0;
	struct __user_cap_data_struct e[2];
	syscall(SYS_capget, &h, e);
	r |= !(e[0].effective & (1u << CAP_CHOWN)) && (e[0].permitted & (1u << CAP_CHOWN)) ? 2 : 0;
	/* Raise it again from permitted. */
	d[0].effective |= 1u << CAP_CHOWN;
	r |= syscall(SYS_capset, &h, d) == 0 ? 4 : 0;
	/* Effective beyond permitted: EPERM. Drop CAP_CHOWN from permitted, then try. */
	d[0].permitted &= ~(1u << CAP_CHOWN);
	d[0].effective &= ~(1u << CAP_CHOWN);
	r |= syscall(SYS_capset, &h, d) == 0 ? 8 : 0;
	d[0].effective |= 1u << CAP_CHOWN;
	r |= syscall(SYS_capset, &h, d) == -1 && errno == EPERM ? 16 : 0;
	/* Permitted cannot grow back. */
	d[0].permitted |= 1u << CAP_CHOWN;
	r |= syscall(SYS_capset, &h, d) == -1 && errno == EPERM ? 32 : 0;
	/* chown needs CAP_CHOWN now. */
	const char *p = scratch_path("capfile");
	write_file(p, "x");
	r |= chown(p, 1234, 1234) == -1 && errno == EPERM ? 64 : 0;
	return r;
}

static int t_bounding(void) {
	int r = 0;
	r |= prctl(PR_CAPBSET_READ, CAP_NET_RAW) == 1 ? 1 : 0;
	r |= prctl(PR_CAPBSET_DROP, CAP_NET_RAW) == 0 ? 2 : 0;
	r |= prctl(PR_CAPBSET_READ, CAP_NET_RAW) == 0 ? 4 : 0;
	r |= prctl(PR_CAPBSET_READ, 1000) == -1 && errno == EINVAL ? 8 : 0;
	return r;
}

static int t_no_new_privs(void) {
	int r = 0;
	r |= prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 ? 1 : 0;
	r |= prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 2 : 0;
	r |= prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 4 : 0;
	r |= prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == -1 && errno == EINVAL ? 8 : 0;
	r |= prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0) == -1 && errno == EINVAL ? 16 : 0;
	/* Inherited by a child. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	r |= WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 32 : 0;
	return r;
}

static int t_dumpable(void) {
	int r = 0;
	r |= prctl(PR_GET_DUMPABLE) == 1 ? 1 : 0;
	r |= prctl(PR_SET_DUMPABLE, 0) == 0 && prctl(PR_GET_DUMPABLE) == 0 ? 2 : 0;
	r |= prctl(PR_SET_DUMPABLE, 2) == -1 && errno == EINVAL ? 4 : 0;
	r |= prctl(PR_SET_DUMPABLE, 1) == 0 && prctl(PR_GET_DUMPABLE) == 1 ? 8 : 0;
	/* Changing euid makes the process non-dumpable (until it sets it again). */
	seteuid(1000);
	r |= prctl(PR_GET_DUMPABLE) == 0 ? 16 : 0;
	return r;
}

static int t_pdeathsig(void) {
	int r = 0;
	int sig = -1;
	r |= prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == 0 ? 1 : 0;
	r |= prctl(PR_SET_PDEATHSIG, SIGUSR1) == 0 ? 2 : 0;
	r |= prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == SIGUSR1 ? 4 : 0;
	r |= prctl(PR_SET_PDEATHSIG, 65) == -1 && errno == EINVAL ? 8 : 0;
	/* Not inherited by fork. */
	pid_t pid = fork();
	if (pid == 0) {
		int s = -1;
		prctl(PR_GET_PDEATHSIG, &s);
		_exit(s == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	r |= WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 16 : 0;
	/* Cleared by a change of credentials. */
	setresuid(-1, 1000, -1);
	prctl(PR_GET_PDEATHSIG, &sig);
	r |= sig == 0 ? 32 : 0;
	return r;
}

static int t_name(void) {
	int r = 0;
	char name[32];
	r |= prctl(PR_SET_NAME, "short") == 0 ? 1 : 0;
	memset(name, 'z', sizeof name);
	r |= prctl(PR_GET_NAME, name) == 0 && strcmp(name, "short") == 0 ? 2 : 0;
	r |= prctl(PR_SET_NAME, "a-very-long-thread-name-indeed") == 0 ? 4 : 0;
	prctl(PR_GET_NAME, name);
	r |= strcmp(name, "a-very-long-thr") == 0 ? 8 : 0;
	r |= prctl(PR_SET_NAME, BADPTR) == -1 && errno == EFAULT ? 16 : 0;
	/* comm is per thread and shows in /proc/self/comm. */
	char comm[32] = {0};
	int fd = open("/proc/self/comm", O_RDONLY);
	if (fd >= 0) {
		read(fd, comm, sizeof comm - 1);
		close(fd);
	}
	r |= strcmp(comm, "a-very-long-thr\n") == 0 ? 32 : 0;
	return r;
}

static int t_subreaper(void) {
	int r = 0, v = -1;
	r |= prctl(PR_GET_CHILD_SUBREAPER, &v) == 0 && v == 0 ? 1 : 0;
	r |= prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 2 : 0;
	r |= prctl(PR_GET_CHILD_SUBREAPER, &v) == 0 && v == 1 ? 4 : 0;
	r |= prctl(9999) == -1 && errno == EINVAL ? 8 : 0;
	return r;
}

int main(void) {
	CHECK_EQ(setuid_privileged, run(t_setuid_root), 31);
	CHECK_EQ(setresuid_rules, run(t_setresuid), 127);
	CHECK_EQ(setreuid_rules, run(t_setreuid), 63);
	CHECK_EQ(seteuid_keeps_permitted, run(t_seteuid_keep_perm), 31);
	CHECK_EQ(keepcaps, run(t_keepcaps), 31);
	CHECK_EQ(gid_rules, run(t_gids), 63);
	CHECK_EQ(fsuid_fsgid, run(t_fsuid), 63);
	CHECK_EQ(groups, run(t_groups), 127);
	CHECK_EQ(capset_rules, run(t_capset), 127);
	CHECK_EQ(bounding_set, run(t_bounding), 15);
	CHECK_EQ(no_new_privs, run(t_no_new_privs), 63);
	CHECK_EQ(dumpable, run(t_dumpable), 31);
	CHECK_EQ(pdeathsig, run(t_pdeathsig), 63);
	CHECK_EQ(comm_name, run(t_name), 63);
	CHECK_EQ(subreaper, run(t_subreaper), 15);

	/* capget: version negotiation and errors. */
	struct __user_cap_header_struct h = {0x12345678, 0};
	struct __user_cap_data_struct d[2];
	CHECK_ERR(capget_bad_version, syscall(SYS_capget, &h, d), EINVAL);
	CHECK_EQ(capget_version_written_back, h.version, _LINUX_CAPABILITY_VERSION_3);
	h.version = 0x12345678;
	CHECK_OK(capget_probe_null_data, syscall(SYS_capget, &h, NULL));
	CHECK_EQ(capget_probe_version, h.version, _LINUX_CAPABILITY_VERSION_3);
	h.pid = 0x3ffffff0;
	CHECK_ERR(capget_no_such_pid, syscall(SYS_capget, &h, d), ESRCH);
	h.pid = -1;
	CHECK_ERR(capget_negative_pid, syscall(SYS_capget, &h, d), EINVAL);
	h.pid = 0;
	CHECK_ERR(capget_efault, syscall(SYS_capget, &h, BADPTR), EFAULT);
	CHECK_ERR(setuid_minus_one, syscall(SYS_setuid, -1), EINVAL);
	return check_done();
}

/* sysadmin reboot|mount TARGET: calls reboot(2) (RB_DISABLE_CAD, the mildest command) or
 * mount(2) (a tmpfs on TARGET) and prints "ERRNO" or "OK". Exit 0 only if the call failed.
 * Never run it natively: as root on the host both calls would succeed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>

int main(int argc, char **argv) {
	int r;
	if (argc >= 2 && strcmp(argv[1], "reboot") == 0)
		r = reboot(RB_DISABLE_CAD);
	else if (argc >= 3 && strcmp(argv[1], "mount") == 0)
		r = mount("none", argv[2], "tmpfs", 0, "size=1m");
	else
		return 2;
	printf("%s\n", r == 0 ? "OK" : strerrorname_np(errno));
	return r == 0 ? 1 : 0;
}

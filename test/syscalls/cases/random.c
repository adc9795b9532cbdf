/* getrandom. */
#include "check.h"
#include <sys/random.h>

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

int main(void) {
	unsigned char a[64], b[64];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK_EQ(getrandom_full, syscall(SYS_getrandom, a, sizeof a, 0), 64);
	CHECK_EQ(getrandom_nonblock, syscall(SYS_getrandom, b, sizeof b, GRND_NONBLOCK), 64);
	CHECK_TRUE(getrandom_differs, memcmp(a, b, sizeof a) != 0);
	int zeros = 0;
	for (unsigned i = 0; i < sizeof a; i++)
		zeros += a[i] == 0;
	CHECK_TRUE(getrandom_not_all_zero, zeros < 16);
	CHECK_EQ(getrandom_random_flag, syscall(SYS_getrandom, a, 16, GRND_RANDOM | GRND_NONBLOCK) > 0, 1);
	CHECK_EQ(getrandom_insecure, syscall(SYS_getrandom, a, 16, GRND_INSECURE), 16);
	CHECK_EQ(getrandom_zero_length, syscall(SYS_getrandom, a, 0, 0), 0);
	static unsigned char big[1 << 20];
	CHECK_TRUE(getrandom_large, syscall(SYS_getrandom, big, sizeof big, 0) >= 256);
	CHECK_ERR(getrandom_bad_flags, syscall(SYS_getrandom, a, 16, 0x100), EINVAL);
	CHECK_ERR(getrandom_insecure_and_random, syscall(SYS_getrandom, a, 16, GRND_INSECURE | GRND_RANDOM), EINVAL);
	CHECK_ERR(getrandom_efault, syscall(SYS_getrandom, BADPTR, 16, 0), EFAULT);
	return check_done();
}

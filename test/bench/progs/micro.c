/* micro MODE N: runs N operations of one kind and prints "ns_per_op X".
 *
 * Processes and memory: fork (fork + _exit + wait), forkexec (fork + execve of this
 * program + wait), pthread (create + join), futex (a round trip between two threads),
 * fault (touch every page of a fresh 64 MiB anonymous mapping: one op), clock
 * (clock_gettime through the vDSO).
 * Files: stat and openclose (this program's own file), read4k and read1m (pread from
 * data.bin beside this program), seqread (read all of data.bin in 1 MiB reads: one op),
 * tmpfile (create + write 4 KiB + close + unlink in /tmp). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char self[PATH_MAX], data[PATH_MAX];

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *nothing(void *a) { return a; }

static _Atomic int turn;
static long rounds;

static void futex_wait(_Atomic int *p, int v) { syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void futex_wake(_Atomic int *p) { syscall(SYS_futex, p, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *pong(void *a) {
	for (long i = 0; i < rounds; i++) {
		while (atomic_load(&turn) != 1)
			futex_wait(&turn, 0);
		atomic_store(&turn, 0);
		futex_wake(&turn);
	}
	return a;
}

static void die(const char *what) {
	perror(what);
	exit(1);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 0;
	if (argc < 3) {
		fprintf(stderr, "usage: micro MODE N\n");
		return 2;
	}
	const char *mode = argv[1];
	long n = atol(argv[2]);
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l < 0)
		die("readlink /proc/self/exe");
	self[l] = 0;
	snprintf(data, sizeof(data), "%.*s/data.bin", (int)(strrchr(self, '/') - self), self);
	static char buf[1 << 20];
	double start = now();
	if (strcmp(mode, "fork") == 0) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			if (p < 0 || waitpid(p, NULL, 0) != p)
				die("fork");
		}
	} else if (strcmp(mode, "forkexec") == 0) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				execl(self, "micro", "exit", (char *)NULL);
				_exit(127);
			}
			int st;
			if (p < 0 || waitpid(p, &st, 0) != p || st != 0)
				die("forkexec");
		}
	} else if (strcmp(mode, "pthread") == 0) {
		for (long i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
				die("pthread");
		}
	} else if (strcmp(mode, "futex") == 0) {
		pthread_t t;
		rounds = n;
		if (pthread_create(&t, NULL, pong, NULL))
			die("pthread");
		start = now();
		for (long i = 0; i < n; i++) {
			atomic_store(&turn, 1);
			futex_wake(&turn);
			while (atomic_load(&turn) != 0)
				futex_wait(&turn, 1);
		}
		pthread_join(t, NULL);
	} else if (strcmp(mode, "fault") == 0) {
		size_t len = 64 << 20;
		for (long i = 0; i < n; i++) {
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				die("mmap");
			for (size_t o = 0; o < len; o += 4096)
				p[o] = 1;
			munmap(p, len);
		}
	} else if (strcmp(mode, "clock") == 0) {
		struct timespec t;
		for (long i = 0; i < n; i++)
			clock_gettime(CLOCK_MONOTONIC, &t);
	} else if (strcmp(mode, "stat") == 0) {
		struct stat st;
		for (long i = 0; i < n; i++)
			if (stat(self, &st))
				die("stat");
	} else if (strcmp(mode, "openclose") == 0) {
		for (long i = 0; i < n; i++) {
			int fd = open(self, O_RDONLY);
			if (fd < 0)
				die("open");
			close(fd);
		}
	} else if (strcmp(mode, "read4k") == 0 || strcmp(mode, "read1m") == 0) {
		size_t sz = mode[4] == '4' ? 4096 : sizeof(buf);
		int fd = open(data, O_RDONLY);
		if (fd < 0)
			die(data);
		start = now();
		for (long i = 0; i < n; i++)
			if (pread(fd, buf, sz, 0) != (ssize_t)sz)
				die("pread");
		close(fd);
	} else if (strcmp(mode, "seqread") == 0) {
		for (long i = 0; i < n; i++) {
			int fd = open(data, O_RDONLY);
			if (fd < 0)
				die(data);
			ssize_t r;
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				;
			if (r < 0)
				die("read");
			close(fd);
		}
	} else if (strcmp(mode, "tmpfile") == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/micro.%d", getpid());
		for (long i = 0; i < n; i++) {
			int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0 || write(fd, buf, 4096) != 4096)
				die("tmpfile");
			close(fd);
			unlink(path);
		}
	} else {
		fprintf(stderr, "micro: unknown mode %s\n", mode);
		return 2;
	}
	printf("ns_per_op %.1f\n", (now() - start) / n);
	return 0;
}

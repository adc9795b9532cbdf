/*
 * check.h: the tiny assertion library shared by the conformance case programs.
 *
 * Every check has a NAME (a C identifier, unique within its program) and prints one line:
 *
 *     PASS name
 *     FAIL name: what was called, what it returned, what was wanted
 *
 * and the program ends with `return check_done();`, which prints
 *
 *     DONE passed=N failed=M
 *
 * and returns 1 if any check failed. test/syscalls/syscalls_test.go parses these lines, so
 * keep the format. stdout is line buffered, so a crash loses no finished line.
 *
 * Checks (each evaluates EXPR once, as a long; -1 means failure with errno, as for syscalls):
 *   CHECK_OK(name, expr)            expr != -1; the value of the macro is expr's value
 *   CHECK_ERR(name, expr, ERRNO)    expr == -1 && errno == ERRNO
 *   CHECK_EQ(name, got, want)       got == want (as long long)
 *   CHECK_TRUE(name, cond)          cond is true
 *   CHECK_STR(name, got, want)      strcmp(got, want) == 0
 *   CHECK_ROFS(name, path, expr)    the read-only root, see below
 *
 * The one difference between a native and a sandboxed run: under runsc the root filesystem
 * is read-only, natively (as root) it is writable. The runner sets RUNSC_SANDBOXED=1 under
 * runsc. CHECK_ROFS(name, "/etc/x", open(P, O_CREAT|O_WRONLY, 0644)) binds P to "/etc/x"
 * and wants EROFS when sandboxed; natively it binds P to SCRATCH/x (a private scratch
 * directory under /tmp) and wants success, so that the call itself is still exercised.
 */
#ifndef RUNSC_TEST_CHECK_H
#define RUNSC_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* A pointer no process can read or write: the EFAULT cases use it. */
#define BADPTR ((void *)1)

static int check_passed, check_failed;

__attribute__((constructor)) static void check_init(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
}

#define CHECK_UNUSED __attribute__((unused))

CHECK_UNUSED static const char *check_errname(int e) {
	const char *s = e ? strerrorname_np(e) : "0";
	return s ? s : "E?";
}

CHECK_UNUSED static void check_pass(const char *name) {
	check_passed++;
	printf("PASS %s\n", name);
}

CHECK_UNUSED __attribute__((format(printf, 2, 3))) static void check_fail(const char *name, const char *fmt, ...) {
	va_list ap;
	check_failed++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define CHECK_OK(name, expr)                                                                   \
	({                                                                                         \
		errno = 0;                                                                             \
		long r_ = (long)(expr);                                                                \
		int e_ = errno;                                                                        \
		if (r_ == -1)                                                                          \
			check_fail(#name, "%s = -1 (%s), want success", #expr, check_errname(e_));         \
		else                                                                                   \
			check_pass(#name);                                                                 \
		r_;                                                                                    \
	})

#define CHECK_ERR(name, expr, want)                                                            \
	({                                                                                         \
		errno = 0;                                                                             \
		long r_ = (long)(expr);                                                                \
		int e_ = errno;                                                                        \
		if (r_ == -1 && e_ == (want))                                                          \
			check_pass(#name);                                                                 \
		else if (r_ == -1)                                                                     \
			check_fail(#name, "%s = -1 (%s), want -1 (%s)", #expr, check_errname(e_),          \
			           check_errname(want));                                                   \
		else                                                                                   \
			check_fail(#name, "%s = %ld, want -1 (%s)", #expr, r_, check_errname(want));       \
		r_;                                                                                    \
	})

#define CHECK_EQ(name, got, want)                                                              \
	({                                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);                               \
		if (g_ == w_)                                                                          \
			check_pass(#name);                                                                 \
		else                                                                                   \
			check_fail(#name, "%s = %lld, want %s = %lld", #got, g_, #want, w_);              \
		g_ == w_;                                                                              \
	})

#define CHECK_TRUE(name, cond)                                                                 \
	({                                                                                         \
		int c_ = !!(cond);                                                                     \
		if (c_)                                                                                \
			check_pass(#name);                                                                 \
		else                                                                                   \
			check_fail(#name, "%s is false (errno %s)", #cond, check_errname(errno));          \
		c_;                                                                                    \
	})

#define CHECK_STR(name, got, want)                                                             \
	({                                                                                         \
		const char *g_ = (got), *w_ = (want);                                                  \
		int c_ = g_ && w_ && strcmp(g_, w_) == 0;                                              \
		if (c_)                                                                                \
			check_pass(#name);                                                                 \
		else                                                                                   \
			check_fail(#name, "%s = \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)",           \
			           w_ ? w_ : "(null)");                                                    \
		c_;                                                                                    \
	})

/* sandboxed reports whether the runner started us under runsc. As a guard for the host, it
 * refuses to go on when RUNSC_SANDBOXED=1 but "/" is writable (the variable set by hand on
 * the host, or a sandbox whose root is not read-only): the EROFS checks then would write on
 * the host's real files. */
CHECK_UNUSED static int sandboxed(void) {
	static int known, yes;
	if (!known) {
		const char *s = getenv("RUNSC_SANDBOXED");
		known = 1;
		yes = s && strcmp(s, "1") == 0;
		if (yes && !(access("/", W_OK) == -1 && errno == EROFS)) {
			printf("FAIL rofs_guard: RUNSC_SANDBOXED=1 but / is not read-only "
			       "(access(\"/\", W_OK) did not fail with EROFS); stopping\n");
			exit(1);
		}
	}
	return yes;
}

static char check_scratch[64];

/* scratch_dir returns a private writable directory under /tmp, made on first use and
 * removed (one level deep) by check_done. */
CHECK_UNUSED static const char *scratch_dir(void) {
	if (!check_scratch[0]) {
		strcpy(check_scratch, "/tmp/conformance-XXXXXX");
		if (!mkdtemp(check_scratch)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return check_scratch;
}

/* scratch_path returns scratch_dir()/name in a static ring of buffers. */
CHECK_UNUSED static const char *scratch_path(const char *name) {
	static char bufs[8][128];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", scratch_dir(), name);
	return b;
}

/* rofs_path is PATH when sandboxed and scratch_dir()/basename(PATH) natively. */
CHECK_UNUSED static const char *rofs_path(const char *path) {
	const char *base = strrchr(path, '/');
	return sandboxed() ? path : scratch_path(base ? base + 1 : path);
}

#define CHECK_ROFS(name, path, expr)                                                           \
	({                                                                                         \
		const char *P = rofs_path(path);                                                       \
		long rr_;                                                                              \
		if (sandboxed())                                                                       \
			rr_ = CHECK_ERR(name, expr, EROFS);                                                \
		else                                                                                   \
			rr_ = CHECK_OK(name, expr);                                                        \
		rr_;                                                                                   \
	})

CHECK_UNUSED static int check_done(void) {
	if (check_scratch[0]) {
		DIR *d = opendir(check_scratch);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) != 0)
				unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		}
		if (d)
			closedir(d);
		rmdir(check_scratch);
	}
	printf("DONE passed=%d failed=%d\n", check_passed, check_failed);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

/* write_file creates PATH with CONTENT (mode 0644) and returns 0, or -1. */
CHECK_UNUSED static int write_file(const char *path, const char *content) {
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, content, strlen(content));
	close(fd);
	return n == (ssize_t)strlen(content) ? 0 : -1;
}

#endif

/* mmap, munmap, mprotect, brk, madvise. */
#include "check.h"
#include <sys/mman.h>

#define PAGE 4096L

static long raw_mmap(void *addr, long len, int prot, int flags, int fd, long off) {
	return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int main(void) {
	/* Anonymous private memory is zeroed and writable. */
	char *p = (char *)CHECK_OK(mmap_anon, raw_mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK_EQ(mmap_anon_aligned, (long)p % PAGE, 0);
	CHECK_TRUE(mmap_anon_zeroed, p[0] == 0 && p[4 * PAGE - 1] == 0);
	p[0] = 'a';
	p[3 * PAGE] = 'b';
	CHECK_TRUE(mmap_anon_writable, p[0] == 'a' && p[3 * PAGE] == 'b');

	/* madvise */
	CHECK_OK(madvise_dontneed, madvise(p, PAGE, MADV_DONTNEED));
	CHECK_EQ(madvise_dontneed_zeroes, p[0], 0);
	CHECK_EQ(madvise_dontneed_other_page_kept, p[3 * PAGE], 'b');
	CHECK_OK(madvise_willneed, madvise(p, 4 * PAGE, MADV_WILLNEED));
	CHECK_OK(madvise_normal, madvise(p, 4 * PAGE, MADV_NORMAL));
	CHECK_ERR(madvise_bad_advice, madvise(p, PAGE, 12345), EINVAL);
	CHECK_ERR(madvise_unaligned, madvise(p + 1, PAGE, MADV_NORMAL), EINVAL);
	CHECK_OK(madvise_zero_length, madvise(p, 0, MADV_NORMAL));

	/* mprotect */
	CHECK_OK(mprotect_readonly, mprotect(p, PAGE, PROT_READ));
	CHECK_EQ(mprotect_readonly_readable, p[0], 0);
	CHECK_OK(mprotect_back_rw, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	p[0] = 'c';
	CHECK_EQ(mprotect_rw_writable, p[0], 'c');
	CHECK_ERR(mprotect_unaligned, mprotect(p + 1, PAGE, PROT_READ), EINVAL);
	CHECK_ERR(mprotect_bad_prot, mprotect(p, PAGE, 0x100), EINVAL);

	/* munmap */
	CHECK_OK(munmap_middle, munmap(p + PAGE, PAGE));
	CHECK_ERR(mprotect_unmapped_enomem, mprotect(p + PAGE, PAGE, PROT_READ), ENOMEM);
	CHECK_EQ(munmap_middle_keeps_rest, p[3 * PAGE], 'b');
	CHECK_OK(munmap_already_unmapped, munmap(p + PAGE, PAGE));
	CHECK_ERR(munmap_unaligned, munmap(p + 1, PAGE), EINVAL);
	CHECK_ERR(munmap_zero_length, munmap(p, 0), EINVAL);
	CHECK_OK(munmap_all, munmap(p, 4 * PAGE));

	/* PROT_NONE, then made accessible. */
	char *n = (char *)CHECK_OK(mmap_prot_none, raw_mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK_OK(mprotect_from_none, mprotect(n, PAGE, PROT_READ | PROT_WRITE));
	n[10] = 'x';
	CHECK_EQ(prot_none_then_rw, n[10], 'x');
	munmap(n, PAGE);

	/* MAP_FIXED at a page we own replaces its contents. */
	char *q = (char *)raw_mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q[PAGE] = 'q';
	CHECK_EQ(mmap_fixed, raw_mmap(q + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), (long)(q + PAGE));
	CHECK_EQ(mmap_fixed_replaces, q[PAGE], 0);
	CHECK_ERR(mmap_fixed_unaligned, raw_mmap(q + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL);
	CHECK_ERR(mmap_fixed_noreplace_eexist, raw_mmap(q, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
	munmap(q, 2 * PAGE);

	/* Argument errors. */
	CHECK_ERR(mmap_zero_length, raw_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR(mmap_no_type_flag, raw_mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR(mmap_shared_and_private, raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR(mmap_file_ebadf, raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
	CHECK_ERR(mmap_unaligned_offset, raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1), EINVAL);
	CHECK_ERR(mmap_huge_length, raw_mmap(NULL, -PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);

	/* Private file mappings: the file's bytes, copy on write. */
	const char *f = scratch_path("mapped");
	char content[PAGE + 16];
	memset(content, 'f', sizeof content - 1);
	content[sizeof content - 1] = 0;
	memcpy(content, "file-start", 10);
	CHECK_OK(create_file, write_file(f, content));
	int fd = CHECK_OK(open_file, open(f, O_RDWR));
	char *m = (char *)CHECK_OK(mmap_file_private, raw_mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	CHECK_TRUE(mmap_file_content, memcmp(m, "file-start", 10) == 0 && m[PAGE] == 'f');
	CHECK_EQ(mmap_file_tail_zeroed, m[PAGE + 15], 0);
	m[0] = 'X';
	char back[16] = {0};
	pread(fd, back, 10, 0);
	CHECK_STR(mmap_private_write_not_in_file, back, "file-start");
	CHECK_OK(madvise_dontneed_file, madvise(m, PAGE, MADV_DONTNEED));
	CHECK_EQ(madvise_dontneed_file_refetches, m[0], 'f'); /* the file's byte again */
	CHECK_TRUE(madvise_dontneed_file_content, memcmp(m, "file-start", 10) == 0);
	munmap(m, 2 * PAGE);
	char *m2 = (char *)CHECK_OK(mmap_file_offset, raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE));
	CHECK_EQ(mmap_file_offset_content, m2[0], 'f');
	munmap(m2, PAGE);
	int ro = open(f, O_RDONLY);
	CHECK_ERR(mmap_shared_write_on_rdonly_eacces, raw_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	close(ro);
	int dfd = open("/", O_RDONLY | O_DIRECTORY);
	CHECK_ERR(mmap_directory_enodev, raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV);
	close(dfd);
	close(fd);

	/* brk */
	long cur = CHECK_OK(brk_query, syscall(SYS_brk, 0));
	CHECK_TRUE(brk_nonzero, cur > 0);
	long grown = syscall(SYS_brk, cur + 8 * PAGE);
	CHECK_EQ(brk_grow, grown, cur + 8 * PAGE);
	char *heap = (char *)cur;
	heap[0] = 'h';
	heap[8 * PAGE - 1] = 'h';
	CHECK_TRUE(brk_memory_usable, heap[0] == 'h' && heap[8 * PAGE - 1] == 'h');
	CHECK_EQ(brk_shrink, syscall(SYS_brk, cur + PAGE), cur + PAGE);
	CHECK_EQ(brk_query_after_shrink, syscall(SYS_brk, 0), cur + PAGE);
	/* A brk below the start of the heap is refused: the current break is returned. */
	CHECK_EQ(brk_below_start_refused, syscall(SYS_brk, 4096), cur + PAGE);
	CHECK_EQ(brk_restore, syscall(SYS_brk, cur), cur);
	return check_done();
}

/* getdents64 while the directory changes: every entry that stays is listed exactly once,
 * offsets (telldir/seekdir) keep working, and a rewind sees the changes. Also O_TMPFILE
 * files linked into the directory. */
#include "check.h"

#define N 200

/* walk lists dir, creating and removing files after every few entries, and reports
 * whether each of the names that were never removed was seen exactly once. */
static int walk(const char *dir) {
	char path[512];
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof path, "%s/f%03d", dir, i);
		if (write_file(path, "x"))
			return -1;
	}
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int seen[N] = {0};
	int removed[N] = {0};
	int count = 0, extra = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int i;
		if (sscanf(e->d_name, "f%03d", &i) == 1 && i >= 0 && i < N && strlen(e->d_name) == 4)
			seen[i]++;
		else if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			extra++;
		if (++count % 10 == 0) {
			/* Remove a later file, add a new one. */
			int victim = (count * 7) % N;
			snprintf(path, sizeof path, "%s/f%03d", dir, victim);
			if (!removed[victim] && unlink(path) == 0)
				removed[victim] = 1;
			snprintf(path, sizeof path, "%s/new%d", dir, count);
			write_file(path, "y");
		}
	}
	int ok = 1;
	for (int i = 0; i < N; i++)
		if (!removed[i] && seen[i] != 1)
			ok = 0;
		else if (removed[i] && seen[i] > 1)
			ok = 0;
	/* After a rewind the listing is current: the removed ones are gone. */
	rewinddir(d);
	int again = 0, news = 0;
	while ((e = readdir(d)) != NULL) {
		int i;
		if (sscanf(e->d_name, "f%03d", &i) == 1 && removed[i])
			ok = 0;
		if (strncmp(e->d_name, "new", 3) == 0)
			news++;
		again++;
	}
	if (news == 0 || again < 2)
		ok = 0;
	closedir(d);
	return ok;
}

/* seekback checks that telldir/seekdir return to the same entry. */
static int seekback(const char *dir) {
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	for (int i = 0; i < 5; i++)
		readdir(d);
	long pos = telldir(d);
	struct dirent *e = readdir(d);
	char name[256];
	snprintf(name, sizeof name, "%s", e ? e->d_name : "");
	for (int i = 0; i < 7; i++)
		readdir(d);
	seekdir(d, pos);
	e = readdir(d);
	int ok = e && strcmp(e->d_name, name) == 0;
	closedir(d);
	return ok;
}

int main(void) {
	const char *t = strdup(scratch_path("t"));
	CHECK_OK(mkdir_tmp, mkdir(t, 0755));
	CHECK_EQ(tmpfs_stable, walk(t), 1);
	CHECK_TRUE(tmpfs_seekdir, seekback(t));

	/* O_TMPFILE, then linked into the directory. */
	int fd = CHECK_OK(tmpfile, open(t, O_TMPFILE | O_RDWR, 0600));
	write(fd, "tmp", 3);
	struct stat st;
	fstat(fd, &st);
	CHECK_EQ(tmpfile_nlink0, st.st_nlink, 0);
	char lpath[512];
	snprintf(lpath, sizeof lpath, "%s/linked", t);
	CHECK_OK(link_tmpfile, linkat(fd, "", AT_FDCWD, lpath, AT_EMPTY_PATH));
	fstat(fd, &st);
	CHECK_EQ(tmpfile_nlink1, st.st_nlink, 1);
	char buf[8] = {0};
	int rfd = open(lpath, O_RDONLY);
	CHECK_EQ(tmpfile_contents, read(rfd, buf, sizeof buf), 3);
	close(rfd);
	close(fd);
	fd = CHECK_OK(tmpfile_excl, open(t, O_TMPFILE | O_RDWR | O_EXCL, 0600));
	snprintf(lpath, sizeof lpath, "%s/linked2", t);
	CHECK_ERR(link_tmpfile_excl, linkat(fd, "", AT_FDCWD, lpath, AT_EMPTY_PATH), ENOENT);
	close(fd);
	return check_done();
}

package gofer

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// fakeSpace records invalidations.
type fakeSpace struct{ from []uint64 }

func (s *fakeSpace) Invalidate(mp mm.Mappable, off, end uint64) { s.from = append(s.from, off) }

// TestSharedMappingCache drives a gofer file's page cache as mm does for a shared
// writable mapping: stores into the cached pages are seen by read(2) at once and reach
// the host file on Sync, write(2) updates the cached pages, truncation invalidates the
// mappers, and the last mapping writes back and drops the cache.
func TestSharedMappingCache(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "f")
	os.WriteFile(host, make([]byte, 3*pageSize), 0644)
	v, ctx := serve(t, dir, false)
	root := v.Root()
	fd, err := v.OpenAt(ctx, root, root, "/f", unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef()
	mf, err := memory.New(1 << 24)
	if err != nil {
		t.Fatal(err)
	}
	mp := fd.Impl().(mm.MappableFile).Mappable()
	ms := &fakeSpace{}
	mp.AddMapping(ms, true)
	pages := make([]uint64, 4)
	n, err := mp.Translate(mf, 0, pages, true)
	if err != nil || n != 3 {
		t.Fatalf("Translate: %d, %v; want 3 pages (the file's end)", n, err)
	}
	copy(mf.Slice(pages[1]+10, 5), "hello")
	buf := make([]byte, 5)
	if _, err := fd.PRead(ctx, [][]byte{buf}, pageSize+10); err != nil || string(buf) != "hello" {
		t.Errorf("read after a store: %q, %v", buf, err)
	}
	if b, _ := os.ReadFile(host); string(b[pageSize+10:pageSize+15]) == "hello" {
		t.Errorf("the store reached the host file before a sync")
	}
	if err := mp.Sync(0, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(host); string(b[pageSize+10:pageSize+15]) != "hello" {
		t.Errorf("host file after Sync: %q", b[pageSize+10:pageSize+15])
	}
	if _, err := fd.PWrite(ctx, [][]byte{[]byte("XY")}, 2*pageSize-1); err != nil {
		t.Fatal(err)
	}
	if got := string(mf.Slice(pages[1]+pageSize-1, 1)) + string(mf.Slice(pages[2], 1)); got != "XY" {
		t.Errorf("cached pages after write(2): %q", got)
	}
	if err := v.SetStatAt(ctx, root, root, "/f", true, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: pageSize + 1}); err != nil {
		t.Fatal(err)
	}
	if len(ms.from) != 1 || ms.from[0] != 2*pageSize {
		t.Errorf("invalidations after truncation: %v, want from %d", ms.from, 2*pageSize)
	}
	if n, _ := mp.Translate(mf, 2*pageSize, pages[:1], false); n != 0 {
		t.Errorf("Translate beyond the end: %d pages", n)
	}
	copy(mf.Slice(pages[0], 3), "abc")
	mp.RemoveMapping(ms, true)
	if b, _ := os.ReadFile(host); len(b) != pageSize+1 || string(b[:3]) != "abc" {
		t.Errorf("host file after the last mapping: %d bytes, %q", len(b), b[:3])
	}
	for _, p := range pages[:3] {
		mf.DecRef(p, pageSize)
	}
	if used := mf.UsedBytes(); used != 0 {
		t.Errorf("memory file still holds %d bytes", used)
	}
}

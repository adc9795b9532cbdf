package memory

import "testing"

func TestAllocateFreeCoalesce(t *testing.T) {
	f, err := New(1 << 24)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Allocate(3 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Allocate(PageSize)
	copy(f.Slice(a, PageSize), "hello")
	if string(f.Slice(a, 5)) != "hello" {
		t.Fatal("view does not hold the written bytes")
	}
	f.IncRef(a, PageSize)
	f.DecRef(a, 3*PageSize)
	if got := f.RefCount(a); got != 1 {
		t.Fatalf("first page refcount %d, want 1", got)
	}
	if got := f.UsedBytes(); got != 2*PageSize {
		t.Fatalf("used %d, want %d", got, 2*PageSize)
	}
	f.DecRef(a, PageSize)
	f.DecRef(b, PageSize)
	if f.UsedBytes() != 0 || len(f.free) != 1 {
		t.Fatalf("after freeing all: used %d, free extents %v", f.UsedBytes(), f.free)
	}
	c, _ := f.Allocate(PageSize)
	if s := f.Slice(c, 5); string(s) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("reused page not zero: %q", s)
	}
	if _, err := f.Allocate(1 << 30); err == nil {
		t.Fatal("allocating more than the file succeeded")
	}
}

package ptrace

import (
	"math/rand/v2"
	"testing"
)

// TestRangeSet checks rangeSet against a page bitmap under random operations.
func TestRangeSet(t *testing.T) {
	const pages = 64
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var s rangeSet
		var model [pages]bool
		for op := 0; op < 50; op++ {
			a := rng.IntN(pages)
			b := a + rng.IntN(pages-a+1)
			switch rng.IntN(3) {
			case 0, 1:
				s.add(uintptr(a), uintptr(b))
				for i := a; i < b; i++ {
					model[i] = true
				}
			case 2:
				s.remove(uintptr(a), uintptr(b))
				for i := a; i < b; i++ {
					model[i] = false
				}
			}
			// Runs are sorted, disjoint, non-adjacent, non-empty, and match the model.
			var got [pages]bool
			for i, r := range s.runs {
				if r.start >= r.end || (i > 0 && s.runs[i-1].end >= r.start) {
					t.Fatalf("bad runs %v", s.runs)
				}
				for p := r.start; p < r.end; p++ {
					got[p] = true
				}
			}
			if got != model {
				t.Fatalf("runs %v, want %v", s.runs, model)
			}
			// intersect returns exactly the model's pages in [a, b), as maximal runs.
			a = rng.IntN(pages)
			b = a + rng.IntN(pages-a+1)
			var in [pages]bool
			for _, r := range s.intersect(uintptr(a), uintptr(b), nil) {
				if r.start < uintptr(a) || r.end > uintptr(b) || r.start >= r.end {
					t.Fatalf("intersect(%d, %d) = %v", a, b, r)
				}
				for p := r.start; p < r.end; p++ {
					in[p] = true
				}
			}
			for i := 0; i < pages; i++ {
				if in[i] != (model[i] && i >= a && i < b) {
					t.Fatalf("intersect(%d, %d) of %v: page %d", a, b, s.runs, i)
				}
			}
		}
	}
}

package ptrace

import "sort"

// rangeSet is a set of addresses kept as sorted, disjoint, non-adjacent [start, end)
// runs. An address space records in one the ranges it has mapped, so that Protect can
// mprotect exactly the mapped runs of a range (mprotect fails at the first hole).
type rangeSet struct {
	runs []addrRange
}

type addrRange struct{ start, end uintptr }

// first returns the index of the first run that ends at or after addr (so that a run
// ending exactly at addr, adjacent to it, is included).
func (s *rangeSet) first(addr uintptr) int {
	return sort.Search(len(s.runs), func(i int) bool { return s.runs[i].end >= addr })
}

// add inserts [start, end).
func (s *rangeSet) add(start, end uintptr) {
	if start >= end {
		return
	}
	i := s.first(start)
	j := i
	for j < len(s.runs) && s.runs[j].start <= end {
		start = min(start, s.runs[j].start)
		end = max(end, s.runs[j].end)
		j++
	}
	if i == j {
		s.runs = append(s.runs, addrRange{})
		copy(s.runs[i+1:], s.runs[i:])
		s.runs[i] = addrRange{start, end}
		return
	}
	s.runs[i] = addrRange{start, end}
	s.runs = append(s.runs[:i+1], s.runs[j:]...)
}

// remove deletes [start, end).
func (s *rangeSet) remove(start, end uintptr) {
	if start >= end {
		return
	}
	i := s.first(start)
	var keep []addrRange
	j := i
	for j < len(s.runs) && s.runs[j].start < end {
		r := s.runs[j]
		if r.start < start {
			keep = append(keep, addrRange{r.start, start})
		}
		if r.end > end {
			keep = append(keep, addrRange{end, r.end})
		}
		j++
	}
	if i == j {
		return
	}
	tail := append(keep, s.runs[j:]...)
	s.runs = append(s.runs[:i], tail...)
}

// intersect appends to rs the parts of the set's runs within [start, end).
func (s *rangeSet) intersect(start, end uintptr, rs []addrRange) []addrRange {
	for i := s.first(start); i < len(s.runs) && s.runs[i].start < end; i++ {
		r := addrRange{max(start, s.runs[i].start), min(end, s.runs[i].end)}
		if r.start < r.end {
			rs = append(rs, r)
		}
	}
	return rs
}

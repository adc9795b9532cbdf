package mm

import "sort"

// Stacks that grow: a MAP_GROWSDOWN mapping (the main stack is one) is extended downward,
// a page at a time as far as the access, when the application or the sentry (a signal
// frame, a copy out) touches an address below it that no mapping holds, as Linux's
// expand_stack does. Growth is refused when the mapping would exceed RLIMIT_STACK, or
// when it would come closer than stackGuardGap to an accessible mapping below that does
// not itself grow down (Linux's stack_guard_gap).

// stackGuardGap is Linux's default stack_guard_gap: 256 pages.
const stackGuardGap = 256 * pageSize

// SetStackLimit sets the bound on growing mappings (RLIMIT_STACK's soft value; ^0 for
// none). The loader sets it at exec and setrlimit when the limit changes.
func (m *MemoryManager) SetStackLimit(n uint64) {
	m.mu.Lock()
	m.stackLimit = n
	m.mu.Unlock()
}

// findOrGrowLocked returns the index of the vma containing addr, growing a MAP_GROWSDOWN
// vma just above addr down to it if it may; -1 if no vma holds addr.
func (m *MemoryManager) findOrGrowLocked(addr uintptr) int {
	if i := m.findLocked(addr); i >= 0 {
		return i
	}
	// The first vma above addr.
	i := sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].start > addr })
	if i == len(m.vmas) {
		return -1
	}
	v := m.vmas[i]
	// Only private anonymous memory grows: a file or shared mapping would need an offset
	// below its first page.
	if !v.growsDown || !v.private || v.file != nil || v.special {
		return -1
	}
	start := pageDown(addr)
	if start < m.layout.MinAddr || uint64(v.end-start) > m.stackLimit {
		return -1
	}
	if i > 0 {
		prev := m.vmas[i-1]
		accessible := prev.perms.Read || prev.perms.Write || prev.perms.Execute
		if !prev.growsDown && accessible && start-prev.end < stackGuardGap {
			return -1
		}
	}
	v.start = start
	return i
}

package mm

import "runsc.dev/platform"

// Fork returns a copy of the address space for a child process (fork without CLONE_VM).
// Private pages become shared copy-on-write: both sides keep the page with an extra
// reference and lose write access to it until a write fault copies it. Shared mappings
// share their pages. The parent's writable private mappings are made read-only in the
// platform address space so that its next write faults.
func (m *MemoryManager) Fork() (*MemoryManager, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	child, err := New(m.mf, m.p, m.layout)
	if err != nil {
		return nil, err
	}
	child.brkStart, child.brk = m.brkStart, m.brk
	child.ArgvStart, child.ArgvEnd, child.EnvStart, child.EnvEnd = m.ArgvStart, m.ArgvEnd, m.EnvStart, m.EnvEnd
	child.Auxv = append([]uint64(nil), m.Auxv...)
	child.stackLimit = m.stackLimit
	for _, v := range m.vmas {
		if v.dontFork {
			continue
		}
		n := *v
		child.vmaRefLocked(&n)
		child.vmas = append(child.vmas, &n)
		if v.wipeOnFork {
			continue // the child's pages fault in as fresh zero pages
		}
		cowed := false
		// Special vmas' pages are not copied: the child maps them on first touch.
		for a := v.start; a < v.end && !v.special; {
			c := m.pt[a>>chunkShift]
			if c == nil {
				a = (a>>chunkShift + 1) << chunkShift
				continue
			}
			idx := (a >> pageShift) & (chunkPages - 1)
			if e := c[idx]; e != 0 {
				off := e &^ pteFlags
				m.mf.IncRef(off, pageSize)
				*child.pte(a, true) = off // the child maps it on first touch
				if v.private && e&pteWritable != 0 {
					c[idx] = off | pteMapped
					cowed = true
				}
			}
			a += pageSize
		}
		if cowed {
			// Remove write access from the parent's mapping; pages fault back in.
			if err := m.protectLocked(v); err != nil {
				return nil, err
			}
		}
	}
	return child, nil
}

// protectLocked makes the platform mapping of v read-only (keeping execute), so that the
// next write to any page faults.
func (m *MemoryManager) protectLocked(v *vma) error {
	perms := v.perms
	perms.Write = false
	if p, ok := m.as.(platform.Protector); ok {
		return p.Protect(v.start, v.end-v.start, perms)
	}
	// Without in-place protection, unmap: the pages map again, read-only while shared,
	// when next touched.
	for a := v.start; a < v.end; a += pageSize {
		if s := m.pte(a, false); s != nil {
			*s &^= pteFlags
		}
	}
	m.as.Unmap(v.start, v.end-v.start)
	return nil
}

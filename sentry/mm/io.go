package mm

import "golang.org/x/sys/unix"

// CopyIn copies application memory at addr into dst. It returns the number of bytes
// copied and EFAULT if it stopped at an inaccessible page.
func (m *MemoryManager) CopyIn(addr uintptr, dst []byte) (int, error) {
	return m.copy(addr, dst, false)
}

// CopyOut copies src into application memory at addr.
func (m *MemoryManager) CopyOut(addr uintptr, src []byte) (int, error) {
	return m.copy(addr, src, true)
}

func (m *MemoryManager) copy(addr uintptr, b []byte, out bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if addr+uintptr(len(b)) < addr {
		return 0, unix.EFAULT
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	done := 0
	for done < len(b) {
		a := addr + uintptr(done)
		page := pageDown(a)
		off, err := m.translateLocked(page, out)
		if err != nil {
			return done, err
		}
		in := a - page
		n := min(len(b)-done, int(pageSize-in))
		view := m.mf.Slice(off+uint64(in), uint64(n))
		if out {
			copy(view, b[done:done+n])
		} else {
			copy(b[done:done+n], view)
		}
		done += n
	}
	return done, nil
}

// ZeroOut writes n zero bytes at addr.
func (m *MemoryManager) ZeroOut(addr uintptr, n int) (int, error) {
	bs, err := m.Blocks(addr, n, true)
	done := 0
	for _, b := range bs {
		clear(b)
		done += len(b)
	}
	return done, err
}

// Blocks returns the sentry's views of the application range [addr, addr+n): all of it,
// or the part before the first inaccessible page together with EFAULT. write says the
// caller will write into the views. Adjacent pages that are adjacent in the memory file
// share one slice.
func (m *MemoryManager) Blocks(addr uintptr, n int, write bool) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	if addr+uintptr(n) < addr {
		return nil, unix.EFAULT
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	lastEnd := ^uint64(0)
	for done := 0; done < n; {
		a := addr + uintptr(done)
		page := pageDown(a)
		off, err := m.translateLocked(page, write)
		if err != nil {
			return out, err
		}
		in := uint64(a - page)
		k := min(n-done, int(pageSize-in))
		if off+in == lastEnd {
			last := out[len(out)-1]
			out[len(out)-1] = m.mf.Slice(lastEnd-uint64(len(last)), uint64(len(last)+k))
		} else {
			out = append(out, m.mf.Slice(off+in, uint64(k)))
		}
		lastEnd = off + in + uint64(k)
		done += k
	}
	return out, nil
}

// CopyInString reads a NUL-terminated string of at most maxLen bytes (without the NUL).
// ENAMETOOLONG if there is no NUL within maxLen bytes.
func (m *MemoryManager) CopyInString(addr uintptr, maxLen int) (string, error) {
	var buf []byte
	for len(buf) < maxLen {
		// Read up to the end of the page so as not to fault on a following unmapped page.
		chunk := int(pageSize - (addr+uintptr(len(buf)))%pageSize)
		chunk = min(chunk, maxLen-len(buf))
		tmp := make([]byte, chunk)
		n, err := m.CopyIn(addr+uintptr(len(buf)), tmp)
		for i := 0; i < n; i++ {
			if tmp[i] == 0 {
				return string(append(buf, tmp[:i]...)), nil
			}
		}
		if err != nil {
			return "", err
		}
		buf = append(buf, tmp...)
	}
	return "", unix.ENAMETOOLONG
}

// ZeroOutForce zeroes n bytes at addr even in a mapping the application may not write
// (the loader clearing the start of a bss that shares a page with read-only data).
func (m *MemoryManager) ZeroOutForce(addr uintptr, n int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	done := 0
	for done < n {
		a := addr + uintptr(done)
		page := pageDown(a)
		i := m.findLocked(page)
		if i < 0 {
			return done, errFault
		}
		v := m.vmas[i]
		if v.special {
			return done, errFault // shared by every process: never written (special.go)
		}
		if *m.pte(page, true) == 0 && m.populateLocked(v, page) != FaultResolved {
			return done, errFault
		}
		// A freshly loaded page has one reference: write through the sentry's view.
		off := *m.pte(page, true) &^ pteFlags
		in := a - page
		k := min(n-done, int(pageSize-in))
		clear(m.mf.Slice(off+uint64(in), uint64(k)))
		done += k
	}
	return done, nil
}

package mm

// ResidentBytesIn returns the bytes of present pages in [start, end), for
// /proc/PID/smaps.
func (m *MemoryManager) ResidentBytesIn(start, end uintptr) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for a := pageDown(start); a < end; {
		c := m.pt[a>>chunkShift]
		if c == nil {
			a = (a>>chunkShift + 1) << chunkShift
			continue
		}
		if c[(a>>pageShift)&(chunkPages-1)] != 0 {
			n += pageSize
		}
		a += pageSize
	}
	return n
}

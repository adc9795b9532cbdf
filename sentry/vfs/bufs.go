package vfs

// Helpers for the buffer lists ([][]byte) that FileImpl.Read and Write take.

// BufsLen is the total length of bufs.
func BufsLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// CopyToBufs copies src into dst starting at byte offset off of the list.
func CopyToBufs(dst [][]byte, off int, src []byte) {
	for _, d := range dst {
		if off >= len(d) {
			off -= len(d)
			continue
		}
		n := copy(d[off:], src)
		off = 0
		src = src[n:]
		if len(src) == 0 {
			return
		}
	}
}

// CopyFromBufs fills dst from the start of src.
func CopyFromBufs(dst []byte, src [][]byte) {
	for _, s := range src {
		n := copy(dst, s)
		dst = dst[n:]
		if len(dst) == 0 {
			return
		}
	}
}

package mm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// word32 returns an atomic view of the aligned 32-bit application word at addr, through
// the sentry's mapping of the memory file (the same physical page the application uses,
// so atomics here are atomic with respect to the application's own). m.mu must be held.
func (m *MemoryManager) word32Locked(addr uintptr, write bool) (*uint32, error) {
	if addr%4 != 0 {
		return nil, unix.EINVAL
	}
	off, err := m.translateLocked(pageDown(addr), write)
	if err != nil {
		return nil, err
	}
	b := m.mf.Slice(off+uint64(addr%pageSize), 4)
	return (*uint32)(unsafe.Pointer(&b[0])), nil
}

// Load32 atomically reads the 32-bit word at addr (EINVAL if unaligned, EFAULT).
func (m *MemoryManager) Load32(addr uintptr) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.word32Locked(addr, false)
	if err != nil {
		return 0, err
	}
	return atomic.LoadUint32(p), nil
}

// Update32 atomically replaces the word at addr with f(old) and returns old.
func (m *MemoryManager) Update32(addr uintptr, f func(old uint32) uint32) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.word32Locked(addr, true)
	if err != nil {
		return 0, err
	}
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, f(old)) {
			return old, nil
		}
	}
}

// FutexKey identifies the futex word at addr: for a private futex, the (address space,
// address) pair; for a shared futex on a shared mapping, the memory-file offset of the
// word, which every process mapping the page shares; for a shared futex on private
// memory, the (address space, address) pair again, marked Shared so that, as in Linux,
// private and shared waiters on the same word never wake each other.
type FutexKey struct {
	MM     *MemoryManager
	Addr   uintptr
	Offset uint64
	Shared bool
}

// FutexKey returns the key of the word at addr.
func (m *MemoryManager) FutexKey(addr uintptr, private bool) (FutexKey, error) {
	if addr%4 != 0 {
		return FutexKey{}, unix.EINVAL
	}
	if private {
		return FutexKey{MM: m, Addr: addr}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.findLocked(addr)
	if i < 0 {
		return FutexKey{}, unix.EFAULT
	}
	if m.vmas[i].private {
		return FutexKey{MM: m, Addr: addr, Shared: true}, nil
	}
	off, err := m.translateLocked(pageDown(addr), false)
	if err != nil {
		return FutexKey{}, err
	}
	return FutexKey{Offset: off + uint64(addr%pageSize)}, nil
}

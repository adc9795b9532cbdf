package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/mm"
)

// futexTable holds the tasks waiting on futex words. One lock covers it: a waiter checks
// the word's value and enqueues under it, and a waker dequeues under it, so a wake that
// follows a change of the word can never be lost.
type futexTable struct {
	mu      sync.Mutex
	waiters map[mm.FutexKey][]*futexWaiter
}

type futexWaiter struct {
	key    mm.FutexKey
	bitset uint32
	woken  chan struct{}
}

// FutexBitsetMatchAny is FUTEX_BITSET_MATCH_ANY.
const FutexBitsetMatchAny = 0xffffffff

func (k *Kernel) futexes() *futexTable {
	k.futexOnce.Do(func() { k.futex = &futexTable{waiters: map[mm.FutexKey][]*futexWaiter{}} })
	return k.futex
}

// FutexWait blocks while the word at addr holds val, until woken, the deadline, or a
// signal. It returns EAGAIN if the word differs, ETIMEDOUT, or EINTR.
func (t *Task) FutexWait(addr uintptr, private bool, val, bitset uint32, deadline time.Time) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return err
	}
	ft := t.k.futexes()
	ft.mu.Lock()
	cur, err := t.mm.Load32(addr)
	if err != nil {
		ft.mu.Unlock()
		return err
	}
	if cur != val {
		ft.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: key, bitset: bitset, woken: make(chan struct{})}
	ft.waiters[key] = append(ft.waiters[key], w)
	ft.mu.Unlock()

	ok, interrupted := t.Block(w.woken, deadline)
	if ok {
		return nil
	}
	// Dequeue, unless a wake raced with the timeout or signal: then it counts as woken.
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if !ft.removeLocked(w) {
		return nil
	}
	if interrupted {
		return unix.EINTR
	}
	return unix.ETIMEDOUT
}

// removeLocked removes w from its queue and reports whether it was still queued.
func (ft *futexTable) removeLocked(w *futexWaiter) bool {
	q := ft.waiters[w.key]
	for i, o := range q {
		if o == w {
			q = append(q[:i:i], q[i+1:]...)
			if len(q) == 0 {
				delete(ft.waiters, w.key)
			} else {
				ft.waiters[w.key] = q
			}
			return true
		}
	}
	return false
}

// wakeLocked wakes up to n waiters on key whose bitset intersects bitset.
func (ft *futexTable) wakeLocked(key mm.FutexKey, n int, bitset uint32) int {
	q := ft.waiters[key]
	woken := 0
	kept := q[:0]
	for _, w := range q {
		if woken < n && w.bitset&bitset != 0 {
			close(w.woken)
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(ft.waiters, key)
	} else {
		ft.waiters[key] = kept
	}
	return woken
}

// FutexWake wakes up to n waiters on the word at addr.
func (t *Task) FutexWake(addr uintptr, private bool, n int, bitset uint32) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	ft := t.k.futexes()
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.wakeLocked(key, n, bitset), nil
}

// futexWake is the exit path's wake of a clear_child_tid word (a shared key, as Linux uses).
func (k *Kernel) futexWake(t *Task, addr uintptr, n int) {
	t.FutexWake(addr, false, n, FutexBitsetMatchAny)
	t.FutexWake(addr, true, n, FutexBitsetMatchAny)
}

// FutexRequeue wakes up to nWake waiters on addr and moves up to nRequeue others to addr2.
// With cmp, it first checks that the word at addr holds val (EAGAIN otherwise).
func (t *Task) FutexRequeue(addr, addr2 uintptr, private bool, nWake, nRequeue int, cmp bool, val uint32) (int, error) {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.mm.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	ft := t.k.futexes()
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if cmp {
		cur, err := t.mm.Load32(addr)
		if err != nil {
			return 0, err
		}
		if cur != val {
			return 0, unix.EAGAIN
		}
	}
	woken := ft.wakeLocked(key, nWake, FutexBitsetMatchAny)
	moved := 0
	q := ft.waiters[key]
	for len(q) > 0 && moved < nRequeue {
		w := q[0]
		q = q[1:]
		w.key = key2
		ft.waiters[key2] = append(ft.waiters[key2], w)
		moved++
	}
	if len(q) == 0 {
		delete(ft.waiters, key)
	} else {
		ft.waiters[key] = q
	}
	return woken + moved, nil
}

// FutexWakeOp implements FUTEX_WAKE_OP: atomically apply op to the word at addr2, wake up
// to n waiters on addr, and, if the old value of addr2 satisfies the comparison, up to
// n2 waiters on addr2.
func (t *Task) FutexWakeOp(addr, addr2 uintptr, private bool, n, n2 int, op uint32) (int, error) {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.mm.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	kind, cmpKind := (op>>28)&7, (op>>24)&15
	oparg, cmparg := (op>>12)&0xfff, op&0xfff
	if op>>31 != 0 { // FUTEX_OP_OPARG_SHIFT
		if oparg > 31 {
			return 0, unix.EINVAL
		}
		oparg = 1 << oparg
	}
	if kind > 4 || cmpKind > 5 {
		return 0, unix.ENOSYS
	}
	ft := t.k.futexes()
	ft.mu.Lock()
	defer ft.mu.Unlock()
	old, err := t.mm.Update32(addr2, func(v uint32) uint32 {
		switch kind {
		case 0:
			return oparg
		case 1:
			return v + oparg
		case 2:
			return v | oparg
		case 3:
			return v &^ oparg
		}
		return v ^ oparg
	})
	if err != nil {
		return 0, err
	}
	woken := ft.wakeLocked(key, n, FutexBitsetMatchAny)
	// The comparison sign-extends the 12-bit argument, as Linux does.
	o, c := int32(old), int32(cmparg<<20)>>20
	var hit bool
	switch cmpKind {
	case 0:
		hit = o == c
	case 1:
		hit = o != c
	case 2:
		hit = o < c
	case 3:
		hit = o <= c
	case 4:
		hit = o > c
	case 5:
		hit = o >= c
	}
	if hit {
		woken += ft.wakeLocked(key2, n2, FutexBitsetMatchAny)
	}
	return woken, nil
}

// Robust futex word bits.
const (
	futexWaiters    = 0x80000000
	futexOwnerDied  = 0x40000000
	futexTIDMask    = 0x3fffffff
	robustListLimit = 2048
)

// exitRobustList marks the futexes the exiting thread still holds as owner-died and wakes
// one waiter of each, as Linux's exit_robust_list does.
func (t *Task) exitRobustList() {
	head, _ := t.RobustList()
	if head == 0 {
		return
	}
	next, err := t.CopyInUint64(head)
	if err != nil {
		return
	}
	offset, err := t.CopyInUint64(head + 8)
	if err != nil {
		return
	}
	pending, _ := t.CopyInUint64(head + 16)
	handle := func(entry uint64) {
		addr := uintptr(entry&^1) + uintptr(int64(offset))
		var wake bool
		_, err := t.mm.Update32(addr, func(v uint32) uint32 {
			if v&futexTIDMask != uint32(t.tid) {
				wake = false
				return v
			}
			wake = v&futexWaiters != 0
			return v&futexWaiters | futexOwnerDied
		})
		if err == nil && wake {
			t.FutexWake(addr, false, 1, FutexBitsetMatchAny)
		}
	}
	for i := 0; next != uint64(head) && next != 0 && i < robustListLimit; i++ {
		n, err := t.CopyInUint64(uintptr(next))
		if err != nil {
			break
		}
		if next != pending {
			handle(next)
		}
		next = n
	}
	if pending != 0 {
		handle(pending)
	}
}

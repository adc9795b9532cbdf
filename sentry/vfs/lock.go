package vfs

import (
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// File locks, as Linux keeps them: per inode, advisory.
//
//   - POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK) belong to an fd table (Linux's
//     files_struct): they are not inherited by fork, and every lock a table holds on an
//     inode goes when any of its descriptors for that inode is closed.
//   - Open file description locks (F_OFD_*) belong to a FileDescription: shared by dup
//     and fork, released with the description's last reference. They conflict with
//     POSIX locks.
//   - flock(2) locks belong to a FileDescription too, and are a separate world.
//
// A blocking POSIX request that would wait for a lock whose owner is (transitively)
// waiting for the requester fails with EDEADLK, as Linux's posix_locks_deadlock does (at
// most 10 hops).
//
// Lock order: locks.mu is a leaf: it is never held while calling into a filesystem,
// and waiters block on channels after releasing it.

// LockType is a lock's kind.
type LockType int

// Lock types (F_RDLCK, F_WRLCK, F_UNLCK values).
const (
	ReadLock  LockType = unix.F_RDLCK
	WriteLock LockType = unix.F_WRLCK
	Unlock    LockType = unix.F_UNLCK
)

// LockRange is [Start, End) in bytes; End is math.MaxInt64 for "to the end of file
// and beyond".
type LockRange struct {
	Start, End int64
}

func (r LockRange) overlaps(o LockRange) bool { return r.Start < o.End && o.Start < r.End }

// lock is one held record lock.
type lock struct {
	owner any
	pid   int32 // the locker's PID for F_GETLK (-1 for OFD locks)
	typ   LockType
	r     LockRange
	ofd   bool
}

// inodeLocks are the locks of one inode.
type inodeLocks struct {
	records []lock
	flocks  map[*FileDescription]LockType
	// changed is closed (and replaced) whenever a lock is released or downgraded, waking
	// the waiters, which look again.
	changed chan struct{}
}

var locks struct {
	mu    sync.Mutex
	m     map[Inode]*inodeLocks
	count atomic.Int64 // inodes with locks; close's fast path skips the table when 0
	// blockedOn maps a waiting POSIX owner to the owner it waits for.
	blockedOn map[any]any
}

func inodeLocksLocked(in Inode, create bool) *inodeLocks {
	l := locks.m[in]
	if l == nil && create {
		if locks.m == nil {
			locks.m = make(map[Inode]*inodeLocks)
			locks.blockedOn = make(map[any]any)
		}
		l = &inodeLocks{changed: make(chan struct{})}
		locks.m[in] = l
		locks.count.Add(1)
	}
	return l
}

// wakeLocked wakes the inode's waiters and forgets the inode if it has no locks left.
func (l *inodeLocks) wakeLocked(in Inode) {
	close(l.changed)
	l.changed = make(chan struct{})
	if len(l.records) == 0 && len(l.flocks) == 0 {
		delete(locks.m, in)
		locks.count.Add(-1)
	}
}

func conflicts(a, b LockType) bool { return a == WriteLock || b == WriteLock }

// conflictLocked returns the first lock of another owner that conflicts with a lock of
// typ over r.
func (l *inodeLocks) conflictLocked(owner any, typ LockType, r LockRange) *lock {
	for i := range l.records {
		x := &l.records[i]
		if x.owner != owner && x.r.overlaps(r) && conflicts(x.typ, typ) {
			return x
		}
	}
	return nil
}

// setLocked applies owner's lock (or unlock) of typ over r: the owner's existing locks
// over r are replaced, and neighbours of the same type merged.
func (l *inodeLocks) setLocked(owner any, pid int32, ofd bool, typ LockType, r LockRange) bool {
	released := false
	var out []lock
	for _, x := range l.records {
		if x.owner != owner || !x.r.overlaps(r) {
			out = append(out, x)
			continue
		}
		if typ == Unlock || x.typ != typ {
			released = released || x.typ == WriteLock || typ == Unlock
		}
		if x.r.Start < r.Start {
			y := x
			y.r.End = r.Start
			out = append(out, y)
		}
		if x.r.End > r.End {
			y := x
			y.r.Start = r.End
			out = append(out, y)
		}
	}
	if typ != Unlock {
		n := lock{owner: owner, pid: pid, typ: typ, r: r, ofd: ofd}
		// Merge with adjacent locks of the owner of the same type.
		var merged []lock
		for _, x := range out {
			if x.owner == owner && x.typ == typ && x.r.Start <= n.r.End && n.r.Start <= x.r.End {
				n.r.Start = min(n.r.Start, x.r.Start)
				n.r.End = max(n.r.End, x.r.End)
				continue
			}
			merged = append(merged, x)
		}
		out = append(merged, n)
	}
	l.records = out
	return released
}

// LockOwner identifies the owner of record locks: an FDTable (POSIX locks, with the
// locker's PID) or a FileDescription (OFD locks).
type LockOwner struct {
	Owner any
	PID   int32
	OFD   bool
}

// deadlockLocked reports whether owner waiting for blocker would close a cycle.
func deadlockLocked(owner, blocker any) bool {
	for i := 0; i < 10 && blocker != nil; i++ {
		if blocker == owner {
			return true
		}
		blocker = locks.blockedOn[blocker]
	}
	return false
}

// SetRecordLock implements F_SETLK and F_SETLKW (and the OFD forms) on in: it takes,
// changes or releases owner's lock of typ over r, waiting for conflicting locks to go
// if wait is set (EAGAIN otherwise; EDEADLK for a POSIX wait that would deadlock;
// ERESTARTSYS if a signal interrupts the wait).
func SetRecordLock(ctx Context, in Inode, o LockOwner, typ LockType, r LockRange, wait bool) error {
	for {
		locks.mu.Lock()
		l := inodeLocksLocked(in, typ != Unlock)
		if l == nil {
			locks.mu.Unlock()
			return nil
		}
		if typ != Unlock {
			if c := l.conflictLocked(o.Owner, typ, r); c != nil {
				if !wait {
					locks.mu.Unlock()
					return unix.EAGAIN
				}
				if !o.OFD && !c.ofd && deadlockLocked(o.Owner, c.owner) {
					locks.mu.Unlock()
					return unix.EDEADLK
				}
				if !o.OFD {
					locks.blockedOn[o.Owner] = c.owner
				}
				ch := l.changed
				locks.mu.Unlock()
				err := Wait(ctx, ch)
				if !o.OFD {
					locks.mu.Lock()
					delete(locks.blockedOn, o.Owner)
					locks.mu.Unlock()
				}
				if err != nil {
					return err
				}
				continue
			}
		}
		if l.setLocked(o.Owner, o.PID, o.OFD, typ, r) || typ == Unlock || len(l.records) == 0 {
			l.wakeLocked(in)
		}
		locks.mu.Unlock()
		return nil
	}
}

// TestRecordLock implements F_GETLK: the first lock that would conflict with owner's
// lock of typ over r, or ok false if there is none.
func TestRecordLock(in Inode, o LockOwner, typ LockType, r LockRange) (LockType, LockRange, int32, bool) {
	locks.mu.Lock()
	defer locks.mu.Unlock()
	l := inodeLocksLocked(in, false)
	if l == nil {
		return 0, LockRange{}, 0, false
	}
	c := l.conflictLocked(o.Owner, typ, r)
	if c == nil {
		return 0, LockRange{}, 0, false
	}
	pid := c.pid
	if c.ofd {
		pid = -1
	}
	return c.typ, c.r, pid, true
}

// releaseOwnerLocks drops every record lock owner holds on in.
func releaseOwnerLocks(in Inode, owner any) {
	if locks.count.Load() == 0 {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	l := inodeLocksLocked(in, false)
	if l == nil {
		return
	}
	if l.setLocked(owner, 0, false, Unlock, LockRange{0, math.MaxInt64}) {
		l.wakeLocked(in)
	}
}

// Flock implements flock(2) on fd: typ ReadLock (LOCK_SH), WriteLock (LOCK_EX) or
// Unlock (LOCK_UN). A conversion releases the old lock first, as Linux does.
func Flock(ctx Context, fd *FileDescription, typ LockType, wait bool) error {
	in := fd.Inode()
	for {
		locks.mu.Lock()
		l := inodeLocksLocked(in, typ != Unlock)
		if l == nil {
			locks.mu.Unlock()
			return nil
		}
		cur, held := l.flocks[fd]
		if typ == Unlock || (held && cur != typ) {
			delete(l.flocks, fd)
			l.wakeLocked(in)
			if typ == Unlock {
				locks.mu.Unlock()
				return nil
			}
			l = inodeLocksLocked(in, true)
		} else if held {
			locks.mu.Unlock()
			return nil
		}
		busy := false
		for other, t := range l.flocks {
			if other != fd && conflicts(t, typ) {
				busy = true
				break
			}
		}
		if !busy {
			if l.flocks == nil {
				l.flocks = make(map[*FileDescription]LockType)
			}
			l.flocks[fd] = typ
			locks.mu.Unlock()
			// The lock goes with the description's last reference.
			fd.AddReleaseHook(flockKey{}, func() { releaseDescriptionLocks(fd, in) })
			return nil
		}
		if !wait {
			locks.mu.Unlock()
			return unix.EWOULDBLOCK
		}
		ch := l.changed
		locks.mu.Unlock()
		if err := Wait(ctx, ch); err != nil {
			return err
		}
	}
}

type flockKey struct{}
type ofdKey struct{}

// releaseDescriptionLocks drops fd's flock and OFD locks (its last reference went).
func releaseDescriptionLocks(fd *FileDescription, in Inode) {
	locks.mu.Lock()
	defer locks.mu.Unlock()
	l := inodeLocksLocked(in, false)
	if l == nil {
		return
	}
	delete(l.flocks, fd)
	l.setLocked(fd, 0, true, Unlock, LockRange{0, math.MaxInt64})
	l.wakeLocked(in)
}

// NoteOFDLock makes fd release its OFD locks with its last reference (call after an
// OFD lock was taken).
func NoteOFDLock(fd *FileDescription) {
	in := fd.Inode()
	fd.AddReleaseHook(ofdKey{}, func() { releaseDescriptionLocks(fd, in) })
}

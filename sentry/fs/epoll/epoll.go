// Package epoll owns epoll instances (epoll(7)): the interest list of (file, fd) pairs,
// the ready list that the watched files' notifications fill, and epoll_wait's harvest
// with level-triggered, edge-triggered and one-shot semantics. An instance watches files
// weakly, as Linux does: closing the last descriptor of a file description removes it
// from every instance (a VFS release hook), and an instance is itself a file that can
// be polled and watched by another instance (loops and deep nesting are refused).
//
// Lock order: nestMu (adding an instance to an instance), then EventPoll.mu of the outer
// instance before an inner one's, then anything a watched file takes for Readiness and
// EventRegister; then EventPoll.readyMu (taken by notifications, under a watched file's
// wait-queue lock), then EventPoll.queue's lock.
package epoll

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Flags of epoll_event.events beyond the readiness bits.
const (
	EPOLLEXCLUSIVE = 1 << 28
	EPOLLWAKEUP    = 1 << 29
	EPOLLONESHOT   = 1 << 30
	EPOLLET        = 1 << 31

	// privateBits are what a fired one-shot entry keeps (EP_PRIVATE_BITS).
	privateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
	// exclusiveOK are the events EPOLLEXCLUSIVE may come with.
	exclusiveOK = uint32(vfs.EventIn|vfs.EventOut|vfs.EventErr|vfs.EventHUp) | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
)

// maxNests is EP_MAX_NESTS: the deepest chain of instances watching instances.
const maxNests = 4

// Event is an epoll_event.
type Event struct {
	Events uint32
	Data   uint64
}

// key identifies an interest: a file description and the descriptor it was added with.
type key struct {
	file *vfs.FileDescription
	fd   int32
}

// entry is one watched (file, fd).
type entry struct {
	ep     *EventPoll
	key    key
	events uint32 // the requested events and flags (ep.mu and ep.readyMu to change)
	data   uint64
	wait   vfs.WaitEntry

	// Ready list links, under ep.readyMu.
	ready      bool
	prev, next *entry
}

// NotifyEvent implements vfs.EventCallback: the watched file may have become ready.
func (e *entry) NotifyEvent(mask vfs.EventMask) {
	ep := e.ep
	ep.readyMu.Lock()
	if e.events&^privateBits == 0 || mask&vfs.EventMask(e.events) == 0 {
		// A fired one-shot entry, or events the entry does not want.
		ep.readyMu.Unlock()
		return
	}
	ep.pushLocked(e)
	ep.readyMu.Unlock()
	ep.queue.Notify(vfs.ReadableEvents)
}

// EventPoll is an epoll instance.
type EventPoll struct {
	vfs.NoFileOps
	queue vfs.WaitQueue // waiters on the instance itself (epoll_wait, poll, outer instances)

	mu       sync.Mutex
	interest map[key]*entry
	// watchers counts the instances that watch this one (for the nesting checks; under
	// nestMu).
	watchers map[*EventPoll]int

	readyMu    sync.Mutex
	head, tail *entry
}

// nestMu serializes adding instances to instances, so that two adds cannot make a loop.
var nestMu sync.Mutex

// New returns a new epoll instance's file description (O_RDWR, no O_LARGEFILE).
func New(ctx vfs.Context, v *vfs.VirtualFilesystem) *vfs.FileDescription {
	ep := &EventPoll{interest: make(map[key]*entry)}
	vd := v.NewAnonVirtualDentry(ctx, &vfs.AnonInode{Name: "eventpoll"})
	return vfs.NewAnonFileDescription(vd, ep, unix.O_RDWR, vfs.FileOptions{Stream: true})
}

// pushLocked appends e to the ready list unless it is there (readyMu held).
func (ep *EventPoll) pushLocked(e *entry) {
	if e.ready {
		return
	}
	e.ready = true
	e.prev, e.next = ep.tail, nil
	if ep.tail != nil {
		ep.tail.next = e
	} else {
		ep.head = e
	}
	ep.tail = e
}

// removeLocked takes e off the ready list if it is there (readyMu held).
func (ep *EventPoll) removeLocked(e *entry) {
	if !e.ready {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		ep.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		ep.tail = e.prev
	}
	e.prev, e.next, e.ready = nil, nil, false
}

// takeReady detaches the whole ready list.
func (ep *EventPoll) takeReady() []*entry {
	ep.readyMu.Lock()
	defer ep.readyMu.Unlock()
	var l []*entry
	for e := ep.head; e != nil; {
		next := e.next
		e.prev, e.next, e.ready = nil, nil, false
		l = append(l, e)
		e = next
	}
	ep.head, ep.tail = nil, nil
	return l
}

// asEventPoll returns the instance a file is, if it is one.
func asEventPoll(f *vfs.FileDescription) (*EventPoll, bool) {
	ep, ok := f.Impl().(*EventPoll)
	return ep, ok
}

// IsEventPoll reports whether f is an epoll instance.
func IsEventPoll(f *vfs.FileDescription) bool {
	_, ok := asEventPoll(f)
	return ok
}

// Add implements EPOLL_CTL_ADD of file (descriptor fd) with ev.
func (ep *EventPoll) Add(file *vfs.FileDescription, fd int32, ev Event) error {
	inner, nested := asEventPoll(file)
	k := key{file, fd}
	if nested {
		nestMu.Lock()
		defer nestMu.Unlock()
		ep.mu.Lock()
		_, exists := ep.interest[k]
		ep.mu.Unlock()
		if exists {
			return unix.EEXIST
		}
		// Without ep.mu: the walk may reach ep (a loop), and the instances watched
		// cannot change under nestMu.
		if inner.reaches(ep) || inner.depthBelow()+1+ep.depthAbove() > maxNests {
			return unix.ELOOP
		}
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if _, ok := ep.interest[k]; ok {
		return unix.EEXIST
	}
	e := &entry{ep: ep, key: k, events: ev.Events | uint32(vfs.EventErr|vfs.EventHUp), data: ev.Data}
	e.wait = vfs.WaitEntry{Mask: vfs.EventMask(e.events), Callback: e}
	if err := file.EventRegister(&e.wait); err != nil {
		return err
	}
	ep.interest[k] = e
	if nested {
		if inner.watchers == nil {
			inner.watchers = make(map[*EventPoll]int)
		}
		inner.watchers[ep]++
	}
	file.AddReleaseHook(e, func() { ep.forget(e) })
	if file.Readiness(vfs.EventMask(e.events))&vfs.EventMask(e.events) != 0 {
		ep.readyMu.Lock()
		ep.pushLocked(e)
		ep.readyMu.Unlock()
		ep.queue.Notify(vfs.ReadableEvents)
	}
	return nil
}

// Modify implements EPOLL_CTL_MOD.
func (ep *EventPoll) Modify(file *vfs.FileDescription, fd int32, ev Event) error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	e, ok := ep.interest[key{file, fd}]
	if !ok {
		return unix.ENOENT
	}
	if e.events&EPOLLEXCLUSIVE != 0 {
		return unix.EINVAL
	}
	events := ev.Events | uint32(vfs.EventErr|vfs.EventHUp)
	file.EventUnregister(&e.wait)
	ep.readyMu.Lock()
	e.events, e.data = events, ev.Data
	ep.readyMu.Unlock()
	e.wait.Mask = vfs.EventMask(events)
	file.EventRegister(&e.wait)
	if file.Readiness(vfs.EventMask(events))&vfs.EventMask(events) != 0 {
		ep.readyMu.Lock()
		ep.pushLocked(e)
		ep.readyMu.Unlock()
		ep.queue.Notify(vfs.ReadableEvents)
	}
	return nil
}

// Delete implements EPOLL_CTL_DEL.
func (ep *EventPoll) Delete(file *vfs.FileDescription, fd int32) error {
	inner, nested := asEventPoll(file)
	if nested {
		nestMu.Lock()
		defer nestMu.Unlock()
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	e, ok := ep.interest[key{file, fd}]
	if !ok {
		return unix.ENOENT
	}
	ep.removeEntryLocked(e)
	file.RemoveReleaseHook(e)
	if nested {
		if inner.watchers[ep]--; inner.watchers[ep] <= 0 {
			delete(inner.watchers, ep)
		}
	}
	return nil
}

// removeEntryLocked drops e from the interest and ready lists (ep.mu held).
func (ep *EventPoll) removeEntryLocked(e *entry) {
	delete(ep.interest, e.key)
	e.key.file.EventUnregister(&e.wait)
	ep.readyMu.Lock()
	ep.removeLocked(e)
	ep.readyMu.Unlock()
}

// forget is the release hook of a watched file: its last reference is going.
func (ep *EventPoll) forget(e *entry) {
	inner, nested := asEventPoll(e.key.file)
	if nested {
		nestMu.Lock()
		defer nestMu.Unlock()
	}
	ep.mu.Lock()
	if ep.interest[e.key] == e {
		ep.removeEntryLocked(e)
		if nested {
			if inner.watchers[ep]--; inner.watchers[ep] <= 0 {
				delete(inner.watchers, ep)
			}
		}
	}
	ep.mu.Unlock()
}

// reaches reports whether target is ep or is watched, directly or through other
// instances, by ep (nestMu held).
func (ep *EventPoll) reaches(target *EventPoll) bool {
	if ep == target {
		return true
	}
	for _, c := range ep.children() {
		if c.reaches(target) {
			return true
		}
	}
	return false
}

// children returns the instances ep watches (nestMu held: the set cannot change).
func (ep *EventPoll) children() []*EventPoll {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var cs []*EventPoll
	for k := range ep.interest {
		if c, ok := asEventPoll(k.file); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// depthBelow is the longest chain of instances under ep (0 when it watches none).
func (ep *EventPoll) depthBelow() int {
	d := 0
	for _, c := range ep.children() {
		d = max(d, 1+c.depthBelow())
	}
	return d
}

// depthAbove is the longest chain of instances watching ep (nestMu held).
func (ep *EventPoll) depthAbove() int {
	d := 0
	for w := range ep.watchers {
		d = max(d, 1+w.depthAbove())
	}
	return d
}

// Release implements vfs.FileImpl.Release: the instance stops watching everything.
func (ep *EventPoll) Release() {
	nestMu.Lock()
	defer nestMu.Unlock()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, e := range ep.interest {
		ep.removeEntryLocked(e)
		e.key.file.RemoveReleaseHook(e)
		if inner, ok := asEventPoll(e.key.file); ok {
			delete(inner.watchers, ep)
		}
	}
}

// Read implements vfs.FileImpl.Read: an instance cannot be read.
func (ep *EventPoll) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	if off >= 0 {
		return 0, unix.ESPIPE
	}
	return 0, unix.EINVAL
}

// Write implements vfs.FileImpl.Write: an instance cannot be written.
func (ep *EventPoll) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if off >= 0 {
		return 0, off, unix.ESPIPE
	}
	return 0, off, unix.EINVAL
}

// Seek implements vfs.FileImpl.Seek: lseek succeeds and changes nothing (noop_llseek).
func (ep *EventPoll) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return 0, nil
}

// Readiness implements vfs.Waitable: readable when some ready entry has events.
func (ep *EventPoll) Readiness(mask vfs.EventMask) vfs.EventMask {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ready := ep.takeReady()
	found := false
	var keep []*entry
	for _, e := range ready {
		if found {
			keep = append(keep, e)
			continue
		}
		want := vfs.EventMask(e.events &^ privateBits)
		if e.key.file.Readiness(want)&want != 0 {
			found = true
			keep = append(keep, e)
		}
	}
	ep.readyMu.Lock()
	// Entries notified meanwhile were pushed; put those kept back in front, in order.
	for i := len(keep) - 1; i >= 0; i-- {
		ep.pushFrontLocked(keep[i])
	}
	ep.readyMu.Unlock()
	if found {
		return vfs.ReadableEvents
	}
	return 0
}

// pushFrontLocked puts e at the head of the ready list unless it is on it (readyMu
// held).
func (ep *EventPoll) pushFrontLocked(e *entry) {
	if e.ready {
		return
	}
	e.ready = true
	e.prev, e.next = nil, ep.head
	if ep.head != nil {
		ep.head.prev = e
	} else {
		ep.tail = e
	}
	ep.head = e
}

// EventRegister implements vfs.Waitable.
func (ep *EventPoll) EventRegister(e *vfs.WaitEntry) error {
	ep.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (ep *EventPoll) EventUnregister(e *vfs.WaitEntry) { ep.queue.EventUnregister(e) }

// harvest collects up to max ready events: level-triggered entries stay ready (at the
// back of the list), edge-triggered ones leave it, one-shot ones are disabled.
func (ep *EventPoll) harvest(max int) []Event {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ready := ep.takeReady()
	var out []Event
	var requeue, rest []*entry
	for i, e := range ready {
		if len(out) >= max {
			rest = ready[i:]
			break
		}
		want := vfs.EventMask(e.events &^ privateBits)
		if want == 0 {
			continue // a fired one-shot entry
		}
		revents := e.key.file.Readiness(want) & want
		if revents == 0 {
			continue
		}
		out = append(out, Event{Events: uint32(revents), Data: e.data})
		switch {
		case e.events&EPOLLONESHOT != 0:
			ep.readyMu.Lock()
			e.events &= privateBits
			ep.readyMu.Unlock()
		case e.events&EPOLLET == 0:
			requeue = append(requeue, e)
		}
	}
	ep.readyMu.Lock()
	for i := len(rest) - 1; i >= 0; i-- {
		ep.pushFrontLocked(rest[i])
	}
	for _, e := range requeue {
		ep.pushLocked(e)
	}
	ep.readyMu.Unlock()
	return out
}

// Wait implements epoll_wait: it waits until events are ready, the deadline passes
// (zero deadline: forever) or, with poll set, not at all. It returns EINTR when a signal
// interrupts the wait.
func (ep *EventPoll) Wait(ctx vfs.Context, max int, deadline time.Time, poll bool) ([]Event, error) {
	if evs := ep.harvest(max); len(evs) > 0 || poll {
		return evs, nil
	}
	w, ch := vfs.NewChannelEntry(vfs.ReadableEvents)
	ep.queue.EventRegister(w)
	defer ep.queue.EventUnregister(w)
	for {
		if evs := ep.harvest(max); len(evs) > 0 {
			return evs, nil
		}
		b, ok := ctx.(vfs.Blocker)
		if !ok {
			<-ch
			continue
		}
		fired, interrupted := b.Block(ch, deadline)
		if interrupted {
			return nil, unix.EINTR
		}
		if !fired {
			// Timed out: one last look, as Linux does.
			return ep.harvest(max), nil
		}
	}
}

// Ctl validates an epoll_ctl of file with op and ev as Linux does after the descriptors
// were found, then applies it. The caller has checked that the instance's file is not
// file itself.
func (ep *EventPoll) Ctl(op int, file *vfs.FileDescription, fd int32, ev Event) error {
	if op != unix.EPOLL_CTL_DEL {
		if ev.Events&EPOLLEXCLUSIVE != 0 {
			if op == unix.EPOLL_CTL_MOD {
				return unix.EINVAL
			}
			if op == unix.EPOLL_CTL_ADD && (IsEventPoll(file) || ev.Events&^exclusiveOK != 0) {
				return unix.EINVAL
			}
		}
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		return ep.Add(file, fd, ev)
	case unix.EPOLL_CTL_MOD:
		return ep.Modify(file, fd, ev)
	case unix.EPOLL_CTL_DEL:
		return ep.Delete(file, fd)
	}
	return unix.EINVAL
}

// FromFile returns the instance a file description is (EINVAL if it is not one).
func FromFile(f *vfs.FileDescription) (*EventPoll, error) {
	ep, ok := asEventPoll(f)
	if !ok {
		return nil, unix.EINVAL
	}
	return ep, nil
}

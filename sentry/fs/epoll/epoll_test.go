package epoll

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/fs/eventfd"
	"runsc.dev/sentry/fs/pipe"
	"runsc.dev/sentry/vfs"
)

type ctx struct {
	*vfs.KernelContext
	intr chan struct{}
}

func (c *ctx) Block(ch <-chan struct{}, deadline time.Time) (bool, bool) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-ch:
		return true, false
	case <-c.intr:
		return false, true
	case <-timeout:
		return false, false
	}
}

func newCtx() *ctx { return &ctx{KernelContext: vfs.NewKernelContext(), intr: make(chan struct{})} }

type env struct {
	v *vfs.VirtualFilesystem
	c *ctx
}

func newEnv() *env { return &env{v: vfs.New(), c: newCtx()} }

func (e *env) pipe() (r, w *vfs.FileDescription) { return pipe.NewPipe(e.c, e.v, unix.O_NONBLOCK) }

func (e *env) epoll(t *testing.T) (*vfs.FileDescription, *EventPoll) {
	f := New(e.c, e.v)
	ep, err := FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, ep
}

func poll(t *testing.T, ep *EventPoll) []Event {
	t.Helper()
	evs, err := ep.Wait(newCtx(), 16, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func write(c vfs.Context, f *vfs.FileDescription, s string) {
	f.Write(c, [][]byte{[]byte(s)})
}

func TestLevelEdgeOneshot(t *testing.T) {
	e := newEnv()
	epf, ep := e.epoll(t)
	defer epf.DecRef()
	r1, w1 := e.pipe()
	r2, w2 := e.pipe()
	r3, w3 := e.pipe()
	for _, f := range []*vfs.FileDescription{r1, w1, r2, w2, r3, w3} {
		defer f.DecRef()
	}
	in := uint32(vfs.EventIn)
	if err := ep.Ctl(unix.EPOLL_CTL_ADD, r1, 3, Event{Events: in, Data: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Ctl(unix.EPOLL_CTL_ADD, r1, 3, Event{Events: in}); err != unix.EEXIST {
		t.Fatalf("second add: %v", err)
	}
	ep.Ctl(unix.EPOLL_CTL_ADD, r2, 4, Event{Events: in | EPOLLET, Data: 2})
	ep.Ctl(unix.EPOLL_CTL_ADD, r3, 5, Event{Events: in | EPOLLONESHOT, Data: 3})
	if evs := poll(t, ep); len(evs) != 0 {
		t.Fatalf("events on empty pipes: %v", evs)
	}
	write(e.c, w1, "a")
	write(e.c, w2, "b")
	write(e.c, w3, "c")
	evs := poll(t, ep)
	if len(evs) != 3 {
		t.Fatalf("events = %v", evs)
	}
	// Level-triggered only, now.
	evs = poll(t, ep)
	if len(evs) != 1 || evs[0].Data != 1 || evs[0].Events != in {
		t.Fatalf("second harvest = %v", evs)
	}
	// New data wakes the edge-triggered entry, not the fired one-shot one.
	write(e.c, w2, "b")
	write(e.c, w3, "c")
	evs = poll(t, ep)
	if len(evs) != 2 || evs[0].Data+evs[1].Data != 3 {
		t.Fatalf("after new data = %v", evs)
	}
	// MOD re-arms the one-shot entry.
	if err := ep.Ctl(unix.EPOLL_CTL_MOD, r3, 5, Event{Events: in | EPOLLONESHOT, Data: 30}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range poll(t, ep) {
		found = found || ev.Data == 30
	}
	if !found {
		t.Fatal("re-armed one-shot entry not reported")
	}
	if err := ep.Ctl(unix.EPOLL_CTL_DEL, r1, 3, Event{}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Ctl(unix.EPOLL_CTL_DEL, r1, 3, Event{}); err != unix.ENOENT {
		t.Fatalf("second delete: %v", err)
	}
	if err := ep.Ctl(unix.EPOLL_CTL_MOD, r1, 3, Event{}); err != unix.ENOENT {
		t.Fatalf("modify of deleted: %v", err)
	}
	// maxevents bounds a harvest; the rest stay for the next.
	ep.Ctl(unix.EPOLL_CTL_ADD, w1, 6, Event{Events: uint32(vfs.EventOut), Data: 6})
	ep.Ctl(unix.EPOLL_CTL_ADD, w2, 7, Event{Events: uint32(vfs.EventOut), Data: 7})
	evs, _ = ep.Wait(e.c, 1, time.Time{}, true)
	evs2, _ := ep.Wait(e.c, 1, time.Time{}, true)
	if len(evs) != 1 || len(evs2) != 1 || evs[0].Data == evs2[0].Data {
		t.Fatalf("one at a time: %v then %v", evs, evs2)
	}
}

func TestExclusiveRules(t *testing.T) {
	e := newEnv()
	epf, ep := e.epoll(t)
	defer epf.DecRef()
	r, w := e.pipe()
	defer r.DecRef()
	defer w.DecRef()
	if err := ep.Ctl(unix.EPOLL_CTL_ADD, r, 3, Event{Events: uint32(vfs.EventIn) | EPOLLEXCLUSIVE | EPOLLONESHOT}); err != unix.EINVAL {
		t.Fatalf("EXCLUSIVE|ONESHOT: %v", err)
	}
	if err := ep.Ctl(unix.EPOLL_CTL_ADD, r, 3, Event{Events: uint32(vfs.EventIn) | EPOLLEXCLUSIVE}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Ctl(unix.EPOLL_CTL_MOD, r, 3, Event{Events: uint32(vfs.EventIn)}); err != unix.EINVAL {
		t.Fatalf("MOD of an exclusive entry: %v", err)
	}
	if err := ep.Ctl(99, r, 3, Event{}); err != unix.EINVAL {
		t.Fatalf("bad op: %v", err)
	}
}

func TestCloseRemoves(t *testing.T) {
	e := newEnv()
	epf, ep := e.epoll(t)
	defer epf.DecRef()
	r, w := e.pipe()
	ep.Ctl(unix.EPOLL_CTL_ADD, r, 3, Event{Events: uint32(vfs.EventIn)})
	write(e.c, w, "x")
	r.DecRef() // the last reference: the entry goes
	if evs := poll(t, ep); len(evs) != 0 {
		t.Fatalf("events from a closed file: %v", evs)
	}
	ep.mu.Lock()
	n := len(ep.interest)
	ep.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left", n)
	}
	// Watching a write end does not keep it open: the reader sees EOF.
	r2, w2 := e.pipe()
	ep.Ctl(unix.EPOLL_CTL_ADD, w2, 4, Event{Events: uint32(vfs.EventOut)})
	w2.DecRef()
	if got := r2.Readiness(vfs.AllEvents); got&vfs.EventHUp == 0 {
		t.Fatalf("reader readiness %#x, want POLLHUP", got)
	}
	r2.DecRef()
	w.DecRef()
}

func TestBlockingWait(t *testing.T) {
	e := newEnv()
	epf, ep := e.epoll(t)
	defer epf.DecRef()
	efd := eventfd.New(e.c, e.v, 0, 0)
	defer efd.DecRef()
	ep.Ctl(unix.EPOLL_CTL_ADD, efd, 3, Event{Events: uint32(vfs.EventIn), Data: 9})
	done := make(chan []Event)
	go func() {
		evs, err := ep.Wait(newCtx(), 4, time.Time{}, false)
		if err != nil {
			t.Error(err)
		}
		done <- evs
	}()
	time.Sleep(10 * time.Millisecond)
	efd.Impl().(*eventfd.File).Signal(1)
	if evs := <-done; len(evs) != 1 || evs[0].Data != 9 {
		t.Fatalf("woken with %v", evs)
	}
	efd.Read(e.c, [][]byte{make([]byte, 8)})

	start := time.Now()
	evs, err := ep.Wait(newCtx(), 4, time.Now().Add(30*time.Millisecond), false)
	if len(evs) != 0 || err != nil || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("timed wait = %v, %v after %v", evs, err, time.Since(start))
	}
	c := newCtx()
	errc := make(chan error)
	go func() {
		_, err := ep.Wait(c, 4, time.Time{}, false)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	close(c.intr)
	if err := <-errc; err != unix.EINTR {
		t.Fatalf("interrupted wait: %v", err)
	}
}

func TestNesting(t *testing.T) {
	e := newEnv()
	outerF, outer := e.epoll(t)
	defer outerF.DecRef()
	innerF, inner := e.epoll(t)
	defer innerF.DecRef()
	r, w := e.pipe()
	defer r.DecRef()
	defer w.DecRef()
	inner.Ctl(unix.EPOLL_CTL_ADD, r, 3, Event{Events: uint32(vfs.EventIn)})
	if err := outer.Ctl(unix.EPOLL_CTL_ADD, innerF, 4, Event{Events: uint32(vfs.EventIn), Data: 4}); err != nil {
		t.Fatal(err)
	}
	if got := innerF.Readiness(vfs.AllEvents); got != 0 {
		t.Fatalf("idle inner readiness %#x", got)
	}
	write(e.c, w, "x")
	if got := innerF.Readiness(vfs.AllEvents); got != vfs.ReadableEvents {
		t.Fatalf("inner readiness %#x", got)
	}
	if evs := poll(t, outer); len(evs) != 1 || evs[0].Data != 4 {
		t.Fatalf("outer events %v", evs)
	}
	// Loops are refused.
	if err := inner.Ctl(unix.EPOLL_CTL_ADD, outerF, 5, Event{Events: uint32(vfs.EventIn)}); err != unix.ELOOP {
		t.Fatalf("loop: %v", err)
	}
	// So are chains deeper than maxNests: e0 watches e1 ... watches e(maxNests).
	fs := make([]*vfs.FileDescription, maxNests+2)
	eps := make([]*EventPoll, maxNests+2)
	for i := range fs {
		fs[i], eps[i] = e.epoll(t)
		defer fs[i].DecRef()
	}
	for i := 0; i < maxNests; i++ {
		if err := eps[i].Ctl(unix.EPOLL_CTL_ADD, fs[i+1], 1, Event{Events: uint32(vfs.EventIn)}); err != nil {
			t.Fatalf("nest %d: %v", i, err)
		}
	}
	if err := eps[maxNests].Ctl(unix.EPOLL_CTL_ADD, fs[maxNests+1], 1, Event{Events: uint32(vfs.EventIn)}); err != unix.ELOOP {
		t.Fatalf("nest %d: %v, want ELOOP", maxNests, err)
	}
}

func TestConcurrent(t *testing.T) {
	e := newEnv()
	epf, ep := e.epoll(t)
	defer epf.DecRef()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCtx()
			for j := range 200 {
				r, w := pipe.NewPipe(c, e.v, unix.O_NONBLOCK)
				ep.Ctl(unix.EPOLL_CTL_ADD, r, int32(i), Event{Events: uint32(vfs.EventIn) | EPOLLET})
				write(c, w, "x")
				if j%2 == 0 {
					ep.Ctl(unix.EPOLL_CTL_DEL, r, int32(i), Event{})
				}
				w.DecRef()
				r.DecRef()
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				ep.Wait(newCtx(), 8, time.Now().Add(time.Millisecond), false)
			}
		}
	}()
	wg.Wait()
	close(stop)
	ep.mu.Lock()
	n := len(ep.interest)
	ep.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left after every file closed", n)
	}
}

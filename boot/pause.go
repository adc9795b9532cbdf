package boot

import (
	"sync"
	"sync/atomic"
	"time"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

// pausable wraps the platform so that the controller can pause the whole sandbox (runsc
// pause, like the freezer cgroup for runc): while paused, no application code runs.
// Every Switch into application code passes a gate; Pause closes the gate and interrupts
// the contexts that are running application code, and returns once none is. Tasks
// blocked inside the sentry (in a syscall) stay blocked and stop at the gate when they
// return to the application. An Interrupt (a signal, SIGKILL) lets a waiting task go
// round the task loop, so that a paused sandbox can still be killed.
//
// Lock order: pausable.mu is a leaf.
type pausable struct {
	platform.Platform

	mu       sync.Mutex
	last     *pausableContext // the context created last
	paused   bool
	resumed  chan struct{} // closed by Resume; nil when not paused
	inSwitch int           // contexts inside the inner Switch
	ctxs     map[*pausableContext]struct{}
}

func newPausable(p platform.Platform) *pausable {
	return &pausable{Platform: p, ctxs: map[*pausableContext]struct{}{}}
}

type pausableContext struct {
	platform.Context
	p    *pausable
	kick chan struct{}
	// For settle: how many times the thread ran application code, whether it runs it
	// now, and when it last stopped (Unix nanoseconds).
	switches atomic.Uint64
	inside   atomic.Bool
	left     atomic.Int64
}

// NewContext implements platform.Platform.
func (p *pausable) NewContext() (platform.Context, error) {
	c, err := p.Platform.NewContext()
	if err != nil {
		return nil, err
	}
	pc := &pausableContext{Context: c, p: p, kick: make(chan struct{}, 1)}
	p.mu.Lock()
	p.ctxs[pc] = struct{}{}
	p.last = pc
	p.mu.Unlock()
	return pc, nil
}

// lastContext returns the context created last (that of the process just created).
func (p *pausable) lastContext() *pausableContext {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// settled reports whether the thread has run application code and has been out of it
// (in the sentry: blocked in a system call, most likely) for at least d.
func (c *pausableContext) settled(d time.Duration) bool {
	return c.switches.Load() > 0 && !c.inside.Load() && time.Now().UnixNano()-c.left.Load() >= int64(d)
}

// Switch implements platform.Context: it waits at the gate while the sandbox is paused.
func (c *pausableContext) Switch(as platform.AddressSpace, ac *arch.Context) (platform.Trap, error) {
	p := c.p
	p.mu.Lock()
	for p.paused {
		ch := p.resumed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-c.kick:
			return platform.Trap{Kind: platform.TrapInterrupted}, nil
		}
		p.mu.Lock()
	}
	p.inSwitch++
	p.mu.Unlock()
	c.inside.Store(true)
	trap, err := c.Context.Switch(as, ac)
	c.left.Store(time.Now().UnixNano())
	c.inside.Store(false)
	c.switches.Add(1)
	p.mu.Lock()
	p.inSwitch--
	p.mu.Unlock()
	return trap, err
}

// Interrupt implements platform.Context.
func (c *pausableContext) Interrupt() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.Context.Interrupt()
}

// Release implements platform.Context.
func (c *pausableContext) Release() {
	c.p.mu.Lock()
	delete(c.p.ctxs, c)
	c.p.mu.Unlock()
	c.Context.Release()
}

// Pause stops application code from running; it returns when no context runs it (or
// after a bound, should a context not come back from an interrupt).
func (p *pausable) Pause() {
	p.mu.Lock()
	if p.paused {
		p.mu.Unlock()
		return
	}
	p.paused = true
	p.resumed = make(chan struct{})
	for c := range p.ctxs {
		c.Context.Interrupt()
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.inSwitch > 0 && time.Now().Before(deadline) {
		// Poll the count while the interrupted contexts come back.
		p.mu.Unlock()
		time.Sleep(time.Millisecond)
		p.mu.Lock()
		for c := range p.ctxs {
			c.Context.Interrupt()
		}
	}
	p.mu.Unlock()
}

// Resume lets application code run again.
func (p *pausable) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		return
	}
	p.paused = false
	close(p.resumed)
	p.resumed = nil
}

// Paused reports whether the sandbox is paused.
func (p *pausable) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

package kernel

// What the sandbox's controller (boot) needs to supervise processes it did not fork:
// waiting for a thread group it created with CreateProcess (exec into a container,
// startContainer hooks, a subcontainer's init), which has no parent to reap it.

// ExitedCh returns a channel that is closed when every thread of the group has exited.
func (tg *ThreadGroup) ExitedCh() <-chan struct{} { return tg.exited }

// WaitExited blocks until the group has exited and returns its wait status.
func (tg *ThreadGroup) WaitExited() WaitStatus {
	<-tg.exited
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exitStatus
}

// HasExited reports whether the group has exited, without blocking.
func (tg *ThreadGroup) HasExited() bool {
	select {
	case <-tg.exited:
		return true
	default:
		return false
	}
}

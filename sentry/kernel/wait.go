package kernel

import (
	"golang.org/x/sys/unix"
)

// WaitOptions select which children a wait reports.
type WaitOptions struct {
	// Which: P_ALL (0), P_PID (1), P_PGID (2); ID is the pid or pgid.
	Which int
	ID    int32
	// Exited, Stopped, Continued: the state changes to report (WEXITED, WUNTRACED/WSTOPPED, WCONTINUED).
	Exited, Stopped, Continued bool
	NoHang, NoWait             bool
	// Clone and All: __WCLONE / __WALL select children by their exit signal.
	Clone, All bool
}

// Idtypes of waitid.
const (
	PAll  = 0
	PPID  = 1
	PPGID = 2
)

// WaitResult is a reported child.
type WaitResult struct {
	PID    int32
	UID    uint32
	Status WaitStatus
	Code   int32 // CLD_*
	// Usage is the CPU time of an exited child and its reaped descendants (wait4's rusage).
	Usage Usage
}

// Wait waits for a child state change as wait4/waitid do. With NoHang and nothing to
// report it returns (nil, nil). ECHILD if no child matches.
func (t *Task) Wait(o WaitOptions) (*WaitResult, error) {
	k := t.k
	tg := t.tg
	for {
		k.mu.Lock()
		tg.mu.Lock()
		ch := tg.childCh
		tg.mu.Unlock()
		matched := false
		for c := range tg.children {
			if !o.matches(c) {
				continue
			}
			matched = true
			if c.zombie && o.Exited {
				r := &WaitResult{PID: c.pid, Status: c.exitStatus, Code: childCode(c.exitStatus), Usage: c.reapedUsage()}
				if !o.NoWait {
					delete(tg.children, c)
					delete(k.groups, c.pid)
					tg.addReapedChild(r.Usage)
				}
				k.mu.Unlock()
				return r, nil
			}
			if r := o.waitJobControl(c); r != nil {
				k.mu.Unlock()
				return r, nil
			}
		}
		k.mu.Unlock()
		if !matched {
			return nil, unix.ECHILD
		}
		if o.NoHang {
			return nil, nil
		}
		if _, interrupted := t.Block(ch, zeroTime); interrupted {
			return nil, ERESTARTSYS
		}
	}
}

func (o *WaitOptions) matches(c *ThreadGroup) bool {
	switch o.Which {
	case PPID:
		if c.pid != o.ID {
			return false
		}
	case PPGID:
		c.mu.Lock()
		pg := c.pgid
		c.mu.Unlock()
		if pg != o.ID {
			return false
		}
	}
	if o.All {
		return true
	}
	// A "clone" child is one that does not send SIGCHLD at exit.
	isClone := c.exitSignal != int(unix.SIGCHLD)
	return isClone == o.Clone
}

// ProcessGroup returns the group's process group and session IDs.
func (tg *ThreadGroup) ProcessGroup() (pgid, sid int32) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.pgid, tg.sid
}

// SetProcessGroup implements setpgid for target (a child of, or equal to, the caller).
func (t *Task) SetProcessGroup(pid, pgid int32) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	target := t.tg
	if pid != 0 && pid != t.tg.pid {
		target = k.groups[pid]
		if target == nil || target.zombie || (target.parent != t.tg) {
			return unix.ESRCH
		}
		target.mu.Lock()
		execed := target.didExec
		target.mu.Unlock()
		if execed {
			return unix.EACCES
		}
	}
	if pgid == 0 {
		pgid = target.pid
	}
	_, mySid := t.tg.ProcessGroup()
	tpg, tsid := target.ProcessGroup()
	_ = tpg
	if tsid != mySid {
		return unix.EPERM
	}
	if target.pid == tsid {
		return unix.EPERM // a session leader cannot move
	}
	if pgid != target.pid {
		// The group must exist in the same session.
		found := false
		for _, g := range k.groups {
			gpg, gsid := g.ProcessGroup()
			if gpg == pgid && gsid == mySid && !g.zombie {
				found = true
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	target.mu.Lock()
	target.pgid = pgid
	target.mu.Unlock()
	return nil
}

// SetSession implements setsid.
func (t *Task) SetSession() (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	for _, g := range k.groups {
		if pg, _ := g.ProcessGroup(); pg == tg.pid && !g.zombie {
			return 0, unix.EPERM
		}
	}
	tg.mu.Lock()
	tg.pgid, tg.sid = tg.pid, tg.pid
	tg.mu.Unlock()
	return tg.pid, nil
}

// ThreadGroupByPID returns the live (non-zombie) process with that PID, or nil.
func (k *Kernel) ThreadGroupByPID(pid int32) *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	g := k.groups[pid]
	if g == nil || g.zombie {
		return nil
	}
	return g
}

// ThreadGroupOrZombie returns the process with the given PID, live or a zombie not yet
// reaped (which kill(2), getpgid and getsid still find, as on Linux).
func (k *Kernel) ThreadGroupOrZombie(pid int32) *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.groups[pid]
}

// ProcessGroupMembers returns the live processes of process group pgid.
func (k *Kernel) ProcessGroupMembers(pgid int32) []*ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*ThreadGroup
	for _, g := range k.groups {
		if pg, _ := g.ProcessGroup(); pg == pgid && !g.zombie {
			out = append(out, g)
		}
	}
	return out
}

// SetSubreaper sets PR_SET_CHILD_SUBREAPER.
func (tg *ThreadGroup) SetSubreaper(on bool) {
	tg.k.mu.Lock()
	tg.subreaper = on
	tg.k.mu.Unlock()
}

// Subreaper returns PR_GET_CHILD_SUBREAPER.
func (tg *ThreadGroup) Subreaper() bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.subreaper
}

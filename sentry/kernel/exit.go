package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

var zeroTime time.Time

// exitTask releases the task's resources and removes it from its thread group; the last
// thread turns the group into a zombie for its parent to reap.
func (t *Task) exitTask(status WaitStatus) {
	t.cpu.stopCPU()
	t.mu.Lock()
	ctid := t.clearChildTID
	t.clearChildTID = 0
	t.mu.Unlock()
	if ctid != 0 {
		// As Linux's mm_release: clear the TID and wake a futex waiter on it (pthread_join).
		if t.CopyOutUint32(ctid, 0) == nil {
			t.k.futexWake(t, ctid, 1)
		}
	}
	t.exitRobustList()
	t.releaseVfork()
	t.pctx.Release()
	if t.fdtUsers.n.Add(-1) == 0 {
		t.fdt.RemoveAll()
	}
	t.mm.DecUsers()
	t.tg.removeTask(t, status)
	t.tg.exitTimers()
}

// removeTask is called by an exiting task; the last one finishes the group: its children
// go to the reaper, its parent gets the exit signal, and it stays a zombie until reaped.
func (tg *ThreadGroup) removeTask(t *Task, status WaitStatus) {
	k := tg.k
	k.mu.Lock()
	delete(k.tasks, t.tid)
	tg.mu.Lock()
	for i, o := range tg.tasks {
		if o == t {
			tg.tasks = append(tg.tasks[:i], tg.tasks[i+1:]...)
			tg.addExitedTaskLocked(t)
			break
		}
	}
	last := len(tg.tasks) == 0
	jc := tg.jobControlTaskExitLocked(t)
	if last {
		if !tg.exiting {
			tg.exiting = true
			tg.exitStatus = status
		}
	} else if tg.leader == t {
		// The leader stays as a zombie thread until the others are gone; its TID stays
		// the group's PID.
	}
	tg.mu.Unlock()
	if !last {
		k.mu.Unlock()
		// An exec'ing thread waits for the others to go.
		tg.notifyChild()
		jc.send(tg)
		return
	}
	isInit := tg == k.init
	// Children go to the nearest subreaper ancestor, else the container's init.
	reaper := k.init
	for a := tg.parent; a != nil; a = a.parent {
		if a.subreaper && !a.zombie {
			reaper = a
			break
		}
	}
	var deathSigs []*ThreadGroup
	kids := make([]*ThreadGroup, 0, len(tg.children))
	for c := range tg.children {
		kids = append(kids, c)
		delete(tg.children, c)
		if !c.zombie && c.ParentDeathSignal() != 0 {
			deathSigs = append(deathSigs, c)
		}
		if isInit || reaper == nil {
			c.parent = nil
			if c.zombie {
				delete(k.groups, c.pid)
			}
			continue
		}
		c.parent = reaper
		reaper.children[c] = struct{}{}
		if c.zombie {
			reaper.notifyChild()
		}
	}
	tg.zombie = true
	parent := tg.parent
	hangUp := tg.orphanedByExitLocked(parent, kids)
	autoReap := parent == nil
	if parent != nil {
		parent.mu.Lock()
		act := parent.handlers.Actions[unix.SIGCHLD-1]
		// A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) never sees zombies.
		if act.Handler == SIG_IGN || act.Flags&SA_NOCLDWAIT != 0 {
			autoReap = true
		}
		parent.mu.Unlock()
	}
	if autoReap {
		if parent != nil {
			delete(parent.children, tg)
		}
		delete(k.groups, tg.pid)
	}
	var others []*ThreadGroup
	if isInit {
		// When a PID namespace's init dies, every other process in it is killed.
		for _, g := range k.groups {
			if g != tg {
				others = append(others, g)
			}
		}
	}
	k.mu.Unlock()

	close(tg.exited)
	if parent != nil {
		if tg.exitSignal != 0 {
			parent.SendSignal(&SignalInfo{
				Signo: int32(tg.exitSignal), Code: childCode(tg.exitStatus), PID: tg.pid,
				Status: childStatus(tg.exitStatus),
			})
		}
		parent.notifyChild()
	}
	for _, c := range deathSigs {
		c.SendSignal(&SignalInfo{Signo: int32(c.ParentDeathSignal()), Code: SI_USER, PID: tg.pid})
	}
	for _, g := range others {
		g.SendSignal(&SignalInfo{Signo: int32(unix.SIGKILL), Code: SI_KERNEL})
	}
	k.hangUpOrphaned(hangUp)
	k.liveTasks.Done()
}

// CLD_* si_code values.
const (
	cldExited    = 1
	cldKilled    = 2
	cldDumped    = 3
	cldTrapped   = 4
	cldStopped   = 5
	cldContinued = 6
)

func childCode(s WaitStatus) int32 {
	switch {
	case s.Exited():
		return cldExited
	case s&0x80 != 0:
		return cldDumped
	}
	return cldKilled
}

func childStatus(s WaitStatus) int32 {
	if s.Exited() {
		return int32(s.ExitCode())
	}
	return int32(s.Signal())
}

// notifyChild wakes the group's waiters.
func (tg *ThreadGroup) notifyChild() {
	tg.mu.Lock()
	tg.notifyChildLocked()
	tg.mu.Unlock()
}

func (tg *ThreadGroup) notifyChildLocked() {
	close(tg.childCh)
	tg.childCh = make(chan struct{})
}

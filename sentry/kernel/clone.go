package kernel

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/mm"
)

// Clone flags (linux/sched.h).
const (
	CloneVM            = 0x100
	CloneFS            = 0x200
	CloneFiles         = 0x400
	CloneSighand       = 0x800
	ClonePidfd         = 0x1000
	ClonePtrace        = 0x2000
	CloneVfork         = 0x4000
	CloneParent        = 0x8000
	CloneThread        = 0x10000
	CloneNewNS         = 0x20000
	CloneSysvsem       = 0x40000
	CloneSettls        = 0x80000
	CloneParentSettid  = 0x100000
	CloneChildCleartid = 0x200000
	CloneDetached      = 0x400000
	CloneUntraced      = 0x800000
	CloneChildSettid   = 0x1000000
	CloneNewCgroup     = 0x2000000
	CloneNewUTS        = 0x4000000
	CloneNewIPC        = 0x8000000
	CloneNewUser       = 0x10000000
	CloneNewPID        = 0x20000000
	CloneNewNet        = 0x40000000
	CloneIO            = 0x80000000
	CloneClearSighand  = 0x100000000
	CloneIntoCgroup    = 0x200000000

	cloneNamespaces = CloneNewNS | CloneNewCgroup | CloneNewUTS | CloneNewIPC | CloneNewUser | CloneNewPID | CloneNewNet
	cloneKnown      = 0xff | CloneVM | CloneFS | CloneFiles | CloneSighand | ClonePidfd | ClonePtrace |
		CloneVfork | CloneParent | CloneThread | CloneSysvsem | CloneSettls | CloneParentSettid |
		CloneChildCleartid | CloneDetached | CloneUntraced | CloneChildSettid | CloneIO | cloneNamespaces |
		CloneClearSighand | CloneIntoCgroup
)

// CloneOptions are clone(2)/clone3(2)'s arguments.
type CloneOptions struct {
	Flags      uint64
	ExitSignal int
	Stack      uintptr // 0: the child uses the parent's stack pointer
	TLS        uintptr
	ParentTID  uintptr
	ChildTID   uintptr
}

// sharedCount counts the tasks sharing an fd table or fs context.
type sharedCount struct{ n atomic.Int32 }

func newSharedCount() *sharedCount {
	c := &sharedCount{}
	c.n.Store(1)
	return c
}

// Clone creates a new task as clone(2) does and returns its TID in the caller's PID
// namespace.
func (t *Task) Clone(o CloneOptions) (int32, error) {
	f := o.Flags
	switch {
	case f&^cloneKnown != 0:
		return 0, unix.EINVAL
	case f&CloneThread != 0 && f&CloneSighand == 0,
		f&CloneSighand != 0 && f&CloneVM == 0,
		f&CloneFS != 0 && f&CloneNewNS != 0,
		f&CloneThread != 0 && f&CloneNewPID != 0,
		f&CloneSighand != 0 && f&CloneClearSighand != 0:
		return 0, unix.EINVAL
	case f&CloneThread != 0 && o.ExitSignal != 0:
		return 0, unix.EINVAL
	case o.ExitSignal < 0 || o.ExitSignal > NumSignals:
		return 0, unix.EINVAL
	case f&cloneNamespaces != 0:
		// Nested namespaces are not offered inside the sandbox yet.
		t.Unsupported("namespace flags")
		return 0, unix.EPERM
	case f&(ClonePidfd|CloneIntoCgroup) != 0:
		t.Unsupported("CLONE_PIDFD/CLONE_INTO_CGROUP")
		return 0, unix.EINVAL
	}
	if f&CloneParent != 0 && t.tg == t.k.initGroup() {
		return 0, unix.EINVAL
	}
	if t.overProcessLimit() {
		return 0, unix.EAGAIN
	}
	if !t.ac.FPValid {
		if err := t.pctx.PullFP(&t.ac); err != nil {
			return 0, unix.EAGAIN
		}
	}

	var m *mm.MemoryManager
	if f&CloneVM != 0 {
		t.mm.IncUsers()
		m = t.mm
	} else {
		var err error
		if m, err = t.mm.Fork(); err != nil {
			return 0, unix.ENOMEM
		}
	}
	pctx, err := t.k.platform.NewContext()
	if err != nil {
		m.DecUsers()
		return 0, unix.EAGAIN
	}

	child := &Task{k: t.k, pctx: pctx, mm: m, noNewPrivs: t.NoNewPrivs()}
	child.creds.Store(t.Credentials())
	child.name = t.Name()
	if f&CloneFiles != 0 {
		child.fdt, child.fdtUsers = t.fdt, t.fdtUsers
		child.fdtUsers.n.Add(1)
	} else {
		child.fdt, child.fdtUsers = t.fdt.Fork(), newSharedCount()
	}
	if f&CloneFS != 0 {
		child.fs = t.fs
	} else {
		child.fs = t.fs.Fork()
	}
	child.ac.Regs = t.ac.Regs
	child.ac.Regs.Rax = 0
	if o.Stack != 0 {
		child.ac.Regs.Rsp = uint64(o.Stack)
	}
	if f&CloneSettls != 0 {
		child.ac.Regs.FsBase = uint64(o.TLS)
	}
	t.inheritSched(child)
	child.ac.FP = append([]byte(nil), t.ac.FP...)
	child.ac.FPValid = true
	if f&CloneChildCleartid != 0 {
		child.clearChildTID = o.ChildTID
	}
	if f&CloneVfork != 0 {
		child.vforkDone = make(chan struct{})
	}

	k := t.k
	k.mu.Lock()
	tg := t.tg
	tg.mu.Lock()
	exiting := tg.exiting
	tg.mu.Unlock()
	if exiting {
		k.mu.Unlock()
		pctx.Release()
		m.DecUsers()
		return 0, unix.EINTR
	}
	tid := k.allocPIDLocked()
	child.tid = tid
	if f&CloneThread != 0 {
		child.tg = tg
		tg.mu.Lock()
		child.sigMask = t.sigMask
		tg.tasks = append(tg.tasks, child)
		tg.jobControlNewTaskLocked(child)
		tg.mu.Unlock()
	} else {
		parent := tg
		if f&CloneParent != 0 {
			parent = tg.parent
		}
		handlers := tg.handlers.Copy()
		if f&CloneSighand != 0 {
			handlers = tg.handlers
		} else if f&CloneClearSighand != 0 {
			handlers.ResetForExec()
		}
		tg.mu.Lock()
		ntg := &ThreadGroup{
			k: k, pid: tid, handlers: handlers, rlimits: tg.rlimits, parent: parent,
			pgid: tg.pgid, sid: tg.sid, exe: tg.exe, exited: make(chan struct{}),
			exitSignal: o.ExitSignal, childCh: make(chan struct{}),
			oomScoreAdj: tg.oomScoreAdj, oomScoreAdjMin: tg.oomScoreAdjMin,
			children: map[*ThreadGroup]struct{}{},
		}
		child.sigMask = t.sigMask
		tg.mu.Unlock()
		ntg.tasks = []*Task{child}
		ntg.leader = child
		child.tg = ntg
		parent.children[ntg] = struct{}{}
		k.groups[tid] = ntg
		k.liveTasks.Add(1)
	}
	if f&CloneVM != 0 && f&CloneVfork == 0 {
		child.altStack = SignalStack{Flags: SS_DISABLE}
	} else {
		child.altStack = t.altStack
	}
	k.tasks[tid] = child
	k.mu.Unlock()

	if f&CloneParentSettid != 0 {
		t.CopyOutUint32(o.ParentTID, uint32(tid))
	}
	if f&CloneChildSettid != 0 {
		child.CopyOutUint32(o.ChildTID, uint32(tid))
	}
	go child.run()
	if f&CloneVfork != 0 {
		// The parent sleeps until the child execs or exits (not interruptibly by signals
		// it would handle, as on Linux, but a kill of the parent still ends the wait).
		t.Block(child.vforkDone, zeroTime)
	}
	return tid, nil
}

// releaseVfork wakes a vfork parent (on exec or exit).
func (t *Task) releaseVfork() {
	t.mu.Lock()
	ch := t.vforkDone
	t.vforkDone = nil
	t.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func (k *Kernel) initGroup() *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.init
}

func (k *Kernel) numThreadGroups() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.groups)
}

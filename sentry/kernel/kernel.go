// Package kernel owns the sentry's processes: the Kernel (platform, memory file, VFS, PID
// namespace, syscall table), thread groups and tasks, the task loop that runs application
// code through the platform and handles its traps, signal state, exit and wait.
//
// Lock order: a Timer's lock (timers.go), then Kernel.mu (task tree, PIDs), then
// ThreadGroup.mu (signal state, exit), then Task.mu. A task's goroutine owns its arch state and platform context without locks.
package kernel

import (
	"io"

	"golang.org/x/sys/unix"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"runsc.dev/platform"
	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/vdso"
	"runsc.dev/sentry/vfs"
)

// Options configure a Kernel.
type Options struct {
	Platform   platform.Platform
	MemoryFile *memory.MemoryFile
	VFS        *vfs.VirtualFilesystem
	Syscalls   *SyscallTable
	Hostname   string
	// Strace logs every syscall to Log.
	Strace bool
	// Log receives debug and strace lines; nil discards them.
	Log *log.Logger
	// VDSO is mapped into every process at exec (loader.Args.VDSO); nil: no vDSO.
	VDSO *vdso.VDSO
}

// Kernel is one sandbox's kernel.
type Kernel struct {
	// uidMap and gidMap are /proc/[pid]/uid_map and gid_map (idmap.go), protected by mu.
	uidMap, gidMap []IDMapEntry
	// sysctls are the container's linux.sysctl as /proc/sys shows them (sysctl.go),
	// protected by mu.
	sysctls map[string]string

	platform platform.Platform
	mf       *memory.MemoryFile
	vfs      *vfs.VirtualFilesystem
	table    *SyscallTable
	strace   bool
	log      *log.Logger
	hostname string
	boot     time.Time
	vdso     *vdso.VDSO

	mu      sync.Mutex
	nextPID int32
	tasks   map[int32]*Task // by TID
	groups  map[int32]*ThreadGroup
	init    *ThreadGroup
	// live counts thread groups not yet exited; the kernel is done when it reaches zero.
	liveTasks sync.WaitGroup

	unsupported unsupportedCounts
	futexOnce   sync.Once
	futex       *futexTable
	pidMax      int32
	seq         atomic.Uint64
}

// New creates a kernel.
func New(o Options) *Kernel {
	l := o.Log
	if l == nil {
		l = log.New(io.Discard, "", 0)
	}
	return &Kernel{
		platform: o.Platform, mf: o.MemoryFile, vfs: o.VFS, table: o.Syscalls,
		strace: o.Strace, log: l, hostname: o.Hostname, boot: time.Now(), vdso: o.VDSO,
		nextPID: 1, tasks: map[int32]*Task{}, groups: map[int32]*ThreadGroup{},
		pidMax: 4194304,
	}
}

// VFS is the kernel's virtual filesystem.
func (k *Kernel) VFS() *vfs.VirtualFilesystem { return k.vfs }

// MemoryFile is the memory file all application memory comes from.
func (k *Kernel) MemoryFile() *memory.MemoryFile { return k.mf }

// Platform is the platform tasks run on.
func (k *Kernel) Platform() platform.Platform { return k.platform }

// Hostname is the UTS hostname.
func (k *Kernel) Hostname() string { return k.hostname }

// BootTime is when the kernel started, for uptime and CLOCK_BOOTTIME.
func (k *Kernel) BootTime() time.Time { return k.boot }

// Logf writes a debug line.
func (k *Kernel) Logf(format string, args ...any) { k.log.Printf(format, args...) }

// allocPID returns a free PID; k.mu must be held.
func (k *Kernel) allocPIDLocked() int32 {
	for {
		p := k.nextPID
		k.nextPID++
		if k.nextPID >= k.pidMax {
			k.nextPID = 300
		}
		if _, used := k.tasks[p]; !used {
			if _, used := k.groups[p]; !used {
				return p
			}
		}
	}
}

// TaskByTID returns the task with the given TID, or nil.
func (k *Kernel) TaskByTID(tid int32) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// ThreadGroups returns the live thread groups, for /proc.
func (k *Kernel) ThreadGroups() []*ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*ThreadGroup, 0, len(k.groups))
	for _, tg := range k.groups {
		out = append(out, tg)
	}
	return out
}

// WaitInit blocks until the container's init process exits and returns its wait status.
func (k *Kernel) WaitInit() WaitStatus {
	k.mu.Lock()
	init := k.init
	k.mu.Unlock()
	<-init.exited
	return init.exitStatus
}

// WaitAll blocks until every task has exited.
func (k *Kernel) WaitAll() { k.liveTasks.Wait() }

// SignalInit sends a signal to the container's init process from outside (the CLI).
func (k *Kernel) SignalInit(sig int) {
	k.mu.Lock()
	init := k.init
	k.mu.Unlock()
	// As for any PID namespace's init, a signal from outside is delivered only if init
	// handles it, except SIGKILL (and SIGSTOP), which always are.
	if init != nil && (sig == int(unix.SIGKILL) || init.HandlesOrBlocks(sig)) {
		init.SendSignal(&SignalInfo{Signo: int32(sig), Code: SI_USER})
	}
}

package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
)

// Scheduling policies.
const (
	schedOther    = 0
	schedFIFO     = 1
	schedRR       = 2
	schedBatch    = 3
	schedIdle     = 5
	schedDeadline = 6
)

// schedTarget resolves a pid argument of the sched_* calls.
func schedTarget(t *kernel.Task, pid int32) (*kernel.Task, error) {
	if pid < 0 {
		return nil, unix.EINVAL
	}
	if pid == 0 {
		return t, nil
	}
	o := t.Kernel().TaskByTID(pid)
	if o == nil {
		return nil, unix.ESRCH
	}
	return o, nil
}

// SchedGetscheduler implements sched_getscheduler(2): every task runs SCHED_OTHER.
func SchedGetscheduler(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	_, err := schedTarget(t, args.Int(0))
	return schedOther, err
}

// SchedSetscheduler implements sched_setscheduler(2): SCHED_OTHER/BATCH/IDLE with
// priority 0 are accepted; real-time policies need CAP_SYS_NICE, which the sandbox does
// not grant them (EPERM).
func SchedSetscheduler(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if _, err := schedTarget(t, args.Int(0)); err != nil {
		return 0, err
	}
	if args.Addr(2) == 0 {
		return 0, unix.EINVAL
	}
	var b [4]byte
	if _, err := t.CopyIn(args.Addr(2), b[:]); err != nil {
		return 0, err
	}
	prio := int32(binary.LittleEndian.Uint32(b[:]))
	switch args.Int(1) &^ 0x40000000 { // SCHED_RESET_ON_FORK
	case schedOther, schedBatch, schedIdle:
		if prio != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case schedFIFO, schedRR:
		if prio < 1 || prio > 99 {
			return 0, unix.EINVAL
		}
		t.Unsupported("real-time scheduling policy")
		return 0, unix.EPERM
	}
	return 0, unix.EINVAL
}

// SchedGetparam implements sched_getparam(2).
func SchedGetparam(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args.Addr(1) == 0 {
		return 0, unix.EINVAL
	}
	if _, err := schedTarget(t, args.Int(0)); err != nil {
		return 0, err
	}
	return 0, t.CopyOutUint32(args.Addr(1), 0)
}

// SchedSetparam implements sched_setparam(2).
func SchedSetparam(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args.Addr(1) == 0 {
		return 0, unix.EINVAL
	}
	if _, err := schedTarget(t, args.Int(0)); err != nil {
		return 0, err
	}
	var b [4]byte
	if _, err := t.CopyIn(args.Addr(1), b[:]); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(b[:]) != 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// SchedGetPriorityMax implements sched_get_priority_max(2).
func SchedGetPriorityMax(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	switch args.Int(0) {
	case schedFIFO, schedRR:
		return 99, nil
	case schedOther, schedBatch, schedIdle, schedDeadline:
		return 0, nil
	}
	return 0, unix.EINVAL
}

// SchedGetPriorityMin implements sched_get_priority_min(2).
func SchedGetPriorityMin(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	switch args.Int(0) {
	case schedFIFO, schedRR:
		return 1, nil
	case schedOther, schedBatch, schedIdle, schedDeadline:
		return 0, nil
	}
	return 0, unix.EINVAL
}

// SchedRrGetInterval implements sched_rr_get_interval(2).
func SchedRrGetInterval(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if _, err := schedTarget(t, args.Int(0)); err != nil {
		return 0, err
	}
	var b [16]byte
	putTimespec(b[:], int64(100*time.Millisecond))
	_, err := t.CopyOut(args.Addr(1), b[:])
	return 0, err
}

// SchedSetaffinity implements sched_setaffinity(2): the mask must name at least one of
// the sandbox's CPUs; the sentry does not pin tasks.
func SchedSetaffinity(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	o, err := schedTarget(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	n := min(int(args[1]), cpumaskBytes())
	mask := make([]byte, n)
	if _, err := t.CopyIn(args.Addr(2), mask); err != nil {
		return 0, err
	}
	c, oc := t.Credentials(), o.Credentials()
	if !c.HasCapability(auth.CapSysNice) && c.EffectiveUID != oc.RealUID && c.EffectiveUID != oc.EffectiveUID {
		return 0, unix.EPERM
	}
	// Only the CPUs that exist count; a mask without any is EINVAL.
	online := make([]byte, cpumaskBytes())
	any := false
	for c := 0; c < 8*n && c < numCPU(); c++ {
		if mask[c/8]&(1<<(c%8)) != 0 {
			online[c/8] |= 1 << (c % 8)
			any = true
		}
	}
	if !any {
		return 0, unix.EINVAL
	}
	o.SetAffinity(online)
	return 0, nil
}

// Getcpu implements getcpu(2): the first CPU of the task's affinity mask, node 0.
func Getcpu(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if a := args.Addr(0); a != 0 {
		if err := t.CopyOutUint32(a, uint32(firstCPU(t.Affinity()))); err != nil {
			return 0, err
		}
	}
	if a := args.Addr(1); a != 0 {
		if err := t.CopyOutUint32(a, 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Times implements times(2).
func Times(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if a := args.Addr(0); a != 0 {
		self, children := t.ThreadGroup().CPUUsage(), t.ThreadGroup().ChildrenCPUUsage()
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], clockTicks(self.User))
		binary.LittleEndian.PutUint64(b[8:], clockTicks(self.Sys))
		binary.LittleEndian.PutUint64(b[16:], clockTicks(children.User))
		binary.LittleEndian.PutUint64(b[24:], clockTicks(children.Sys))
		if _, err := t.CopyOut(a, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(clockTicks(time.Since(t.Kernel().BootTime()))), nil
}

// priorityTargets are the tasks a get/setpriority (which, who) names; ESRCH if none.
func priorityTargets(t *kernel.Task, which, who int32) ([]*kernel.Task, error) {
	k := t.Kernel()
	var ts []*kernel.Task
	switch which {
	case unix.PRIO_PROCESS:
		if who < 0 {
			return nil, unix.ESRCH
		}
		o := t
		if who != 0 {
			o = k.TaskByTID(who)
		}
		if o != nil {
			ts = append(ts, o)
		}
	case unix.PRIO_PGRP:
		if who < 0 {
			return nil, unix.ESRCH
		}
		if who == 0 {
			who, _ = t.ThreadGroup().ProcessGroup()
		}
		for _, tg := range k.ProcessGroupMembers(who) {
			ts = append(ts, tg.Tasks()...)
		}
	case unix.PRIO_USER:
		uid := auth.KUID(uint32(who))
		if who == 0 {
			uid = t.Credentials().RealUID
		}
		for _, tg := range k.ThreadGroups() {
			for _, o := range tg.Tasks() {
				if o.Credentials().RealUID == uid {
					ts = append(ts, o)
				}
			}
		}
	default:
		return nil, unix.EINVAL
	}
	if len(ts) == 0 {
		return nil, unix.ESRCH
	}
	return ts, nil
}

// Getpriority implements getpriority(2): 20 - nice of the highest-priority target (the
// C library turns it back into a nice value).
func Getpriority(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	ts, err := priorityTargets(t, args.Int(0), args.Int(1))
	if err != nil {
		return 0, err
	}
	best := int32(19)
	for _, o := range ts {
		best = min(best, o.Nice())
	}
	return uintptr(20 - best), nil
}

// Setpriority implements setpriority(2). Nice values are kept and inherited but the host
// schedules the sandbox's threads as it sees fit. Lowering a nice value needs
// CAP_SYS_NICE or a target RLIMIT_NICE that allows it (EACCES, as can_nice); changing another user's
// process needs CAP_SYS_NICE (EPERM).
func Setpriority(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	ts, err := priorityTargets(t, args.Int(0), args.Int(1))
	if err != nil {
		return 0, err
	}
	nice := min(max(args.Int(2), -20), 19)
	c := t.Credentials()
	capNice := c.HasCapability(auth.CapSysNice)
	var result error
	for _, o := range ts {
		oc := o.Credentials()
		if !capNice && c.EffectiveUID != oc.RealUID && c.EffectiveUID != oc.EffectiveUID {
			result = unix.EPERM
			continue
		}
		if nice < o.Nice() && !capNice && uint64(20-nice) > o.ThreadGroup().Rlimit(unix.RLIMIT_NICE).Cur {
			result = unix.EACCES
			continue
		}
		o.SetNice(nice)
	}
	return 0, result
}

func init() {
	register(unix.SYS_SCHED_GETSCHEDULER, "sched_getscheduler", SchedGetscheduler, kernel.Supported, "")
	register(unix.SYS_SCHED_SETSCHEDULER, "sched_setscheduler", SchedSetscheduler, kernel.Partial, "real-time policies: EPERM")
	register(unix.SYS_SCHED_GETPARAM, "sched_getparam", SchedGetparam, kernel.Supported, "")
	register(unix.SYS_SCHED_SETPARAM, "sched_setparam", SchedSetparam, kernel.Supported, "")
	register(unix.SYS_SCHED_GET_PRIORITY_MAX, "sched_get_priority_max", SchedGetPriorityMax, kernel.Supported, "")
	register(unix.SYS_SCHED_GET_PRIORITY_MIN, "sched_get_priority_min", SchedGetPriorityMin, kernel.Supported, "")
	register(unix.SYS_SCHED_RR_GET_INTERVAL, "sched_rr_get_interval", SchedRrGetInterval, kernel.Supported, "")
	register(unix.SYS_SCHED_SETAFFINITY, "sched_setaffinity", SchedSetaffinity, kernel.Partial, "the mask is kept and inherited; the host threads are not pinned to it")
	register(unix.SYS_GETCPU, "getcpu", Getcpu, kernel.Partial, "the first CPU of the affinity mask, node 0")
	register(unix.SYS_TIMES, "times", Times, kernel.Supported, "")
	register(unix.SYS_GETPRIORITY, "getpriority", Getpriority, kernel.Supported, "")
	register(unix.SYS_SETPRIORITY, "setpriority", Setpriority, kernel.Partial, "nice values are kept and inherited, not applied to the host threads")
}

// firstCPU is the lowest CPU in mask (0 for nil, every CPU).
func firstCPU(mask []byte) int {
	for c := 0; c < 8*len(mask); c++ {
		if mask[c/8]&(1<<(c%8)) != 0 {
			return c
		}
	}
	return 0
}

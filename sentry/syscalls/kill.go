package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// mayKill reports whether the caller may signal target (kill(2)'s permission rule).
func mayKill(t *kernel.Task, target *kernel.ThreadGroup) bool {
	c := t.Credentials()
	if c.HasCapability(5) { // CAP_KILL
		return true
	}
	tc := target.Leader()
	if tc == nil {
		return false
	}
	o := tc.Credentials()
	return c.EffectiveUID == o.RealUID || c.EffectiveUID == o.SavedUID || c.RealUID == o.RealUID || c.RealUID == o.SavedUID
}

// Kill implements kill(2).
func Kill(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid, sig := args.Int(0), int(args.Int(1))
	if sig != 0 && !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	info := &kernel.SignalInfo{Signo: int32(sig), Code: kernel.SI_USER, PID: t.ThreadGroupID(), UID: uint32(t.Credentials().RealUID)}
	k := t.Kernel()
	var targets []*kernel.ThreadGroup
	switch {
	case pid > 0:
		tg := k.ThreadGroupOrZombie(pid)
		if tg == nil {
			return 0, unix.ESRCH
		}
		targets = []*kernel.ThreadGroup{tg}
	case pid == -1:
		// Every process but init and the caller.
		for _, tg := range k.ThreadGroups() {
			if tg.PID() != 1 && tg != t.ThreadGroup() {
				targets = append(targets, tg)
			}
		}
	default:
		pg := -pid
		if pid == 0 {
			pg, _ = t.ThreadGroup().ProcessGroup()
		}
		targets = k.ProcessGroupMembers(pg)
	}
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	sent := false
	for _, tg := range targets {
		if !mayKill(t, tg) {
			continue
		}
		sent = true
		if sig != 0 {
			if tg.PID() == 1 && !tg.HandlesOrBlocks(sig) {
				// The container's init only gets signals it handles (as a PID namespace init).
				continue
			}
			tg.SendSignal(info)
		}
	}
	if !sent {
		return 0, unix.EPERM
	}
	return 0, nil
}

// tgkill is the shared body of tkill and tgkill.
func tgkill(t *kernel.Task, tgid, tid int32, sig int) error {
	if tid <= 0 || (tgid <= 0 && tgid != -1) {
		return unix.EINVAL
	}
	if sig != 0 && !kernel.ValidSignal(sig) {
		return unix.EINVAL
	}
	target := t.Kernel().TaskByTID(tid)
	if target == nil || (tgid != -1 && target.ThreadGroupID() != tgid) {
		return unix.ESRCH
	}
	if !mayKill(t, target.ThreadGroup()) {
		return unix.EPERM
	}
	if sig != 0 {
		target.SendSignal(&kernel.SignalInfo{Signo: int32(sig), Code: kernel.SI_TKILL, PID: t.ThreadGroupID(), UID: uint32(t.Credentials().RealUID)})
	}
	return nil
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, tgkill(t, -1, args.Int(0), int(args.Int(1)))
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, tgkill(t, args.Int(0), args.Int(1), int(args.Int(2)))
}

func init() {
	register(unix.SYS_KILL, "kill", Kill, kernel.Supported, "")
	register(unix.SYS_TKILL, "tkill", Tkill, kernel.Supported, "")
	register(unix.SYS_TGKILL, "tgkill", Tgkill, kernel.Supported, "")
}

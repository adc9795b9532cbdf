package kernel

import "golang.org/x/sys/unix"

// setupSignalFrame arranges for the task to run a signal handler. Building the rt_sigframe
// (ucontext with the XSAVE state, siginfo, restorer) comes with the processes issue; until
// then a caught signal is reported as unsupported and the task dies of it, which is what
// the application would see if its handler could not run.
func (t *Task) setupSignalFrame(info *SignalInfo, act *SigAction) error {
	t.k.unsupported.record(unix.SYS_RT_SIGACTION, "delivery to a signal handler", t.k)
	return unix.ENOSYS
}

package vfs

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// Context is what VFS operations need from their caller. *kernel.Task satisfies it;
// filesystems that need more of the task (proc) type-assert it to a wider interface.
type Context interface {
	// Credentials are the caller's credentials, used for permission checks and the
	// owner of new files.
	Credentials() *auth.Credentials
	// CopyIn and CopyOut move bytes between the caller's memory and the sentry's (for
	// ioctl arguments). They return unix.EFAULT on a bad address.
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// KernelContext is a Context for the sentry's own operations (building the mount tree at
// boot, tests): it has the given credentials and no application memory.
type KernelContext struct {
	Creds *auth.Credentials
}

// NewKernelContext returns a context with root credentials.
func NewKernelContext() *KernelContext {
	return &KernelContext{Creds: auth.NewRootCredentials()}
}

// Credentials implements Context.Credentials.
func (k *KernelContext) Credentials() *auth.Credentials { return k.Creds }

// CopyIn implements Context.CopyIn: there is no application memory.
func (k *KernelContext) CopyIn(addr uintptr, dst []byte) (int, error) { return 0, unix.EFAULT }

// CopyOut implements Context.CopyOut: there is no application memory.
func (k *KernelContext) CopyOut(addr uintptr, src []byte) (int, error) { return 0, unix.EFAULT }

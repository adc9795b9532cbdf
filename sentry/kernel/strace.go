package kernel

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// Strace formats: one letter per argument.
//
//	d  signed int          u  unsigned      x  hex
//	s  NUL-terminated string (a path, a name), printed quoted and shortened
//	p  pointer              -  not printed
//
// An empty format prints the six raw arguments in hex.
const straceMaxString = 64

func (t *Task) formatArgs(e *Syscall, args *arch.SyscallArguments) string {
	if e == nil || e.Format == "" {
		return fmt.Sprintf("%#x, %#x, %#x, %#x, %#x, %#x", args[0], args[1], args[2], args[3], args[4], args[5])
	}
	var parts []string
	for i, c := range e.Format {
		if i >= 6 {
			break
		}
		a := args[i]
		switch c {
		case 'd':
			parts = append(parts, strconv.FormatInt(int64(int32(a)), 10))
		case 'u':
			parts = append(parts, strconv.FormatUint(uint64(a), 10))
		case 's':
			s, err := t.mm.CopyInString(a, straceMaxString)
			if err != nil {
				parts = append(parts, fmt.Sprintf("%#x", a))
			} else {
				parts = append(parts, strconv.Quote(s))
			}
		case '-':
		default:
			parts = append(parts, fmt.Sprintf("%#x", a))
		}
	}
	return strings.Join(parts, ", ")
}

func (t *Task) straceName(nr uintptr, e *Syscall) string {
	if e != nil && e.Name != "" {
		return e.Name
	}
	return fmt.Sprintf("syscall_%d", nr)
}

func (t *Task) straceEnter(nr uintptr, e *Syscall, args *arch.SyscallArguments) {
	// Calls that do not return are logged on entry.
	switch nr {
	case unix.SYS_EXIT, unix.SYS_EXIT_GROUP, unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_RT_SIGRETURN:
		t.k.Logf("[%4d] %s(%s) ...", t.tid, t.straceName(nr, e), t.formatArgs(e, args))
	}
}

func (t *Task) straceExit(nr uintptr, e *Syscall, args *arch.SyscallArguments, ret uintptr, err error) {
	res := fmt.Sprintf("%#x", ret)
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			res = fmt.Sprintf("-1 %s (%s)", errnoName(errno), errno.Error())
		}
	}
	t.k.Logf("[%4d] %s(%s) = %s", t.tid, t.straceName(nr, e), t.formatArgs(e, args), res)
}

func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "E" + strconv.Itoa(int(e))
}

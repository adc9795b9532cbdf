// Package syscalls owns the x86-64 Linux syscall table: one file per syscall family, each
// registering its handlers (with their support status) from init, and the table that the
// kernel dispatches through. Every handler has the signature of kernel.SyscallFn, decodes
// its arguments, rejects unknown flags, does the work and copies results out last.
//
// It holds no locks of its own: the table is built at init and read-only afterwards.
package syscalls

import (
	"fmt"
	"sort"
	"strings"

	"runsc.dev/sentry/kernel"
)

var table kernel.SyscallTable

// register installs a handler. It is called only from init functions.
func register(nr uintptr, name string, fn kernel.SyscallFn, status kernel.SyscallStatus, note string) {
	if nr >= kernel.MaxSyscalls {
		panic(fmt.Sprintf("syscall %s: number %d out of range", name, nr))
	}
	if table.Entries[nr].Fn != nil {
		panic(fmt.Sprintf("syscall %s (%d) registered twice", name, nr))
	}
	table.Entries[nr] = kernel.Syscall{Name: name, Fn: fn, Status: status, Note: note, Format: formats[name]}
}

// Table returns the complete table: registered handlers, and every other x86-64 syscall
// named and marked unsupported.
func Table() *kernel.SyscallTable {
	for nr, name := range names {
		e := &table.Entries[nr]
		if e.Name == "" {
			e.Name = name
			e.Format = formats[name]
		}
	}
	return &table
}

// Describe returns the table as text: number, name, status, note; one line per syscall.
func Describe() string {
	t := Table()
	var nrs []int
	for nr := range t.Entries {
		if t.Entries[nr].Name != "" {
			nrs = append(nrs, nr)
		}
	}
	sort.Ints(nrs)
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-24s %-12s %s\n", "NR", "NAME", "STATUS", "NOTE")
	for _, nr := range nrs {
		e := t.Entries[nr]
		fmt.Fprintf(&b, "%-4d %-24s %-12s %s\n", nr, e.Name, e.Status, e.Note)
	}
	return b.String()
}

// formats tell strace how to print arguments (see kernel/strace.go).
var formats = map[string]string{
	"read": "dpu", "write": "dpu", "open": "sxx", "close": "d", "stat": "sp", "fstat": "dp",
	"lstat": "sp", "lseek": "ddd", "mmap": "xxxxdx", "mprotect": "xxx", "munmap": "xx",
	"brk": "x", "rt_sigaction": "dppu", "rt_sigprocmask": "dppu", "ioctl": "dxx",
	"pread64": "dpud", "pwrite64": "dpud", "readv": "dpd", "writev": "dpd", "access": "so",
	"dup": "d", "dup2": "dd", "dup3": "ddx", "getpid": "", "exit": "d", "exit_group": "d",
	"uname": "p", "fcntl": "ddx", "getcwd": "pu", "chdir": "s", "fchdir": "d", "mkdir": "so",
	"rmdir": "s", "unlink": "s", "readlink": "spu", "openat": "dsxo", "newfstatat": "dspx",
	"readlinkat": "dspu", "faccessat": "dso", "faccessat2": "dsox", "statx": "dsxxp",
	"getdents64": "dpu", "arch_prctl": "dx", "set_tid_address": "p", "clock_gettime": "dp",
	"nanosleep": "pp", "execve": "spp", "mkdirat": "dso", "unlinkat": "dsx", "kill": "dd",
	"tgkill": "ddd", "prlimit64": "ddpp", "getrandom": "pux", "madvise": "xxd",
}

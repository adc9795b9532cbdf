package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/mm"
)

const (
	protAll       = unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC
	protGrowsDown = 0x01000000
	protGrowsUp   = 0x02000000
	mapTypeMask   = 0x0f // MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE
	// mapKnown are the flags mmap accepts with MAP_SHARED_VALIDATE (others EOPNOTSUPP).
	mapKnown = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE | unix.MAP_FIXED |
		unix.MAP_ANONYMOUS | unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE |
		unix.MAP_LOCKED | unix.MAP_NORESERVE | unix.MAP_POPULATE | unix.MAP_NONBLOCK |
		unix.MAP_STACK | unix.MAP_HUGETLB | unix.MAP_FIXED_NOREPLACE | unix.MAP_32BIT |
		unix.MAP_SYNC | 0x3f<<26 /* MAP_HUGE_SHIFT bits */
)

// Mmap implements mmap(2).
func Mmap(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, length, prot, flags, fd, off := args.Addr(0), args[1], int(args.Int(2)), int(args.Int(3)), args.Int(4), uint64(args[5])
	if prot&^(protAll|protGrowsDown|protGrowsUp) != 0 {
		return 0, unix.EINVAL
	}
	typ := flags & mapTypeMask
	if typ != unix.MAP_SHARED && typ != unix.MAP_PRIVATE && typ != unix.MAP_SHARED_VALIDATE {
		return 0, unix.EINVAL
	}
	if typ == unix.MAP_SHARED_VALIDATE && flags&^mapKnown != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if length == 0 {
		return 0, unix.EINVAL
	}
	if off%4096 != 0 {
		return 0, unix.EINVAL
	}
	rounded := (length + 4095) &^ 4095
	if rounded < length {
		return 0, unix.ENOMEM
	}
	if flags&unix.MAP_HUGETLB != 0 {
		t.Unsupported("MAP_HUGETLB")
		return 0, unix.EINVAL
	}
	o := mm.MMapOpts{
		Addr: addr, Length: rounded, Perms: platform.AccessFromProt(prot), MaxPerms: platform.AnyAccess,
		Private: typ == unix.MAP_PRIVATE, Fixed: flags&(unix.MAP_FIXED|unix.MAP_FIXED_NOREPLACE) != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0 && flags&unix.MAP_FIXED == 0, GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
	}
	if flags&unix.MAP_ANONYMOUS != 0 && typ == unix.MAP_SHARED_VALIDATE {
		// Anonymous mappings take only MAP_SHARED or MAP_PRIVATE.
		return 0, unix.EINVAL
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		file, _, err := t.FDTable().Get(fd)
		if err != nil {
			return 0, err
		}
		defer file.DecRef()
		st, err := file.Stat()
		if err != nil {
			return 0, err
		}
		acc := file.StatusFlags() & unix.O_ACCMODE
		switch {
		case st.Type() == unix.S_IFCHR && st.RdevMajor == 1 && st.RdevMinor == 5:
			// /dev/zero: a mapping is anonymous memory (a shared one, a new shared object).
			return mmapDone(t, o, flags)
		case st.Type() != unix.S_IFREG:
			return 0, unix.ENODEV
		case acc == unix.O_WRONLY:
			return 0, unix.EACCES
		}
		if !o.Private {
			if acc != unix.O_RDWR && prot&unix.PROT_WRITE != 0 {
				return 0, unix.EACCES
			}
			if acc != unix.O_RDWR {
				o.MaxPerms.Write = false
			}
			if mf, ok := file.Impl().(mm.MappableFile); ok {
				// The mapping maps the file's page cache (mm/mappable.go).
				o.Mappable = mf.Mappable()
			} else if prot&unix.PROT_WRITE != 0 {
				t.Unsupported("writable MAP_SHARED mapping of this file type")
				return 0, unix.ENODEV
			} else {
				// A read-only shared mapping of a file without a page cache is served as a
				// private copy of the file: it sees the file as it is when pages are
				// first touched.
				o.Private = true
				o.MaxPerms.Write = false
			}
		}
		o.File, o.Offset = file, off
		o.Name, _ = t.Kernel().VFS().PathFrom(t.FSContext().Root(), file.VirtualDentry())
		o.Dev, o.Ino = st.Dev(), st.Ino
	}
	return mmapDone(t, o, flags)
}

// mmapDone makes the mapping, within RLIMIT_AS, and populates it for MAP_POPULATE.
func mmapDone(t *kernel.Task, o mm.MMapOpts, flags int) (uintptr, error) {
	m := t.MemoryManager()
	if lim := t.ThreadGroup().Rlimit(unix.RLIMIT_AS).Cur; lim != unix.RLIM_INFINITY && m.VirtualBytes()+uint64(o.Length) > lim {
		return 0, unix.ENOMEM
	}
	addr, err := m.MMap(o)
	if err == nil && flags&(unix.MAP_POPULATE|unix.MAP_NONBLOCK) == unix.MAP_POPULATE {
		m.Populate(addr, o.Length)
	}
	return addr, err
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().Munmap(args.Addr(0), args[1])
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	prot := int(args.Int(2))
	if prot&^(protAll|protGrowsDown|protGrowsUp) != 0 || prot&(protGrowsDown|protGrowsUp) == protGrowsDown|protGrowsUp {
		return 0, unix.EINVAL
	}
	return 0, t.MemoryManager().Mprotect(args.Addr(0), args[1], platform.AccessFromProt(prot), prot&protGrowsDown != 0)
}

// Brk implements brk(2).
func Brk(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return t.MemoryManager().Brk(args.Addr(0)), nil
}

// Madvise implements madvise(2).
func Madvise(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().Madvise(args.Addr(0), args[1], int(args.Int(2)))
}

func init() {
	register(unix.SYS_MMAP, "mmap", Mmap, kernel.Partial, "writable MAP_SHARED mappings of host (donated) files: ENODEV; read-only ones are private copies")
	register(unix.SYS_MUNMAP, "munmap", Munmap, kernel.Supported, "")
	register(unix.SYS_MPROTECT, "mprotect", Mprotect, kernel.Partial, "PROT_GROWSDOWN is accepted without extending the range")
	register(unix.SYS_BRK, "brk", Brk, kernel.Supported, "")
	register(unix.SYS_MADVISE, "madvise", Madvise, kernel.Partial, "only DONTNEED and FREE change anything")
}

// Mremap implements mremap(2).
func Mremap(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return t.MemoryManager().Mremap(args.Addr(0), args[1], args[2], int(args.Int(3)), args.Addr(4))
}

// Mincore implements mincore(2).
func Mincore(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	vec, err := t.MemoryManager().Mincore(args.Addr(0), args[1])
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(args.Addr(2), vec)
	return 0, err
}

// mlock2 flags and mlockall flags.
const (
	mlockOnfault = 1
	mclCurrent   = 1
	mclFuture    = 2
	mclOnfault   = 4
)

// mlockCheck validates a lock request against RLIMIT_MEMLOCK as Linux does for
// unprivileged callers. Sandbox memory is never swapped, so locking has no other effect.
func mlockCheck(t *kernel.Task, length uintptr) error {
	if t.Credentials().HasCapability(14) { // CAP_IPC_LOCK
		return nil
	}
	lim := t.ThreadGroup().Rlimit(unix.RLIMIT_MEMLOCK).Cur
	if lim == 0 {
		return unix.EPERM
	}
	if uint64(length) > lim {
		return unix.ENOMEM
	}
	return nil
}

// Mlock implements mlock(2).
func Mlock(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if err := t.MemoryManager().CheckMapped(args.Addr(0), args[1]); err != nil {
		return 0, err
	}
	return 0, mlockCheck(t, args[1])
}

// Mlock2 implements mlock2(2).
func Mlock2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args.Uint(2)&^mlockOnfault != 0 {
		return 0, unix.EINVAL
	}
	return Mlock(t, args)
}

// Munlock implements munlock(2).
func Munlock(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().CheckMapped(args.Addr(0), args[1])
}

// Mlockall implements mlockall(2).
func Mlockall(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f := args.Int(0)
	if f == 0 || f&^(mclCurrent|mclFuture|mclOnfault) != 0 || f == mclOnfault {
		return 0, unix.EINVAL
	}
	return 0, mlockCheck(t, uintptr(t.MemoryManager().VirtualBytes()))
}

// Munlockall implements munlockall(2).
func Munlockall(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, nil
}

// Msync implements msync(2): what shared file mappings stored in the range is written
// back to the file's storage (the host file, for the gofer) at once, with MS_SYNC and
// MS_ASYNC alike; MS_INVALIDATE has nothing to do, since mappings and read/write share
// the same pages.
func Msync(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, length, flags := args.Addr(0), args[1], args.Int(2)
	if addr%4096 != 0 || flags&^(unix.MS_ASYNC|unix.MS_SYNC|unix.MS_INVALIDATE) != 0 ||
		flags&(unix.MS_ASYNC|unix.MS_SYNC) == unix.MS_ASYNC|unix.MS_SYNC {
		return 0, unix.EINVAL
	}
	return 0, t.MemoryManager().Msync(addr, length, flags&(unix.MS_ASYNC|unix.MS_SYNC) != 0)
}

func init() {
	register(unix.SYS_MREMAP, "mremap", Mremap, kernel.Partial, "old_size 0 (duplicating a shared mapping) is EINVAL")
	register(unix.SYS_MINCORE, "mincore", Mincore, kernel.Supported, "")
	register(unix.SYS_MLOCK, "mlock", Mlock, kernel.Supported, "sandbox memory is never swapped")
	register(unix.SYS_MLOCK2, "mlock2", Mlock2, kernel.Supported, "")
	register(unix.SYS_MUNLOCK, "munlock", Munlock, kernel.Supported, "")
	register(unix.SYS_MLOCKALL, "mlockall", Mlockall, kernel.Supported, "")
	register(unix.SYS_MUNLOCKALL, "munlockall", Munlockall, kernel.Supported, "")
	register(unix.SYS_MSYNC, "msync", Msync, kernel.Supported, "")
}

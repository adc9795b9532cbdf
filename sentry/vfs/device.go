package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// DeviceOpener opens a character device: it returns the file implementation and the
// options of the new file description.
type DeviceOpener func(ctx Context, vd VirtualDentry, flags uint32) (FileImpl, FileOptions, error)

var devices struct {
	mu        sync.RWMutex
	char      map[uint64]DeviceOpener
	charMajor map[uint32]DeviceOpener
}

// RegisterCharMajor makes opening any character device node of major (whose minor
// was not registered by itself) call open.
func RegisterCharMajor(major uint32, open DeviceOpener) {
	devices.mu.Lock()
	defer devices.mu.Unlock()
	if devices.charMajor == nil {
		devices.charMajor = make(map[uint32]DeviceOpener)
	}
	devices.charMajor[major] = open
}

// RegisterCharDevice makes opening any character device node major:minor (on any
// filesystem, as Linux's chrdev_open) call open.
func RegisterCharDevice(major, minor uint32, open DeviceOpener) {
	devices.mu.Lock()
	defer devices.mu.Unlock()
	if devices.char == nil {
		devices.char = make(map[uint64]DeviceOpener)
	}
	devices.char[unix.Mkdev(major, minor)] = open
}

func lookupCharDevice(rdev uint64) DeviceOpener {
	devices.mu.RLock()
	defer devices.mu.RUnlock()
	if open := devices.char[rdev]; open != nil {
		return open
	}
	return devices.charMajor[unix.Major(rdev)]
}

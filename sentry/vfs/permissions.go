package vfs

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// AccessTypes is a set of MayRead, MayWrite and MayExec.
type AccessTypes uint32

// Access types, with the values of access(2)'s R_OK, W_OK, X_OK.
const (
	MayExec  AccessTypes = 1
	MayWrite AccessTypes = 2
	MayRead  AccessTypes = 4
)

// CheckPermissions answers whether creds may access a file with the given mode (S_IFMT
// and permission bits), owner and group in the ways ats says, as Linux's
// generic_permission does: the owner, group or other class applies (the first that
// matches, without fallback), then CAP_DAC_OVERRIDE allows everything on directories and
// reading and writing other files (and executing them only if some execute bit is set),
// and CAP_DAC_READ_SEARCH allows reading any file and reading and searching directories.
func CheckPermissions(creds *auth.Credentials, ats AccessTypes, mode, uid, gid uint32) error {
	perm := mode & 0777
	var bits uint32
	switch {
	case uint32(creds.FSUID) == uid:
		bits = perm >> 6
	case creds.InGroup(auth.KGID(gid)):
		bits = (perm >> 3) & 7
	default:
		bits = perm & 7
	}
	if uint32(ats)&^bits == 0 {
		return nil
	}
	isDir := mode&unix.S_IFMT == unix.S_IFDIR
	if creds.HasCapability(auth.CapDacOverride) {
		if isDir || ats&MayExec == 0 || perm&0111 != 0 {
			return nil
		}
	}
	if creds.HasCapability(auth.CapDacReadSearch) {
		if ats&MayWrite == 0 && (isDir || ats&MayExec == 0) {
			return nil
		}
	}
	return unix.EACCES
}

// IsOwner reports whether creds own a file with owner uid or may act as its owner
// (CAP_FOWNER), as chmod and utimes require.
func IsOwner(creds *auth.Credentials, uid uint32) bool {
	return uint32(creds.FSUID) == uid || creds.HasCapability(auth.CapFowner)
}

// CheckSticky is Linux's check_sticky: in a sticky directory owned by dirUID, only the
// owner of the entry, the owner of the directory or a CAP_FOWNER holder may remove or
// rename it.
func CheckSticky(creds *auth.Credentials, dirMode, dirUID, fileUID uint32) error {
	if dirMode&unix.S_ISVTX == 0 {
		return nil
	}
	if uint32(creds.FSUID) == fileUID || uint32(creds.FSUID) == dirUID || creds.HasCapability(auth.CapFowner) {
		return nil
	}
	return unix.EPERM
}

// AccessCredentials returns the credentials access(2) and faccessat without AT_EACCESS
// check with: the real user and group IDs as filesystem IDs and, for a non-root real
// user, no effective capabilities (root keeps its permitted set).
func AccessCredentials(c *auth.Credentials) *auth.Credentials {
	n := c.Fork()
	n.FSUID = c.RealUID
	n.FSGID = c.RealGID
	if c.RealUID != 0 {
		n.EffectiveCaps = 0
	} else {
		n.EffectiveCaps = c.PermittedCaps
	}
	return n
}

// credsContext overrides the credentials of a Context.
type credsContext struct {
	Context
	creds *auth.Credentials
}

func (c credsContext) Credentials() *auth.Credentials { return c.creds }

// WithCredentials returns ctx with its credentials replaced by creds.
func WithCredentials(ctx Context, creds *auth.Credentials) Context {
	return credsContext{Context: ctx, creds: creds}
}

// Unwrap returns the Context that ctx was made from by WithCredentials (or ctx itself),
// for filesystems that type-assert the caller (proc).
func Unwrap(ctx Context) Context {
	for {
		c, ok := ctx.(credsContext)
		if !ok {
			return ctx
		}
		ctx = c.Context
	}
}

// Package auth owns task credentials: real, effective, saved and filesystem user and group
// IDs, supplementary groups and capability sets, with the permission questions the VFS and
// the kernel ask of them.
//
// Credentials are immutable once published: a task replaces its *Credentials wholesale, so
// readers need no lock.
package auth

// KUID and KGID are user and group IDs as the sandbox sees them.
type (
	KUID uint32
	KGID uint32
)

// Capability numbers used by permission checks (linux/capability.h).
const (
	CapChown              = 0
	CapDacOverride        = 1
	CapDacReadSearch      = 2
	CapFowner             = 3
	CapFsetid             = 4
	CapKill               = 5
	CapSetgid             = 6
	CapSetuid             = 7
	CapSetpcap            = 8
	CapSysAdmin           = 21
	CapSysNice            = 23
	CapSysResource        = 24
	CapLastCap            = 40
	AllCapabilities       = uint64(1)<<(CapLastCap+1) - 1
	OverflowID            = 65534
	rootUID          KUID = 0
)

// Credentials are a task's identity.
type Credentials struct {
	RealUID, EffectiveUID, SavedUID, FSUID KUID
	RealGID, EffectiveGID, SavedGID, FSGID KGID
	Groups                                 []KGID

	PermittedCaps, InheritableCaps, EffectiveCaps, BoundingCaps, AmbientCaps uint64

	// KeepCaps is PR_SET_KEEPCAPS: keep permitted capabilities when leaving root.
	KeepCaps bool
}

// NewRootCredentials are the credentials of a container's first process run as root.
func NewRootCredentials() *Credentials {
	return NewUserCredentials(0, 0, nil)
}

// NewUserCredentials are the credentials of a first process run as uid:gid, with all
// capabilities for root and none otherwise, as execve of a non-setuid program gives.
func NewUserCredentials(uid KUID, gid KGID, groups []KGID) *Credentials {
	c := &Credentials{
		RealUID: uid, EffectiveUID: uid, SavedUID: uid, FSUID: uid,
		RealGID: gid, EffectiveGID: gid, SavedGID: gid, FSGID: gid,
		Groups:       append([]KGID(nil), groups...),
		BoundingCaps: AllCapabilities,
	}
	if uid == rootUID {
		c.PermittedCaps = AllCapabilities
		c.EffectiveCaps = AllCapabilities
	}
	return c
}

// HasCapability reports whether cap is in the effective set.
func (c *Credentials) HasCapability(cap int) bool {
	return c.EffectiveCaps&(1<<uint(cap)) != 0
}

// InGroup reports whether gid is the filesystem group or a supplementary group.
func (c *Credentials) InGroup(gid KGID) bool {
	if c.FSGID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Fork returns a copy for a new task (credentials are shared by value).
func (c *Credentials) Fork() *Credentials {
	n := *c
	n.Groups = append([]KGID(nil), c.Groups...)
	return &n
}

package auth

import "golang.org/x/sys/unix"

// NoID is the -1 that setre*id and setres*id take for "unchanged".
const NoID = ^uint32(0)

// capsAfterUIDChange applies Linux's capability rules after a uid change
// (cap_emulate_setxuid): losing root everywhere drops permitted and effective unless
// KeepCaps; leaving effective root drops effective; gaining it restores effective.
func (c *Credentials) capsAfterUIDChange(old *Credentials) {
	if (old.RealUID == 0 || old.EffectiveUID == 0 || old.SavedUID == 0) &&
		c.RealUID != 0 && c.EffectiveUID != 0 && c.SavedUID != 0 {
		if !c.KeepCaps {
			c.PermittedCaps = 0
		}
		c.EffectiveCaps = 0
		c.AmbientCaps = 0
	}
	if old.EffectiveUID == 0 && c.EffectiveUID != 0 {
		c.EffectiveCaps = 0
	}
	if old.EffectiveUID != 0 && c.EffectiveUID == 0 {
		c.EffectiveCaps = c.PermittedCaps
	}
	const fsCaps = 1<<CapChown | 1<<CapDacOverride | 1<<CapDacReadSearch | 1<<CapFowner | 1<<CapFsetid | 1<<27 /* MKNOD */ | 1<<9 /* LINUX_IMMUTABLE */ | 1<<32 /* MAC_OVERRIDE */
	if old.FSUID == 0 && c.FSUID != 0 {
		c.EffectiveCaps &^= fsCaps
	} else if old.FSUID != 0 && c.FSUID == 0 {
		c.EffectiveCaps |= c.PermittedCaps & fsCaps
	}
}

func (c *Credentials) isUID(u KUID) bool {
	return u == c.RealUID || u == c.EffectiveUID || u == c.SavedUID
}

func (c *Credentials) isGID(g KGID) bool {
	return g == c.RealGID || g == c.EffectiveGID || g == c.SavedGID
}

// SetUID implements setuid(2) and returns the new credentials.
func (c *Credentials) SetUID(uid uint32) (*Credentials, error) {
	if uid == NoID {
		return nil, unix.EINVAL
	}
	n := c.Fork()
	u := KUID(uid)
	switch {
	case c.HasCapability(CapSetuid):
		n.RealUID, n.EffectiveUID, n.SavedUID, n.FSUID = u, u, u, u
	case u == c.RealUID || u == c.SavedUID:
		n.EffectiveUID, n.FSUID = u, u
	default:
		return nil, unix.EPERM
	}
	n.capsAfterUIDChange(c)
	return n, nil
}

// SetREUID implements setreuid(2).
func (c *Credentials) SetREUID(r, e uint32) (*Credentials, error) {
	n := c.Fork()
	priv := c.HasCapability(CapSetuid)
	if r != NoID {
		if !priv && KUID(r) != c.RealUID && KUID(r) != c.EffectiveUID {
			return nil, unix.EPERM
		}
		n.RealUID = KUID(r)
	}
	if e != NoID {
		if !priv && !c.isUID(KUID(e)) {
			return nil, unix.EPERM
		}
		n.EffectiveUID = KUID(e)
	}
	if r != NoID || (e != NoID && KUID(e) != c.RealUID) {
		n.SavedUID = n.EffectiveUID
	}
	n.FSUID = n.EffectiveUID
	n.capsAfterUIDChange(c)
	return n, nil
}

// SetRESUID implements setresuid(2).
func (c *Credentials) SetRESUID(r, e, s uint32) (*Credentials, error) {
	n := c.Fork()
	priv := c.HasCapability(CapSetuid)
	for _, p := range []struct {
		v   uint32
		dst *KUID
	}{{r, &n.RealUID}, {e, &n.EffectiveUID}, {s, &n.SavedUID}} {
		if p.v == NoID {
			continue
		}
		if !priv && !c.isUID(KUID(p.v)) {
			return nil, unix.EPERM
		}
		*p.dst = KUID(p.v)
	}
	n.FSUID = n.EffectiveUID
	n.capsAfterUIDChange(c)
	return n, nil
}

// SetFSUID implements setfsuid(2): it returns the old fsuid and the new credentials (nil
// if unchanged).
func (c *Credentials) SetFSUID(uid uint32) (KUID, *Credentials) {
	old := c.FSUID
	u := KUID(uid)
	if uid == NoID || !(c.HasCapability(CapSetuid) || c.isUID(u) || u == c.FSUID) {
		return old, nil
	}
	n := c.Fork()
	n.FSUID = u
	n.capsAfterUIDChange(c)
	return old, n
}

// SetGID implements setgid(2).
func (c *Credentials) SetGID(gid uint32) (*Credentials, error) {
	if gid == NoID {
		return nil, unix.EINVAL
	}
	n := c.Fork()
	g := KGID(gid)
	switch {
	case c.HasCapability(CapSetgid):
		n.RealGID, n.EffectiveGID, n.SavedGID, n.FSGID = g, g, g, g
	case g == c.RealGID || g == c.SavedGID:
		n.EffectiveGID, n.FSGID = g, g
	default:
		return nil, unix.EPERM
	}
	return n, nil
}

// SetREGID implements setregid(2).
func (c *Credentials) SetREGID(r, e uint32) (*Credentials, error) {
	n := c.Fork()
	priv := c.HasCapability(CapSetgid)
	if r != NoID {
		if !priv && KGID(r) != c.RealGID && KGID(r) != c.EffectiveGID {
			return nil, unix.EPERM
		}
		n.RealGID = KGID(r)
	}
	if e != NoID {
		if !priv && !c.isGID(KGID(e)) {
			return nil, unix.EPERM
		}
		n.EffectiveGID = KGID(e)
	}
	if r != NoID || (e != NoID && KGID(e) != c.RealGID) {
		n.SavedGID = n.EffectiveGID
	}
	n.FSGID = n.EffectiveGID
	return n, nil
}

// SetRESGID implements setresgid(2).
func (c *Credentials) SetRESGID(r, e, s uint32) (*Credentials, error) {
	n := c.Fork()
	priv := c.HasCapability(CapSetgid)
	for _, p := range []struct {
		v   uint32
		dst *KGID
	}{{r, &n.RealGID}, {e, &n.EffectiveGID}, {s, &n.SavedGID}} {
		if p.v == NoID {
			continue
		}
		if !priv && !c.isGID(KGID(p.v)) {
			return nil, unix.EPERM
		}
		*p.dst = KGID(p.v)
	}
	n.FSGID = n.EffectiveGID
	return n, nil
}

// SetFSGID implements setfsgid(2).
func (c *Credentials) SetFSGID(gid uint32) (KGID, *Credentials) {
	old := c.FSGID
	g := KGID(gid)
	if gid == NoID || !(c.HasCapability(CapSetgid) || c.isGID(g) || g == c.FSGID) {
		return old, nil
	}
	n := c.Fork()
	n.FSGID = g
	return old, n
}

// NGroupsMax is NGROUPS_MAX.
const NGroupsMax = 65536

// SetGroups implements setgroups(2).
func (c *Credentials) SetGroups(gs []KGID) (*Credentials, error) {
	if !c.HasCapability(CapSetgid) {
		return nil, unix.EPERM
	}
	n := c.Fork()
	n.Groups = append([]KGID(nil), gs...)
	return n, nil
}

// SetCaps implements capset(2)'s rules for the caller's own sets.
func (c *Credentials) SetCaps(eff, perm, inh uint64) (*Credentials, error) {
	if perm&^c.PermittedCaps != 0 || eff&^perm != 0 {
		return nil, unix.EPERM
	}
	if !c.HasCapability(CapSetpcap) && inh&^(c.InheritableCaps|c.PermittedCaps) != 0 {
		return nil, unix.EPERM
	}
	if inh&^(c.InheritableCaps|c.BoundingCaps) != 0 {
		return nil, unix.EPERM
	}
	n := c.Fork()
	n.EffectiveCaps, n.PermittedCaps, n.InheritableCaps = eff, perm, inh
	n.AmbientCaps &= perm & inh
	return n, nil
}

package kernel

import (
	"fmt"
	"strings"
)

// IDMapEntry is one line of /proc/[pid]/uid_map or gid_map: IDs [Inside, Inside+Length)
// in the container are [Outside, Outside+Length) outside it.
type IDMapEntry struct {
	Inside, Outside, Length uint32
}

// identityMap is the map of a process in the initial user namespace.
var identityMap = []IDMapEntry{{0, 0, 4294967295}}

// SetIDMaps records the container's user-namespace ID mappings (the OCI spec's
// linux.uidMappings and gidMappings) as /proc shows them; nil keeps the identity map.
// The sandbox's credentials are those inside the namespace: the maps are what the
// application reads, not a translation the sentry applies.
func (k *Kernel) SetIDMaps(uid, gid []IDMapEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.uidMap, k.gidMap = uid, gid
}

// FormatIDMap returns uid_map (or gid_map, if gid) as Linux prints it.
func (k *Kernel) FormatIDMap(gid bool) string {
	k.mu.Lock()
	m := k.uidMap
	if gid {
		m = k.gidMap
	}
	k.mu.Unlock()
	if len(m) == 0 {
		m = identityMap
	}
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%10d %10d %10d\n", e.Inside, e.Outside, e.Length)
	}
	return b.String()
}

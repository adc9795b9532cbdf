package kernel

// SetSysctls records the container's sysctls (the OCI spec's linux.sysctl, dotted keys):
// /proc/sys shows them. They are the sandbox's own view: nothing reaches the host, and
// the sentry's behaviour does not change with them.
func (k *Kernel) SetSysctls(s map[string]string) {
	c := make(map[string]string, len(s))
	for key, v := range s {
		c[key] = v
	}
	k.mu.Lock()
	k.sysctls = c
	k.mu.Unlock()
}

// Sysctls returns the container's sysctls (the map is not to be modified).
func (k *Kernel) Sysctls() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sysctls
}

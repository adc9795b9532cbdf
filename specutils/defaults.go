package specutils

import (
	"fmt"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultSpec is the config.json `runsc spec` writes: a shell on rootfs/, with the usual
// container mounts, namespaces and a small capability set. Rootless adds a user
// namespace mapping the caller's IDs to root.
func DefaultSpec(rootless bool, uid, gid uint32) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runsc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
		},
	}
	if rootless {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
		s.Process.Terminal = true
	}
	return s
}

// Unsupported lists, one line per field, what runsc does not honour in spec: each
// names the field and what happens instead. The CLI logs each line as a warning.
func Unsupported(spec *specs.Spec) []string {
	var w []string
	add := func(field, what string) { w = append(w, fmt.Sprintf("%s: %s", field, what)) }
	if p := spec.Process; p != nil {
		if p.ApparmorProfile != "" {
			add("process.apparmorProfile", "ignored: the sandbox's own kernel, not AppArmor, confines the application")
		}
		if p.SelinuxLabel != "" {
			add("process.selinuxLabel", "ignored: SELinux labels are not supported")
		}
		if p.Scheduler != nil {
			add("process.scheduler", "ignored: not supported")
		}
		if p.IOPriority != nil {
			add("process.ioPriority", "ignored: not supported")
		}
		if p.ExecCPUAffinity != nil {
			add("process.execCPUAffinity", "ignored: not supported")
		}
	}
	if spec.Domainname != "" {
		add("domainname", "ignored: the sandbox's uname reports no NIS domain name")
	}
	// Mounts that are not made are reported with the mount plan (PlanMounts).
	for i, m := range spec.Mounts {
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
			add(fmt.Sprintf("mounts[%d].uidMappings", i), "ignored: ID-mapped mounts are not supported")
		}
	}
	l := spec.Linux
	if l == nil {
		return w
	}
	if l.Seccomp != nil {
		add("linux.seccomp", "ignored: the application's system calls never reach the host kernel (the sandbox's kernel serves them)")
	}
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("linux.sysctl."+k, "shown in the sandbox's /proc/sys only: the sandbox's kernel does not change its behaviour for it")
	}
	if l.IntelRdt != nil {
		add("linux.intelRdt", "ignored: not supported")
	}
	if l.MemoryPolicy != nil {
		add("linux.memoryPolicy", "ignored: not supported")
	}
	if l.Personality != nil {
		add("linux.personality", "ignored: not supported")
	}
	if len(l.TimeOffsets) > 0 {
		add("linux.timeOffsets", "ignored: time namespaces are not supported")
	}
	if len(l.NetDevices) > 0 {
		add("linux.netDevices", "ignored: not supported")
	}
	if l.MountLabel != "" {
		add("linux.mountLabel", "ignored: SELinux labels are not supported")
	}
	if r := l.Resources; r != nil {
		if r.BlockIO != nil {
			add("linux.resources.blockIO", "ignored: not supported")
		}
		if len(r.HugepageLimits) > 0 {
			add("linux.resources.hugepageLimits", "ignored: not supported")
		}
		if r.Network != nil {
			add("linux.resources.network", "ignored: not supported")
		}
		if len(r.Rdma) > 0 {
			add("linux.resources.rdma", "ignored: not supported")
		}
		if len(r.Unified) > 0 {
			add("linux.resources.unified", "ignored: not supported")
		}
		if len(r.Devices) > 0 {
			add("linux.resources.devices", "ignored: the sandbox opens no host devices for the container")
		}
	}
	for _, ns := range l.Namespaces {
		switch ns.Type {
		case specs.TimeNamespace:
			add("linux.namespaces (time)", "ignored: time namespaces are not supported")
		case specs.CgroupNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace:
			if ns.Path != "" {
				add(fmt.Sprintf("linux.namespaces (%s).path", ns.Type), "ignored: the sandbox's kernel has its own namespace; only a network namespace path is joined")
			}
		}
	}
	return w
}

// Package cgroup owns the host cgroups of a sandbox: it finds the hierarchies mounted on
// the host (cgroup v1 with one mount per controller or several, a v2 unified hierarchy,
// or both as on hybrid hosts, where v1 holds the controllers), creates the container's
// cgroup at its cgroupsPath (a path, or systemd's slice:prefix:name when the systemd
// driver is asked for; the directories are made directly, no systemd is contacted),
// writes the spec's limits (memory, cpu shares/quota/period, cpuset, pids), moves the
// sandbox and gofer processes in, reads usage back for events, and removes what it made.
//
// It holds no locks: a Cgroup is used by one CLI command at a time (under the
// container's state lock).
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Cgroup is a container's cgroup: its path relative to each hierarchy's root, and the
// directories (absolute) that hold it, one per hierarchy.
type Cgroup struct {
	// Path is the cgroup's path inside every hierarchy (starts with '/').
	Path string `json:"path"`
	// V2 says the controllers are in the unified hierarchy.
	V2 bool `json:"v2"`
	// Dirs maps a v1 controller name (or "" for the unified hierarchy) to the directory.
	Dirs map[string]string `json:"dirs"`
	// Created lists the directories this package made, deepest last.
	Created []string `json:"created,omitempty"`
}

// mountInfo is one cgroup mount of the host.
type mountInfo struct {
	dir         string
	v2          bool
	controllers []string // v1: from the super options (cpu, memory, name=systemd, ...)
	root        string   // the mount's root within the hierarchy
}

// hostMounts lists the cgroup mounts in /proc/self/mountinfo.
func hostMounts() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountInfo
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		qf := strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			out = append(out, mountInfo{dir: unescape(pf[4]), v2: true, root: unescape(pf[3])})
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(qf[2], ",") {
				switch {
				case o == "rw" || o == "ro" || o == "relatime" || o == "noexec" || o == "nosuid" || o == "nodev" || strings.HasPrefix(o, "release_agent") || o == "clone_children" || o == "xattr" || o == "noprefix" || o == "cpuset_v2_mode":
				default:
					ctrls = append(ctrls, o)
				}
			}
			key := strings.Join(ctrls, ",")
			if seen[key] {
				continue // the same hierarchy mounted twice
			}
			seen[key] = true
			out = append(out, mountInfo{dir: unescape(pf[4]), controllers: ctrls, root: unescape(pf[3])})
		}
	}
	return out, sc.Err()
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// SystemdPath turns systemd's "slice:prefix:name" into the cgroup path systemd would
// use: /a.slice/a-b.slice/prefix-name.scope.
func SystemdPath(p string) (string, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("cgroupsPath %q is not slice:prefix:name (the systemd driver's form)", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	if !strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/") {
		return "", fmt.Errorf("cgroupsPath %q: %q is not a systemd slice", p, slice)
	}
	var dirs []string
	if slice != "-.slice" {
		base := strings.TrimSuffix(slice, ".slice")
		acc := ""
		for _, c := range strings.Split(base, "-") {
			if c == "" {
				return "", fmt.Errorf("cgroupsPath %q: bad slice name %q", p, slice)
			}
			if acc == "" {
				acc = c
			} else {
				acc += "-" + c
			}
			dirs = append(dirs, acc+".slice")
		}
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		if prefix != "" {
			unit = prefix + "-" + name
		}
		unit += ".scope"
	}
	if name == "" || strings.Contains(unit, "/") {
		return "", fmt.Errorf("cgroupsPath %q: bad unit name %q", p, name)
	}
	return "/" + filepath.Join(append(dirs, unit)...), nil
}

// ownCgroup returns the calling process's cgroup path in the hierarchy holding ctrl
// (v1), or in the unified hierarchy (ctrl "").
func ownCgroup(ctrl string) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "/"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if ctrl == "" && f[0] == "0" && f[1] == "" {
			return f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == ctrl && ctrl != "" {
				return f[2]
			}
		}
	}
	return "/"
}

// New resolves a container's cgroup: cgroupsPath as the spec gives it ("" means
// "/"+id), in systemd's form when systemd is set. Nothing is created yet.
func New(cgroupsPath string, systemd bool, id string) (*Cgroup, error) {
	p := cgroupsPath
	if systemd {
		if p == "" {
			p = "system.slice:runsc:" + id
		}
		sp, err := SystemdPath(p)
		if err != nil {
			return nil, err
		}
		p = sp
	} else if p == "" {
		p = "/" + id
	}
	if strings.Contains(p, ":") && !systemd {
		return nil, fmt.Errorf("cgroupsPath %q looks like systemd's slice:prefix:name; use --systemd-cgroup", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return nil, fmt.Errorf("cgroupsPath %q contains '..'", p)
		}
	}
	mounts, err := hostMounts()
	if err != nil {
		return nil, fmt.Errorf("reading the host's cgroup mounts: %w", err)
	}
	cg := &Cgroup{Dirs: map[string]string{}}
	var v1, v2 []mountInfo
	for _, m := range mounts {
		if m.v2 {
			v2 = append(v2, m)
		} else {
			v1 = append(v1, m)
		}
	}
	rel := func(ctrl string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(ownCgroup(ctrl), p)
	}
	switch {
	case len(v1) > 0:
		cg.Path = filepath.Clean("/" + p)
		for _, m := range v1 {
			for _, c := range m.controllers {
				r := rel(c)
				// The mount's root is the part of the hierarchy it shows.
				sub := strings.TrimPrefix(r, m.root)
				cg.Dirs[c] = filepath.Join(m.dir, sub)
			}
		}
	case len(v2) > 0:
		cg.V2 = true
		r := rel("")
		cg.Path = r
		m := v2[0]
		cg.Dirs[""] = filepath.Join(m.dir, strings.TrimPrefix(r, m.root))
	default:
		return nil, errors.New("no cgroup hierarchy is mounted on this host")
	}
	return cg, nil
}

// dirList returns the distinct directories, sorted.
func (c *Cgroup) dirList() []string {
	set := map[string]bool{}
	for _, d := range c.Dirs {
		set[d] = true
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Create makes the cgroup in every hierarchy and applies the limits.
func (c *Cgroup) Create(r *specs.LinuxResources) error {
	for _, d := range c.dirList() {
		if err := c.mkdirAll(d); err != nil {
			return err
		}
	}
	if c.V2 {
		if err := c.enableControllers(); err != nil {
			return err
		}
	}
	if d, ok := c.Dirs["cpuset"]; ok && !c.V2 {
		if err := initCpuset(d); err != nil {
			return err
		}
	}
	if r == nil {
		return nil
	}
	if c.V2 {
		return c.applyV2(r)
	}
	return c.applyV1(r)
}

// mkdirAll creates d and its missing parents, remembering what it made.
func (c *Cgroup) mkdirAll(d string) error {
	var missing []string
	for p := d; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		missing = append(missing, p)
		if p == "/" || p == "." {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("creating cgroup %s: %w", missing[i], err)
		}
		c.Created = append(c.Created, missing[i])
	}
	return nil
}

// initCpuset copies cpuset.cpus and cpuset.mems from the parent where they are empty
// (a v1 cpuset cgroup takes no task until both are set).
func initCpuset(d string) error {
	var chain []string
	for p := d; ; p = filepath.Dir(p) {
		cpus, err := os.ReadFile(filepath.Join(p, "cpuset.cpus"))
		if err != nil {
			return nil // not a cpuset hierarchy after all
		}
		if strings.TrimSpace(string(cpus)) != "" || p == filepath.Dir(p) {
			break
		}
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		parent := filepath.Dir(chain[i])
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return err
			}
			if err := write(chain[i], f, strings.TrimSpace(string(v))); err != nil {
				return err
			}
		}
	}
	return nil
}

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("setting cgroup %s to %q: %w", filepath.Join(dir, file), val, err)
	}
	return nil
}

func (c *Cgroup) applyV1(r *specs.LinuxResources) error {
	if m := r.Memory; m != nil {
		d, ok := c.Dirs["memory"]
		if !ok && (m.Limit != nil || m.Reservation != nil) {
			return errors.New("linux.resources.memory: no memory cgroup hierarchy on this host")
		}
		if m.Limit != nil {
			if err := write(d, "memory.limit_in_bytes", strconv.FormatInt(*m.Limit, 10)); err != nil {
				return err
			}
		}
		if m.Swap != nil {
			if _, err := os.Stat(filepath.Join(d, "memory.memsw.limit_in_bytes")); err == nil {
				if err := write(d, "memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10)); err != nil {
					return err
				}
			}
		}
		if m.Reservation != nil {
			if err := write(d, "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)); err != nil {
				return err
			}
		}
		if m.Swappiness != nil && *m.Swappiness <= 100 {
			if err := write(d, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
				return err
			}
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			if err := write(d, "memory.oom_control", "1"); err != nil {
				return err
			}
		}
	}
	if cpu := r.CPU; cpu != nil {
		d, ok := c.Dirs["cpu"]
		if !ok && (cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil) {
			return errors.New("linux.resources.cpu: no cpu cgroup hierarchy on this host")
		}
		if cpu.Shares != nil && *cpu.Shares != 0 {
			if err := write(d, "cpu.shares", strconv.FormatUint(*cpu.Shares, 10)); err != nil {
				return err
			}
		}
		if cpu.Period != nil && *cpu.Period != 0 {
			if err := write(d, "cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10)); err != nil {
				return err
			}
		}
		if cpu.Quota != nil && *cpu.Quota != 0 {
			if err := write(d, "cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10)); err != nil {
				return err
			}
		}
		if cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
			if err := write(d, "cpu.rt_period_us", strconv.FormatUint(*cpu.RealtimePeriod, 10)); err != nil {
				return err
			}
		}
		if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 {
			if err := write(d, "cpu.rt_runtime_us", strconv.FormatInt(*cpu.RealtimeRuntime, 10)); err != nil {
				return err
			}
		}
		if cs, ok := c.Dirs["cpuset"]; ok {
			if cpu.Cpus != "" {
				if err := write(cs, "cpuset.cpus", cpu.Cpus); err != nil {
					return err
				}
			}
			if cpu.Mems != "" {
				if err := write(cs, "cpuset.mems", cpu.Mems); err != nil {
					return err
				}
			}
		}
	}
	if p := r.Pids; p != nil {
		d, ok := c.Dirs["pids"]
		if !ok {
			return errors.New("linux.resources.pids: no pids cgroup hierarchy on this host")
		}
		if err := write(d, "pids.max", pidsMax(p)); err != nil {
			return err
		}
	}
	return nil
}

func pidsMax(p *specs.LinuxPids) string {
	if p.Limit == nil || *p.Limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(*p.Limit, 10)
}

// enableControllers turns on, in every ancestor of the cgroup, the controllers it needs.
func (c *Cgroup) enableControllers() error {
	d := c.Dirs[""]
	var chain []string
	for p := filepath.Dir(d); ; p = filepath.Dir(p) {
		if _, err := os.Stat(filepath.Join(p, "cgroup.subtree_control")); err != nil {
			break
		}
		chain = append(chain, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		avail, err := os.ReadFile(filepath.Join(chain[i], "cgroup.controllers"))
		if err != nil {
			continue
		}
		var want []string
		for _, ctl := range strings.Fields(string(avail)) {
			switch ctl {
			case "cpu", "cpuset", "memory", "pids", "io":
				want = append(want, "+"+ctl)
			}
		}
		if len(want) > 0 {
			// Best effort: a parent with processes of its own refuses (no internal
			// processes); the limits below then fail with a clear error.
			os.WriteFile(filepath.Join(chain[i], "cgroup.subtree_control"), []byte(strings.Join(want, " ")), 0o644)
		}
	}
	return nil
}

func (c *Cgroup) applyV2(r *specs.LinuxResources) error {
	d := c.Dirs[""]
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			v := "max"
			if *m.Limit > 0 {
				v = strconv.FormatInt(*m.Limit, 10)
			}
			if err := write(d, "memory.max", v); err != nil {
				return err
			}
			if m.Swap != nil && *m.Swap > 0 && *m.Limit > 0 && *m.Swap >= *m.Limit {
				if err := write(d, "memory.swap.max", strconv.FormatInt(*m.Swap-*m.Limit, 10)); err != nil {
					return err
				}
			}
		}
		if m.Reservation != nil && *m.Reservation > 0 {
			if err := write(d, "memory.low", strconv.FormatInt(*m.Reservation, 10)); err != nil {
				return err
			}
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			// The conversion from v1 shares [2, 262144] to v2 weight [1, 10000].
			s := min(max(*cpu.Shares, 2), 262144)
			weight := 1 + ((s-2)*9999)/262142
			if err := write(d, "cpu.weight", strconv.FormatUint(weight, 10)); err != nil {
				return err
			}
		}
		if (cpu.Quota != nil && *cpu.Quota != 0) || (cpu.Period != nil && *cpu.Period != 0) {
			quota := "max"
			if cpu.Quota != nil && *cpu.Quota > 0 {
				quota = strconv.FormatInt(*cpu.Quota, 10)
			}
			period := uint64(100000)
			if cpu.Period != nil && *cpu.Period != 0 {
				period = *cpu.Period
			}
			if err := write(d, "cpu.max", quota+" "+strconv.FormatUint(period, 10)); err != nil {
				return err
			}
		}
		if cpu.Cpus != "" {
			if err := write(d, "cpuset.cpus", cpu.Cpus); err != nil {
				return err
			}
		}
		if cpu.Mems != "" {
			if err := write(d, "cpuset.mems", cpu.Mems); err != nil {
				return err
			}
		}
	}
	if p := r.Pids; p != nil {
		if err := write(d, "pids.max", pidsMax(p)); err != nil {
			return err
		}
	}
	return nil
}

// Add moves a process into the cgroup in every hierarchy.
func (c *Cgroup) Add(pid int) error {
	for _, d := range c.dirList() {
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Destroy removes the directories Create made (deepest first), retrying briefly while
// the last processes leave. Directories that already existed stay.
func (c *Cgroup) Destroy() error {
	var first error
	for i := len(c.Created) - 1; i >= 0; i-- {
		d := c.Created[i]
		var err error
		for try := 0; try < 50; try++ {
			err = unix.Rmdir(d)
			if err == nil || err == unix.ENOENT {
				err = nil
				break
			}
			if err != unix.EBUSY {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("removing cgroup %s: %w", d, err)
		}
	}
	return first
}

// Stats are a cgroup's usage figures.
type Stats struct {
	MemoryUsage, MemoryMaxUsage, MemoryLimit uint64
	CPUUsageNanos                            uint64
	Pids, PidsLimit                          uint64
}

func readUint(dir, file string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Stats reads the cgroup's usage.
func (c *Cgroup) Stats() Stats {
	var s Stats
	if c.V2 {
		d := c.Dirs[""]
		s.MemoryUsage = readUint(d, "memory.current")
		s.MemoryMaxUsage = readUint(d, "memory.peak")
		s.MemoryLimit = readUint(d, "memory.max")
		s.Pids = readUint(d, "pids.current")
		s.PidsLimit = readUint(d, "pids.max")
		if b, err := os.ReadFile(filepath.Join(d, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					s.CPUUsageNanos = n * 1000
				}
			}
		}
		return s
	}
	if d, ok := c.Dirs["memory"]; ok {
		s.MemoryUsage = readUint(d, "memory.usage_in_bytes")
		s.MemoryMaxUsage = readUint(d, "memory.max_usage_in_bytes")
		s.MemoryLimit = readUint(d, "memory.limit_in_bytes")
	}
	if d, ok := c.Dirs["cpuacct"]; ok {
		s.CPUUsageNanos = readUint(d, "cpuacct.usage")
	}
	if d, ok := c.Dirs["pids"]; ok {
		s.Pids = readUint(d, "pids.current")
		s.PidsLimit = readUint(d, "pids.max")
	}
	return s
}

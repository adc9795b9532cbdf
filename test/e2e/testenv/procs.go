package testenv

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Proc is one host process as /proc shows it.
type Proc struct {
	PID, PPID int
	Cmdline   []string          // argv; empty for kernel threads and zombies
	Status    map[string]string // /proc/PID/status, field -> value (e.g. "TracerPid" -> "0")
}

// Name is the process's command line joined by spaces, or its status Name.
func (p Proc) Name() string {
	if len(p.Cmdline) > 0 {
		return strings.Join(p.Cmdline, " ")
	}
	return "[" + p.Status["Name"] + "]"
}

// ReadProc reads /proc/PID; false if the process is gone.
func ReadProc(pid int) (Proc, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	st, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Proc{}, false
	}
	p := Proc{PID: pid, Status: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(st))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			p.Status[k] = strings.TrimSpace(v)
		}
	}
	p.PPID, _ = strconv.Atoi(p.Status["PPid"])
	if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cl) > 0 {
		p.Cmdline = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	return p, true
}

// AllProcs returns every process on the host.
func AllProcs() []Proc {
	ents, _ := os.ReadDir("/proc")
	var ps []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := ReadProc(pid); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// Descendants returns the processes below PID (not PID itself), parents first.
func Descendants(pid int) []Proc {
	children := map[int][]Proc{}
	for _, p := range AllProcs() {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var out []Proc
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		kids := children[next]
		sort.Slice(kids, func(i, j int) bool { return kids[i].PID < kids[j].PID })
		for _, k := range kids {
			out = append(out, k)
			queue = append(queue, k.PID)
		}
	}
	return out
}

// RSSKiB is VmRSS of the process in KiB (0 if unknown, e.g. a zombie).
func (p Proc) RSSKiB() int64 {
	f := strings.Fields(p.Status["VmRSS"])
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

// Role is the runsc subcommand a process runs ("boot", "gofer", "do", ...), found as the
// first argument after the program name that names one; "" when it is not a runsc
// process (for example the application's stub processes, whatever their name).
func (p Proc) Role(runscPath string) string {
	if len(p.Cmdline) == 0 || !p.IsRunsc(runscPath) {
		return ""
	}
	for _, a := range p.Cmdline[1:] {
		switch a {
		case "boot", "gofer", "do", "run", "create", "start", "exec", "delete", "kill", "wait", "state":
			return a
		}
	}
	return ""
}

// IsRunsc reports whether the process runs the runsc binary at runscPath (by
// /proc/PID/exe, or else by argv[0], for a binary re-executed from a copy).
func (p Proc) IsRunsc(runscPath string) bool {
	if exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.PID), "exe")); err == nil &&
		strings.TrimSuffix(exe, " (deleted)") == runscPath {
		return true
	}
	return len(p.Cmdline) > 0 && (p.Cmdline[0] == runscPath || filepath.Base(p.Cmdline[0]) == "runsc")
}

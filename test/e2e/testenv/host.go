package testenv

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// HostState is what a run of runsc may leave behind on the host: processes under this
// test process (all of them, not only those whose command line mentions runsc: a stub
// process may have none), the mount table, and entries of os.TempDir() whose name
// mentions runsc (and every entry of extra directories, such as a --root state directory).
type HostState struct {
	Procs  []string
	Mounts []string
	Temp   []string
}

// SnapshotHost records the host state; EXTRA are directories whose every entry counts.
func SnapshotHost(extra ...string) HostState {
	var s HostState
	for _, p := range Descendants(os.Getpid()) {
		s.Procs = append(s.Procs, fmt.Sprintf("pid %d: %s", p.PID, p.Name()))
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			// Drop the mount and parent IDs: keep what is mounted where.
			if f := strings.SplitN(l, " ", 3); len(f) == 3 {
				s.Mounts = append(s.Mounts, f[2])
			}
		}
	}
	if ents, err := os.ReadDir(os.TempDir()); err == nil {
		for _, e := range ents {
			if strings.Contains(strings.ToLower(e.Name()), "runsc") {
				s.Temp = append(s.Temp, os.TempDir()+"/"+e.Name())
			}
		}
	}
	for _, dir := range extra {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			s.Temp = append(s.Temp, dir+"/"+e.Name())
		}
	}
	sort.Strings(s.Mounts)
	sort.Strings(s.Temp)
	return s
}

// Leftovers lists what AFTER has that BEFORE had not (processes: every one in AFTER: the
// caller takes the snapshot when none of its own commands is running).
func Leftovers(before, after HostState) []string {
	var out []string
	for _, p := range after.Procs {
		out = append(out, "process left running: "+p)
	}
	for _, m := range added(before.Mounts, after.Mounts) {
		out = append(out, "new mount: "+m)
	}
	for _, t := range added(before.Temp, after.Temp) {
		out = append(out, "new file: "+t)
	}
	return out
}

func added(before, after []string) []string {
	seen := map[string]int{}
	for _, b := range before {
		seen[b]++
	}
	var out []string
	for _, a := range after {
		if seen[a] > 0 {
			seen[a]--
			continue
		}
		out = append(out, a)
	}
	return out
}

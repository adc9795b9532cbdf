package e2e

// OCI runtime benchmarks, side by side with runc and gVisor's runsc in the same run
// (DESIGN.md §9: benchmarks are never timed tests). Run them with
//
//	OCI_BENCH=1 go test ./test/e2e -run TestOCIBench -v [-count=1]
//
// (OCI_BENCH_N sets the runs per figure, default 15). The figures are medians:
// create+start+delete of a /bin/true container, `run` of /bin/true (wall time), exec of
// /bin/true into a running container, and the memory (RSS) of the host processes of an
// idle container (for runsc: sandbox + gofer + stub).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"runsc.dev/test/e2e/testenv"
)

// benchRuntime is a runtime column of the benchmark table.
type benchRuntime struct {
	name string
	argv []string // binary and global flags
}

func benchRuntimes(t *testing.T) []benchRuntime {
	rts := []benchRuntime{{"runc", []string{"/usr/sbin/runc", "--root", stateDir}}}
	if _, err := os.Stat(gvisorRunsc); err == nil {
		// gVisor keeps a bind-mounted network namespace in its root: a root of its own,
		// cleaned up after the run.
		root := filepath.Join(buildDir, "gvisor-bench-root")
		t.Cleanup(func() {
			syscall.Unmount(filepath.Join(root, "null-netns"), syscall.MNT_DETACH)
			os.RemoveAll(root)
		})
		rts = append(rts, benchRuntime{"gvisor", []string{gvisorRunsc, "--root", root, "--network=none", "--platform=systrap"}})
	} else {
		t.Logf("%s is missing (../shared/tools/gvisor-anchor installs it): no gVisor column", gvisorRunsc)
	}
	rts = append(rts, benchRuntime{"runsc", append([]string{runscBinary(t), "--root", stateDir}, testenv.ExtraFlags()...)})
	return rts
}

const gvisorRunsc = "/usr/local/bin/runsc-gvisor"

// run runs one runtime command and fails the test if it fails.
func (b benchRuntime) run(t *testing.T, args ...string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	full := append(append([]string{}, b.argv...), args...)
	cmd := exec_(ctx, full)
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	errf := tempFile(t, "bench-err")
	defer errf.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, errf
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %v: %v: %s", b.name, args, err, readBack(errf))
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func TestOCIBench(t *testing.T) {
	if os.Getenv("OCI_BENCH") == "" {
		t.Skip("benchmarks run with OCI_BENCH=1")
	}
	needBusybox(t)
	n := 15
	if s := os.Getenv("OCI_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	bt := newBundle(t, "true")
	bt.spec.Root.Readonly = true
	trueDir := bt.write(t)
	bs := newNamedBundle(t, "-sleep", "sleep", "100000")
	bs.spec.Root.Readonly = true
	sleepDir := bs.write(t)

	type row struct {
		name string
		unit string
		vals map[string]float64
	}
	rows := []*row{
		{"create+start+delete of /bin/true", "ms", map[string]float64{}},
		{"run of /bin/true (wall time)", "ms", map[string]float64{}},
		{"exec of /bin/true into a running container", "ms", map[string]float64{}},
		{"memory of an idle container's host processes (RSS)", "MiB", map[string]float64{}},
	}
	rts := benchRuntimes(t)
	for _, rt := range rts {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		var ds []time.Duration
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("bench-%s-csd-%d", rt.name, i)
			d := rt.run(t, "create", "--bundle", trueDir, id)
			d += rt.run(t, "start", id)
			d += rt.run(t, "delete", "--force", id)
			ds = append(ds, d)
			reapZombieChildren()
		}
		rows[0].vals[rt.name] = ms(median(ds))
		ds = nil
		for i := 0; i < n; i++ {
			ds = append(ds, rt.run(t, "run", "--bundle", trueDir, fmt.Sprintf("bench-%s-run-%d", rt.name, i)))
			reapZombieChildren()
		}
		rows[1].vals[rt.name] = ms(median(ds))

		before := map[int]bool{}
		for _, p := range testenv.Descendants(os.Getpid()) {
			before[p.PID] = true
		}
		id := "bench-" + rt.name + "-idle"
		rt.run(t, "run", "--detach", "--bundle", sleepDir, id)
		ds = nil
		for i := 0; i < n; i++ {
			ds = append(ds, rt.run(t, "exec", id, "true"))
		}
		rows[2].vals[rt.name] = ms(median(ds))
		time.Sleep(time.Second)
		var rss int64
		var procs []string
		for _, p := range testenv.Descendants(os.Getpid()) {
			if !before[p.PID] && !strings.HasPrefix(p.Status["State"], "Z") {
				rss += p.RSSKiB()
				procs = append(procs, fmt.Sprintf("%s=%dKiB", p.Status["Name"], p.RSSKiB()))
			}
		}
		t.Logf("%s idle container processes: %s", rt.name, strings.Join(procs, " "))
		rows[3].vals[rt.name] = float64(rss) / 1024
		rt.run(t, "delete", "--force", id)
		reapZombieChildren()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-52s", "median of "+strconv.Itoa(n))
	for _, rt := range rts {
		fmt.Fprintf(&b, " %10s", rt.name)
	}
	fmt.Fprintf(&b, " %12s %12s\n", "runsc/runc", "runsc/gvisor")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-52s", r.name+" ("+r.unit+")")
		for _, rt := range rts {
			fmt.Fprintf(&b, " %10.2f", r.vals[rt.name])
		}
		ratio := func(o string) string {
			if v, ok := r.vals[o]; ok && v > 0 {
				return fmt.Sprintf("%.2f", r.vals["runsc"]/v)
			}
			return "n/a"
		}
		fmt.Fprintf(&b, " %12s %12s\n", ratio("runc"), ratio("gvisor"))
	}
	t.Log(b.String())
}

func exec_(ctx context.Context, argv []string) *exec.Cmd {
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

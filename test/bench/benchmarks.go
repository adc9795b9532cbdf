package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"runsc.dev/test/e2e/testenv"
)

// benchmark is one row of the table. measure takes one sample on a runtime.
type benchmark struct {
	name    string
	unit    string
	format  string // for the value in a table cell
	measure func(e *env, rt runtime) (float64, error)
}

// benchmarks is the table of benchmarks; add a row (and its program in progs/) to add one.
var benchmarks = []benchmark{
	{"getpid", "ns/call", "%.0f", measureGetpid},
	{"do-true", "ms", "%.1f", measureTrue},
	{"idle-rss", "MiB", "%.1f", measureIdleRSS},
	// Processes, threads and memory (progs/micro.c).
	micro("fork", "us", 200, 1e3),
	micro("forkexec", "us", 100, 1e3),
	micro("pthread", "us", 200, 1e3),
	micro("futex", "us", 2000, 1e3),
	micro("fault", "ms", 2, 1e6),
	micro("clock", "ns", 200000, 1),
	// Files: the program's own file and data.bin beside it (in the rootfs), and /tmp.
	micro("stat", "us", 2000, 1e3),
	micro("openclose", "us", 2000, 1e3),
	micro("read4k", "us", 2000, 1e3),
	micro("read1m", "us", 200, 1e3),
	micro("seqread", "ms", 1, 1e6),
	micro("tmpfile", "us", 1000, 1e3),
	// Whole commands of the host on the host's files (from the host's root filesystem).
	{"find-usr", "ms", "%.0f", measureFindUsr},
	{"git-status", "ms", "%.0f", measureGitStatus},
}

// micro is a benchmark that runs `micro MODE N` and reports its ns_per_op divided by scale
// (so in the unit given): one process, N operations timed inside it.
func micro(mode, unit string, n int, scale float64) benchmark {
	return benchmark{mode, unit, "%.1f", func(e *env, rt runtime) (float64, error) {
		out, err := e.run(rt, "micro", mode, strconv.Itoa(n))
		if err != nil {
			return 0, err
		}
		var v float64
		if _, err := fmt.Sscanf(strings.TrimSpace(out), "ns_per_op %g", &v); err != nil {
			return 0, fmt.Errorf("unexpected output %q", out)
		}
		return v / scale, nil
	}}
}

// getpidTarget is how long one timed loop of getpid should take: long enough to time,
// short enough that the ptrace platforms stay under 2 s.
const getpidTarget = 500 * time.Millisecond

// measureGetpid times N raw getpid calls inside the program; N is chosen per runtime from
// a short calibration run so that the loop takes about getpidTarget.
func measureGetpid(e *env, rt runtime) (float64, error) {
	n, ok := e.getpidN[rt.name]
	if !ok {
		per, err := getpidOnce(e, rt, 2000)
		if err != nil {
			return 0, err
		}
		n = int(float64(getpidTarget.Nanoseconds()) / max(per, 1))
		n = min(max(n, 2000), 5000000)
		e.getpidN[rt.name] = n
	}
	return getpidOnce(e, rt, n)
}

func getpidOnce(e *env, rt runtime, n int) (float64, error) {
	out, err := e.run(rt, "getpid", strconv.Itoa(n))
	if err != nil {
		return 0, err
	}
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "ns_per_call %g", &v); err != nil {
		return 0, fmt.Errorf("unexpected output %q", out)
	}
	return v, nil
}

// measureTrue is the wall time of running a static program that exits at once, measured
// from outside: the whole command, start-up and tear-down included.
func measureTrue(e *env, rt runtime) (float64, error) {
	start := time.Now()
	if _, err := e.run(rt, "true"); err != nil {
		return 0, err
	}
	return float64(time.Since(start).Microseconds()) / 1000, nil
}

// measureIdleRSS runs a program that sleeps 2 s and samples, every 50 ms, the summed VmRSS
// of the runtime's processes (the command and everything below it; natively the program
// itself), reporting the peak.
func measureIdleRSS(e *env, rt runtime) (float64, error) {
	cmd, done, err := e.start(rt, "idle", "2")
	if err != nil {
		return 0, err
	}
	var peak int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var sum int64
		if p, ok := testenv.ReadProc(cmd.Process.Pid); ok {
			sum += p.RSSKiB()
		}
		for _, p := range testenv.Descendants(cmd.Process.Pid) {
			sum += p.RSSKiB()
		}
		peak = max(peak, sum)
		select {
		case f := <-done:
			if f.err != nil {
				return 0, f.err
			}
			return float64(peak) / 1024, nil
		case <-tick.C:
		}
	}
}

// measureFindUsr is the wall time of the host's find listing /usr, its output counted
// by wc in the same sandbox (the count must be the same on every runtime).
func measureFindUsr(e *env, rt runtime) (float64, error) {
	return measureHostCommand(e, rt, "find-usr", "/usr/bin/find /usr")
}

// measureGitStatus is the wall time of `git status` in a clean clone of this repository
// (made once in the build directory), its output lines counted as for find-usr.
func measureGitStatus(e *env, rt runtime) (float64, error) {
	dir, err := e.checkout()
	if err != nil {
		return 0, err
	}
	return measureHostCommand(e, rt, "git-status",
		"/usr/bin/git -c safe.directory='*' -C "+shellQuote(dir)+" status --porcelain")
}

// measureHostCommand times one whole run of the shell command CMD, whose output is
// counted by wc -l, under RT from the host's root filesystem. The run fails if anything
// reaches stderr (CMD's exit status other than 0 is reported there) or if the count
// differs from the first runtime's for the benchmark NAME.
func measureHostCommand(e *env, rt runtime, name, cmd string) (float64, error) {
	script := "{ " + cmd + ` || echo "exit status $?" >&2; } | /usr/bin/wc -l`
	if !e.warmed[name] {
		// One untimed native run first, so that the first runtime does not pay alone for
		// reading the files into the host's caches.
		e.warmed[name] = true
		e.runShell(runtime{name: "native", shell: nativeShell}, script)
	}
	start := time.Now()
	f, err := e.runShell(rt, script)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if f.err != nil {
		return 0, f.err
	}
	if msg := strings.TrimSpace(f.stderr); msg != "" {
		msg, _, _ = strings.Cut(msg, "\n")
		// "find: '/usr/lib/...': Too many open files": the reason matters more in the
		// table's short cell than the path.
		return 0, errors.New(quotedPath.ReplaceAllString(msg, "PATH"))
	}
	n, err := strconv.Atoi(strings.TrimSpace(f.stdout))
	if err != nil {
		return 0, fmt.Errorf("unexpected output %q", f.stdout)
	}
	if first, ok := e.firstCount[name]; !ok {
		e.firstCount[name] = countSeen{rt.name, n}
	} else if first.n != n {
		return 0, fmt.Errorf("%d lines of output, %s had %d", n, first.runtime, first.n)
	}
	return float64(elapsed.Microseconds()) / 1000, nil
}

var quotedPath = regexp.MustCompile(`(‘[^’]*’|'/[^']*')`)

// countSeen is the first line count of a host command's output, and on which runtime.
type countSeen struct {
	runtime string
	n       int
}

// checkout returns BUILD/checkout, a clone of the repository the benchmarks run from,
// cloning it the first time (it stays for later runs).
func (e *env) checkout() (string, error) {
	dir := filepath.Join(e.build, "checkout")
	if !e.checkoutDone {
		e.checkoutDone = true
		e.checkoutErr = func() error {
			if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
				return nil
			}
			root, err := testenv.RepoRoot()
			if err != nil {
				return err
			}
			os.RemoveAll(dir)
			if out, err := exec.Command("git", "clone", "-q", root, dir).CombinedOutput(); err != nil {
				return fmt.Errorf("git clone %s: %v: %s", root, err, out)
			}
			return nil
		}()
	}
	return dir, e.checkoutErr
}

// shellQuote quotes S for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func benchmarkNames() []string {
	var names []string
	for _, b := range benchmarks {
		names = append(names, b.name)
	}
	return names
}

func selectBenchmarks(list string) ([]benchmark, error) {
	if list == "" {
		return benchmarks, nil
	}
	var out []benchmark
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, b := range benchmarks {
			if b.name == strings.TrimSpace(name) {
				out = append(out, b)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-only: no benchmark %q (have %s)", name, strings.Join(benchmarkNames(), ", "))
		}
	}
	return out, nil
}

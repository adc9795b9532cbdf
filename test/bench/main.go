// Command bench runs the side-by-side benchmarks of DESIGN.md §9 and §11: each benchmark
// under native execution, runc, gVisor's runsc (ptrace and systrap) and ours, several
// times, and prints the medians with ours' ratios to the others.
//
//	go run ./test/bench [-n 7] [-only getpid,true] [-runtimes native,ours]
//
// A benchmark is a row of the benchmarks table (benchmarks.go); a runtime one of the
// runtimes table (runtimes.go). A runtime that is missing or fails shows "n/a (reason)".
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"runsc.dev/test/e2e/testenv"
)

// result is one cell of the table: the median of the samples, or why there is none.
type result struct {
	value float64
	err   error
}

func main() {
	n := flag.Int("n", 7, "runs per figure (the median is reported)")
	only := flag.String("only", "", "comma-separated benchmarks to run (default all: "+strings.Join(benchmarkNames(), ",")+")")
	rts := flag.String("runtimes", "", "comma-separated runtimes (default all: "+strings.Join(runtimeNames(), ",")+")")
	verbose := flag.Bool("v", false, "print every sample")
	flag.Parse()
	if *n < 1 {
		fatalf("-n must be at least 1")
	}
	benches, err := selectBenchmarks(*only)
	if err != nil {
		fatalf("%v", err)
	}
	runtimes, err := selectRuntimes(*rts)
	if err != nil {
		fatalf("%v", err)
	}
	if err := testenv.HaveGCC(); err != nil {
		fatalf("%v", err)
	}
	build, err := testenv.BuildDir("bench")
	if err != nil {
		fatalf("%v", err)
	}
	root, _ := testenv.RepoRoot()
	progs := map[string]string{}
	srcs, _ := filepath.Glob(filepath.Join(root, "test", "bench", "progs", "*.c"))
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		out := filepath.Join(build, name)
		if err := testenv.CompileC(out, []string{src}); err != nil {
			fatalf("%v", err)
		}
		progs[name] = out
	}
	// data.bin (256 MiB) sits beside the programs: the file benchmarks read it.
	data := filepath.Join(build, "data.bin")
	if err := ensureDataFile(data, 256<<20); err != nil {
		fatalf("%v", err)
	}
	progs["data.bin"] = data
	env := &env{build: build, progs: progs, verbose: *verbose, getpidN: map[string]int{},
		firstCount: map[string]countSeen{}, warmed: map[string]bool{}}

	// Prepare each runtime once; one that cannot be used gives n/a in its column.
	ready := map[string]error{}
	for _, rt := range runtimes {
		ready[rt.name] = rt.prepare(env, rt)
		if ready[rt.name] != nil {
			fmt.Fprintf(os.Stderr, "bench: %s unavailable: %v\n", rt.name, ready[rt.name])
		}
	}

	table := map[string]map[string]result{}
	for _, b := range benches {
		table[b.name] = map[string]result{}
		for _, rt := range runtimes {
			if err := ready[rt.name]; err != nil {
				table[b.name][rt.name] = result{err: err}
				continue
			}
			fmt.Fprintf(os.Stderr, "bench: %s on %s ...\n", b.name, rt.name)
			table[b.name][rt.name] = runBenchmark(env, b, rt, *n)
		}
	}
	printTable(benches, runtimes, table)
}

// runBenchmark takes N samples of B on RT and returns their median.
func runBenchmark(e *env, b benchmark, rt runtime, n int) result {
	var samples []float64
	for i := 0; i < n; i++ {
		v, err := b.measure(e, rt)
		if err != nil {
			return result{err: err}
		}
		if e.verbose {
			fmt.Fprintf(os.Stderr, "  %s %s sample %d: %.3f %s\n", b.name, rt.name, i+1, v, b.unit)
		}
		samples = append(samples, v)
	}
	return result{value: median(samples)}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(benches []benchmark, runtimes []runtime, table map[string]map[string]result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	header := []string{"benchmark"}
	for _, rt := range runtimes {
		header = append(header, rt.name)
	}
	var ratios []string
	if hasRuntime(runtimes, "ours") {
		for _, rt := range runtimes {
			if rt.name != "ours" && rt.name != "runc" {
				ratios = append(ratios, rt.name)
				header = append(header, "ours/"+rt.name)
			}
		}
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, b := range benches {
		row := []string{b.name + " (" + b.unit + ")"}
		for _, rt := range runtimes {
			r := table[b.name][rt.name]
			if r.err != nil {
				row = append(row, "n/a ("+shorten(r.err.Error())+")")
			} else {
				row = append(row, fmt.Sprintf(b.format, r.value))
			}
		}
		for _, other := range ratios {
			o, x := table[b.name]["ours"], table[b.name][other]
			if o.err != nil || x.err != nil || x.value == 0 {
				row = append(row, "n/a")
			} else {
				row = append(row, fmt.Sprintf("%.2fx", o.value/x.value))
			}
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	w.Flush()
}

func hasRuntime(rts []runtime, name string) bool {
	for _, rt := range rts {
		if rt.name == name {
			return true
		}
	}
	return false
}

// shorten keeps the first line of an error, at most 60 characters, for a table cell.
func shorten(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

// ensureDataFile creates path with size pseudo-random bytes unless it already has that size.
func ensureDataFile(path string, size int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	x := uint64(0x9e3779b97f4a7c15)
	for written := int64(0); written < size; written += int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(buf[i:], x)
		}
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

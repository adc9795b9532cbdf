package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"runsc.dev/test/e2e/testenv"
)

// The everyday programs of a Debian system, run from the host's root under `runsc do`
// and natively: the same output and exit status (issue 4). Each runs in the e2e build
// directory, which the sandbox sees through the overlay.

// sameAsNative runs args natively and sandboxed and compares exit status and stdout,
// after filter (nil: none) is applied to both outputs.
func sameAsNative(t *testing.T, filter func(string) string, args ...string) {
	t.Helper()
	native := runNativeIn(t, buildDir, args...)
	got := runRunsc(t, append([]string{"do", "--cwd", buildDir}, args...)...)
	n, g := native.stdout, got.stdout
	if filter != nil {
		n, g = filter(n), filter(g)
	}
	if got.status != native.status || g != n {
		t.Errorf("%q: natively exit %d, stdout\n%s\nunder runsc %v", args, native.status, n, got)
	}
}

func TestShellPipeline(t *testing.T) {
	sameAsNative(t, nil, "/bin/sh", "-c", "for i in 3 1 2; do echo $i; done | sort | tr 1 x; exit 4")
}

// TestLsRoot compares `ls -la /` except the entries that are the sandbox's own
// filesystems (proc, sys, dev, tmp: other sizes, link counts and times) and the root
// itself (its link count and time come from the overlay's upper layer), with columns
// compared by content.
func TestLsRoot(t *testing.T) {
	own := map[string]bool{".": true, "..": true, "proc": true, "sys": true, "dev": true, "tmp": true}
	filter := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 9 && own[f[8]] || strings.HasPrefix(l, "total ") {
				continue
			}
			// Column widths depend on the widest field, which may be a skipped entry's.
			keep = append(keep, strings.Join(f, " "))
		}
		return strings.Join(keep, "\n")
	}
	sameAsNative(t, filter, "/bin/ls", "-la", "/")
}

func TestFindSharedLibraries(t *testing.T) {
	sameAsNative(t, nil, "/bin/sh", "-c", `find /usr/lib -name "*.so*" | wc -l`)
}

func TestTarRoundTrip(t *testing.T) {
	needTool(t, "tar")
	// Natively the archive goes to the build directory; sandboxed to the private /tmp.
	native := runNativeIn(t, buildDir, "/bin/sh", "-c", "tar czf a.tgz /etc 2>/dev/null; tar tzf a.tgz | sort; rm -f a.tgz")
	got := runRunsc(t, "do", "/bin/sh", "-c", "tar czf /tmp/a.tgz /etc 2>/dev/null; tar tzf /tmp/a.tgz | sort")
	if got.status != native.status || got.stdout != native.stdout {
		t.Errorf("tar: natively exit %d with %d lines; under runsc %d with %d lines:\n%s", native.status,
			strings.Count(native.stdout, "\n"), got.status, strings.Count(got.stdout, "\n"), firstDiff(native.stdout, got.stdout))
	}
}

// firstDiff describes the first line where two outputs differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: native %q, runsc %q", i+1, x, y)
		}
	}
	return "(same)"
}

const pythonProgram = `
import multiprocessing, os, signal, subprocess, sys, threading, time

results = []
lock = threading.Lock()
def work(i):
    time.sleep(0.01)
    with lock:
        results.append(i * i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", sorted(results))

p = subprocess.run(["sh", "-c", "echo from child; exit 3"], capture_output=True, text=True)
print("subprocess", p.stdout.strip(), p.returncode)

got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.05)
time.sleep(1)
print("signals", got)

def square(x):
    return x * x

if __name__ == "__main__":
    with multiprocessing.Pool(3) as pool:
        print("pool", pool.map(square, range(10)))
    q = multiprocessing.Queue()
    pr = multiprocessing.Process(target=q.put, args=("via queue",))
    pr.start(); print("process", q.get()); pr.join()
    print("exitcode", pr.exitcode)
    sys.exit(7)
`

func TestPython(t *testing.T) {
	py := needTool(t, "python3")
	script := writeFile(t, "procs.py", []byte(pythonProgram), 0o644)
	sameAsNative(t, nil, py, script)
}

func TestPerl(t *testing.T) {
	perl := needTool(t, "perl")
	sameAsNative(t, nil, perl, "-e", `
		my %h = (b => 2, a => 1);
		print join(",", map { "$_=$h{$_}" } sort keys %h), "\n";
		$SIG{USR1} = sub { print "got USR1\n" };
		kill USR1 => $$;
		my $pid = fork();
		if (!$pid) { exit 5 }
		waitpid($pid, 0);
		print "child ", $? >> 8, "\n";
		open(my $fh, "-|", "echo", "piped") or die;
		print "read ", <$fh>;
		exit 6;
	`)
}

const goProgram = `package main

import (
	"fmt"
	_ "net" // with cgo, links the C library dynamically
	"os"
	"os/exec"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	sums := make(chan int, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(10 * time.Millisecond)
			sums <- i
		}(i)
	}
	wg.Wait()
	close(sums)
	total := 0
	for s := range sums {
		total += s
	}
	fmt.Println("goroutines", total)
	out, err := exec.Command("/bin/sh", "-c", "echo child says hi; exit 2").Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	fmt.Printf("child %q %d\n", out, code)
	os.Exit(9)
}
`

// buildGo compiles goProgram with cgo on or off; it reports whether the binary has an
// interpreter (is dynamically linked).
func buildGo(t *testing.T, name string, cgo bool) (string, bool) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if p := "/usr/local/go/bin/go"; fileExists(p) {
			goTool = p
		} else {
			t.Skipf("no go tool to build the test program: %v", err)
		}
	}
	dir := filepath.Join(buildDir, name+"-src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module prog\n\ngo 1.21\n"), 0o644)
	out := filepath.Join(buildDir, name)
	cmd := exec.Command(goTool, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
	if cgo {
		if err := testenv.HaveGCC(); err != nil {
			t.Skipf("a dynamic Go program needs gcc: %v", err)
		}
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	} else {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go program: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return out, true
		}
	}
	return out, false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestGoStatic(t *testing.T) {
	bin, dynamic := buildGo(t, "gostatic", false)
	if dynamic {
		t.Fatalf("%s built with CGO_ENABLED=0 is dynamically linked", bin)
	}
	sameAsNative(t, nil, bin)
}

func TestGoDynamic(t *testing.T) {
	bin, dynamic := buildGo(t, "godynamic", true)
	if !dynamic {
		t.Fatalf("%s built with cgo is statically linked: the test needs a dynamic program", bin)
	}
	sameAsNative(t, nil, bin)
}

package e2e

// The OCI lifecycle driven from the command line, as container managers drive it:
// create/start/state/kill/delete, run with exit statuses, exec, ps, pause/resume, wait,
// events, list, spec, pid files, console sockets, hooks, mounts and process settings.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOCICreateStartKillDelete(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sleep", "1000")
		dir := b.write(t)
		id := ociID(t, "c")
		pidFile := filepath.Join(dir, "pid")
		rt.mustRun(t, "create", "--bundle", dir, "--pid-file", pidFile, id)
		st := rt.state(t, id)
		if st.Status != "created" || st.ID != id || st.PID <= 0 || st.Bundle != dir {
			t.Errorf("state after create: %+v", st)
		}
		if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(st.PID) {
			t.Errorf("pid file %q (%v), state pid %d", b, err, st.PID)
		}
		rt.mustRun(t, "start", id)
		if st := rt.state(t, id); st.Status != "running" {
			t.Errorf("state after start: %+v", st)
		}
		rt.mustFail(t, "start", id)
		rt.mustFail(t, "delete", id) // running, no --force
		rt.mustRun(t, "kill", id, "KILL")
		rt.waitStatus(t, id, "stopped")
		if st := rt.state(t, id); st.PID != 0 {
			t.Errorf("stopped container has pid %d", st.PID)
		}
		rt.mustFail(t, "kill", id, "KILL")
		rt.mustRun(t, "delete", id)
		rt.mustFail(t, "state", id)
	})
}

func TestOCIKillCreated(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "c")
		rt.mustRun(t, "create", "--bundle", dir, id)
		rt.mustRun(t, "kill", id, "9")
		rt.waitStatus(t, id, "stopped")
		rt.mustRun(t, "delete", id)
	})
}

func TestOCIDeleteCreated(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "c")
		rt.mustRun(t, "create", "--bundle", dir, id)
		rt.mustRun(t, "delete", id)
		rt.mustFail(t, "state", id)
	})
}

func TestOCIDeleteForce(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "c")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		rt.mustRun(t, "delete", "--force", id)
		rt.mustFail(t, "state", id)
	})
}

func TestOCIRunExitStatus(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		for _, c := range []struct {
			script string
			status int
		}{
			{"echo out; echo err >&2; exit 3", 3},
			{"exit 0", 0},
			{"sleep 1000 & kill -9 $!; wait $!", 137},
		} {
			dir := newBundle(t, "sh", "-c", c.script).write(t)
			o := rt.run(t, "run", "--bundle", dir, ociID(t, "r"))
			if o.status != c.status {
				t.Errorf("run %q: %v, want status %d", c.script, o, c.status)
			}
			if c.status == 3 && (o.stdout != "out\n" || !strings.Contains(o.stderr, "err")) {
				t.Errorf("run %q: %v", c.script, o)
			}
		}
	})
}

func TestOCIRunKilled(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "r")
		cmd := rt.cmd(t.Context(), "run", "--bundle", dir, id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		rt.waitStatus(t, id, "running")
		rt.mustRun(t, "kill", id, "SIGKILL")
		cmd.Wait()
		if s := exitStatus(cmd.ProcessState); s != 137 {
			t.Errorf("run of a killed container exited %d, want 137", s)
		}
		rt.mustFail(t, "state", id) // run deletes the container
	})
}

func TestOCISigtermIgnoredByInit(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "c")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		rt.mustRun(t, "kill", id) // SIGTERM: PID 1 without a handler ignores it
		time.Sleep(300 * time.Millisecond)
		if st := rt.state(t, id); st.Status != "running" {
			t.Errorf("after SIGTERM: %s, want running (init ignores it)", st.Status)
		}
		// A shell that traps TERM does get it.
		dir2 := newBundle(t, "sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done").write(t)
		id2 := ociID(t, "t")
		rt.mustRun(t, "run", "--detach", "--bundle", dir2, id2)
		time.Sleep(300 * time.Millisecond)
		rt.mustRun(t, "kill", id2, "TERM")
		rt.waitStatus(t, id2, "stopped")
		rt.mustRun(t, "kill", "--all", id, "KILL")
		rt.waitStatus(t, id, "stopped")
		rt.mustRun(t, "delete", id)
		rt.mustRun(t, "delete", id2)
	})
}

func TestOCIProcessSettings(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", `echo "foo=$FOO"; pwd; id -u; id -g; id -G; hostname; umask; ulimit -n; ulimit -Hn`)
		b.spec.Process.Env = append(b.spec.Process.Env, "FOO=bar baz")
		b.spec.Process.Cwd = "/tmp"
		b.spec.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 2001}}
		umask := uint32(0o027)
		b.spec.Process.User.Umask = &umask
		b.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 500, Hard: 600}}
		b.spec.Hostname = "settings-host"
		dir := b.write(t)
		o := rt.run(t, "run", "--bundle", dir, ociID(t, "r"))
		want := "foo=bar baz\n/tmp\n1000\n1001\n1001 2000 2001\nsettings-host\n0027\n500\n600\n"
		if o.status != 0 || o.stdout != want {
			t.Errorf("got %v\nwant stdout %q", o, want)
		}
	})
}

func TestOCIRlimitAboveHostFails(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		var cur syscallRlimit
		getNofile(&cur)
		b := newBundle(t, "true")
		b.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Max + 1, Hard: cur.Max + 1}}
		dir := b.write(t)
		if hasCapSysResource() {
			t.Skip("CAP_SYS_RESOURCE is held: raising the limit would succeed")
		}
		rt.mustFail(t, "run", "--bundle", dir, ociID(t, "r"))
	})
}

func TestOCIReadonlyRoot(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "touch /newfile && echo wrote; touch /tmp/x && echo tmp")
		b.spec.Root.Readonly = true
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
		dir := b.write(t)
		o := rt.run(t, "run", "--bundle", dir, ociID(t, "r"))
		if o.status != 0 || strings.Contains(o.stdout, "wrote") || !strings.Contains(o.stdout, "tmp") {
			t.Errorf("read-only root: %v", o)
		}
	})
}

func TestOCIBindMounts(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "cat /data/in; echo written > /data/out; echo x > /ro/f || echo ro-refused; cat /ro/f; cat /etc/greeting; echo y > /etc/greeting || echo file-ro-refused")
		// Under runsc's memory overlay (the default), a write to a bind-mounted file goes
		// to the overlay, never to the host file: only runc refuses it.
		data := b.hostDir(t, "data")
		ro := b.hostDir(t, "ro")
		os.WriteFile(filepath.Join(data, "in"), []byte("from host\n"), 0o644)
		os.WriteFile(filepath.Join(ro, "f"), []byte("read only\n"), 0o644)
		greet := filepath.Join(b.dir, "greeting")
		os.WriteFile(greet, []byte("hello file\n"), 0o644)
		b.spec.Mounts = append(b.spec.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/ro", Type: "bind", Source: ro, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/etc/greeting", Type: "bind", Source: greet, Options: []string{"bind", "ro"}},
		)
		dir := b.write(t)
		o := rt.run(t, "run", "--bundle", dir, ociID(t, "r"))
		for _, w := range []string{"from host", "ro-refused", "read only", "hello file", "file-ro-refused"} {
			if w == "file-ro-refused" && rt.isRunsc() {
				continue
			}
			if !strings.Contains(o.stdout, w) {
				t.Errorf("output lacks %q: %v", w, o)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(data, "out")); string(got) != "written\n" {
			t.Errorf("host sees %q in the rw bind mount", got)
		}
		if got, _ := os.ReadFile(filepath.Join(ro, "f")); string(got) != "read only\n" {
			t.Errorf("ro bind mount changed on the host: %q", got)
		}
		if got, _ := os.ReadFile(greet); string(got) != "hello file\n" {
			t.Errorf("ro bind-mounted file changed on the host: %q", got)
		}
	})
}

func TestOCIHooks(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "echo main >> /shared/log")
		shared := b.hostDir(t, "shared")
		log := filepath.Join(shared, "log")
		hook := func(kind string) specs.Hook {
			// The state arrives on stdin: record the id and status with the hook's name.
			return specs.Hook{Path: "/bin/busybox", Args: []string{"sh", "-c",
				fmt.Sprintf(`read -r s; id=$(echo "$s" | sed 's/.*"id":"\([^"]*\)".*/\1/'); echo "%s $id" >> %s`, kind, log)}}
		}
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
		b.spec.Hooks = &specs.Hooks{
			Prestart:      []specs.Hook{hook("prestart")},
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			// createContainer runs on the host in runsc and in the container in runc: a
			// path that exists in both.
			CreateContainer: []specs.Hook{{Path: "/bin/busybox", Args: []string{"busybox", "true"}}},
			StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer >> /shared/log"}}},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		}
		dir := b.write(t)
		id := ociID(t, "h")
		rt.mustRun(t, "create", "--bundle", dir, id)
		rt.mustRun(t, "start", id)
		rt.waitStatus(t, id, "stopped")
		rt.mustRun(t, "delete", id)
		got, _ := os.ReadFile(log)
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		wantOrder := []string{"prestart " + id, "createRuntime " + id, "startContainer", "poststart " + id, "poststop " + id}
		var seen []string
		for _, l := range lines {
			if l != "main" {
				seen = append(seen, l)
			}
		}
		// runc runs startContainer in the container's init once start returns, so it
		// may come after poststart.
		if len(seen) == len(wantOrder) && seen[2] == wantOrder[3] && seen[3] == wantOrder[2] {
			seen[2], seen[3] = seen[3], seen[2]
		}
		if strings.Join(seen, "|") != strings.Join(wantOrder, "|") {
			t.Errorf("hooks ran as:\n%s\nwant (ignoring main) %q", got, wantOrder)
		}
		if !strings.Contains(string(got), "main") {
			t.Errorf("the container did not run: %s", got)
		}
	})
}

func TestOCIHookFailureAndTimeout(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		for _, h := range []specs.Hook{
			{Path: "/bin/busybox", Args: []string{"false"}},
			{Path: "/bin/busybox", Args: []string{"sleep", "30"}, Timeout: intp(1)},
		} {
			b := newBundle(t, "true")
			b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{h}}
			dir := b.write(t)
			id := ociID(t, "f")
			start := time.Now()
			rt.mustFail(t, "create", "--bundle", dir, id)
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("hook %v: create took %v", h.Args, d)
			}
			rt.mustFail(t, "state", id)
		}
	})
}

func intp(n int) *int { return &n }

func TestOCIConsoleSocket(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; read line; echo got-$line; exit 4")
		b.spec.Process.Terminal = true
		dir := b.write(t)
		id := ociID(t, "t")
		cs := newConsoleSocket(t)
		type res struct{ o outcome }
		done := make(chan outcome, 1)
		go func() { done <- rt.run(t, "create", "--bundle", dir, "--console-socket", cs.path, id) }()
		master := cs.recv(t)
		defer master.Close()
		if o := <-done; o.status != 0 {
			t.Fatalf("create: %v", o)
		}
		rt.mustRun(t, "start", id)
		readUntil(t, master, "is-a-tty")
		master.Write([]byte("hello\n"))
		readUntil(t, master, "got-hello")
		rt.waitStatus(t, id, "stopped")
		rt.mustRun(t, "delete", id)
	})
}

func TestOCIExec(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sleep", "1000")
		b.spec.Process.Env = append(b.spec.Process.Env, "BASE=1")
		dir := b.write(t)
		id := ociID(t, "e")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		o := rt.run(t, "exec", id, "sh", "-c", "echo hi; echo $BASE; exit 5")
		if o.status != 5 || o.stdout != "hi\n1\n" {
			t.Errorf("exec: %v", o)
		}
		o = rt.run(t, "exec", "--env", "X=y", "--cwd", "/tmp", "--user", "123:456", id, "sh", "-c", "echo $X; pwd; id -u; id -g")
		if o.status != 0 || o.stdout != "y\n/tmp\n123\n456\n" {
			t.Errorf("exec with flags: %v", o)
		}
		// stdin reaches the process.
		in := tempFile(t, "stdin")
		in.WriteString("line from stdin\n")
		in.Seek(0, 0)
		if o := rt.runIn(t, in, "exec", id, "cat"); o.stdout != "line from stdin\n" {
			t.Errorf("exec cat: %v", o)
		}
		in.Close()
		// --process.
		proc := specs.Process{Args: []string{"sh", "-c", "echo from-process-file; exit 6"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		pf := filepath.Join(dir, "process.json")
		data, _ := json.Marshal(proc)
		os.WriteFile(pf, data, 0o644)
		if o := rt.run(t, "exec", "--process", pf, id); o.status != 6 || o.stdout != "from-process-file\n" {
			t.Errorf("exec --process: %v", o)
		}
		rt.mustFail(t, "exec", id, "/no/such/program")
		// --detach with a pid file: the PID is a process whose exit status is the
		// exec'd process's (what conmon and the containerd shim wait for).
		pidFile := filepath.Join(dir, "exec.pid")
		rt.mustRun(t, "exec", "--detach", "--pid-file", pidFile, id, "sh", "-c", "sleep 0.3; exit 9")
		pb, err := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
		if err != nil || pid <= 0 {
			t.Fatalf("exec pid file: %q %v", pb, err)
		}
		if rt.isRunsc() {
			// The waiter is our child (we are a subreaper): its status is the process's.
			if s := waitPID(t, pid); s != 9 {
				t.Errorf("exec --detach waiter exited %d, want 9", s)
			}
		}
		rt.mustRun(t, "kill", id, "KILL")
		rt.waitStatus(t, id, "stopped")
		rt.mustFail(t, "exec", id, "true")
		rt.mustRun(t, "delete", id)
	})
}

func TestOCIExecTTY(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "e")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		cs := newConsoleSocket(t)
		done := make(chan outcome, 1)
		go func() {
			done <- rt.run(t, "exec", "--tty", "--detach", "--console-socket", cs.path, id, "sh", "-c", "test -t 0 && echo exec-tty; read x; echo got-$x")
		}()
		master := cs.recv(t)
		defer master.Close()
		if o := <-done; o.status != 0 {
			t.Fatalf("exec --tty: %v", o)
		}
		readUntil(t, master, "exec-tty")
		master.Write([]byte("abc\n"))
		readUntil(t, master, "got-abc")
		rt.forceDelete(t, id)
	})
}

// waitPID waits for a child of ours (we are a subreaper) and returns its exit status.
func waitPID(t *testing.T, pid int) int {
	t.Helper()
	var ws syscallWaitStatus
	done := make(chan struct{})
	go func() {
		wait4(pid, &ws)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("process %d did not exit", pid)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func TestOCIPsListEvents(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sleep", "1000")
		b.spec.Annotations = map[string]string{"org.example.test": "yes"}
		dir := b.write(t)
		id := ociID(t, "p")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		if st := rt.state(t, id); st.Annotations["org.example.test"] != "yes" {
			t.Errorf("state lacks the annotation: %+v", st)
		}
		var pids []int
		out := rt.mustRun(t, "ps", "--format", "json", id)
		if err := json.Unmarshal([]byte(out), &pids); err != nil || len(pids) == 0 {
			t.Errorf("ps --format json: %q (%v)", out, err)
		}
		if out := rt.mustRun(t, "ps", id); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep") {
			t.Errorf("ps: %q", out)
		}
		out = rt.mustRun(t, "list")
		if !strings.Contains(out, "ID") || !strings.Contains(out, id) || !strings.Contains(out, "running") {
			t.Errorf("list: %q", out)
		}
		var states []ociState
		out = rt.mustRun(t, "list", "--format", "json")
		if err := json.Unmarshal([]byte(out), &states); err != nil || len(states) != 1 || states[0].ID != id {
			t.Errorf("list --format json: %q (%v)", out, err)
		}
		out = rt.mustRun(t, "events", "--stats", id)
		var ev struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Type != "stats" || ev.ID != id {
			t.Errorf("events --stats: %q (%v)", out, err)
		}
		rt.mustRun(t, "delete", "--force", id)
	})
}

func TestOCIPauseResume(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "while true; do echo x >> /shared/ticks; sleep 0.02; done")
		shared := b.hostDir(t, "shared")
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
		dir := b.write(t)
		id := ociID(t, "p")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		ticks := filepath.Join(shared, "ticks")
		size := func() int64 {
			st, _ := os.Stat(ticks)
			if st == nil {
				return 0
			}
			return st.Size()
		}
		time.Sleep(200 * time.Millisecond)
		rt.mustRun(t, "pause", id)
		if st := rt.state(t, id); st.Status != "paused" {
			t.Errorf("after pause: %s", st.Status)
		}
		rt.mustFail(t, "pause", id)
		s1 := size()
		time.Sleep(300 * time.Millisecond)
		if s2 := size(); s2 != s1 {
			t.Errorf("the container ran while paused (%d -> %d bytes)", s1, s2)
		}
		if rt.isRunsc() {
			rt.mustFail(t, "exec", id, "true") // runc blocks on the frozen cgroup instead
		}
		rt.mustRun(t, "resume", id)
		rt.mustFail(t, "resume", id)
		time.Sleep(300 * time.Millisecond)
		if size() == s1 {
			t.Errorf("the container did not run after resume")
		}
		rt.mustRun(t, "delete", "--force", id)
	})
}

func TestOCIWait(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		if !rt.isRunsc() {
			t.Skip("runc has no wait command")
		}
		dir := newBundle(t, "sh", "-c", "sleep 0.3; exit 12").write(t)
		id := ociID(t, "w")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		o := rt.run(t, "wait", id)
		if o.status != 12 || !strings.Contains(o.stdout, `"exitStatus":12`) {
			t.Errorf("wait: %v", o)
		}
		// Once the sandbox is gone, wait still knows the status.
		rt.waitStatus(t, id, "stopped")
		if o := rt.run(t, "wait", id); o.status != 12 {
			t.Errorf("wait after exit: %v", o)
		}
		rt.mustRun(t, "delete", id)
	})
}

func TestOCIConcurrentCommands(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "c")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for _, args := range [][]string{{"state", id}, {"exec", id, "true"}, {"ps", "--format", "json", id}, {"kill", id, "CONT"}, {"list"}} {
					o := rt.run(t, args...)
					if o.status != 0 {
						errs <- fmt.Sprintf("%v: %v", args, o)
					}
					if args[0] == "state" {
						var st ociState
						if err := json.Unmarshal([]byte(o.stdout), &st); err != nil || st.Status != "running" {
							errs <- fmt.Sprintf("state: %q (%v)", o.stdout, err)
						}
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		// Concurrent forced deletes: all succeed (--force of a container that is gone
		// is not an error, as in runc), and the container is gone.
		var ok int
		var mu sync.Mutex
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if o := rt.run(t, "delete", "--force", id); o.status == 0 {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 4 {
			t.Errorf("%d of 4 concurrent forced deletes succeeded", ok)
		}
		rt.mustFail(t, "state", id)
		rt.mustFail(t, "delete", id)
	})
}

func TestOCISpec(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "true").dir
		rt.mustRun(t, "spec", "--bundle", dir)
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil || s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil {
			t.Errorf("spec wrote %s (%v)", data, err)
		}
		rt.mustFail(t, "spec", "--bundle", dir) // exists
	})
}

func TestOCIBadInput(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		good := newBundle(t, "sleep", "1000").write(t)
		// Missing config.json.
		empty := filepath.Join(good, "empty")
		os.MkdirAll(empty, 0o755)
		rt.mustFail(t, "create", "--bundle", empty, ociID(t, "a"))
		// Malformed config.json: the error names the position.
		bad := filepath.Join(good, "bad")
		os.MkdirAll(bad, 0o755)
		os.WriteFile(filepath.Join(bad, "config.json"), []byte("{\"ociVersion\": \"1.0.0\",\n \"process\": {\"args\": [\"sh\",]}}"), 0o644)
		o := rt.mustFail(t, "create", "--bundle", bad, ociID(t, "b"))
		if rt.isRunsc() && !strings.Contains(o.stderr, "line 2") {
			t.Errorf("malformed config.json: error does not give the position: %s", o.stderr)
		}
		// A field of the wrong type: the error names it.
		os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"ociVersion": "1.0.0", "process": {"args": "sh", "cwd": "/"}, "root": {"path": "rootfs"}}`), 0o644)
		o = rt.mustFail(t, "create", "--bundle", bad, ociID(t, "c"))
		if rt.isRunsc() && !strings.Contains(o.stderr, "process.args") {
			t.Errorf("wrong type: error does not name the field: %s", o.stderr)
		}
		// Bundle that is not a directory.
		rt.mustFail(t, "create", "--bundle", filepath.Join(good, "config.json"), ociID(t, "d"))
		// IDs.
		for _, id := range []string{"a/b", "..", "../x", ""} {
			rt.mustFail(t, "create", "--bundle", good, id)
		}
		// Duplicate ID.
		id := ociID(t, "dup")
		rt.mustRun(t, "create", "--bundle", good, id)
		rt.mustFail(t, "create", "--bundle", good, id)
		if st := rt.state(t, id); st.Status != "created" {
			t.Errorf("the first container was disturbed: %+v", st)
		}
		// Unknown signal.
		rt.mustFail(t, "kill", id, "SIGFOO")
		rt.mustFail(t, "kill", id, "99")
		rt.mustRun(t, "start", id)
		// Delete of a running container without --force.
		rt.mustFail(t, "delete", id)
		rt.mustRun(t, "kill", id, "KILL")
		rt.waitStatus(t, id, "stopped")
		// Exec into a stopped container.
		rt.mustFail(t, "exec", id, "true")
		rt.mustRun(t, "delete", id)
		// Commands on a container that does not exist.
		for _, args := range [][]string{{"state", "nosuch"}, {"start", "nosuch"}, {"kill", "nosuch"}, {"delete", "nosuch"}, {"exec", "nosuch", "true"}, {"pause", "nosuch"}} {
			rt.mustFail(t, args...)
		}
	})
}

func TestOCICgroups(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sleep", "1000")
		id := ociID(t, "g")
		limit := int64(256 << 20)
		shares := uint64(512)
		quota, period := int64(50000), uint64(100000)
		pids := int64(64)
		b.spec.Linux.CgroupsPath = "/runsc-e2e/" + id
		b.spec.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &limit},
			CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
			Pids:   &specs.LinuxPids{Limit: &pids},
		}
		dir := b.write(t)
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		root := "/sys/fs/cgroup"
		if _, err := os.Stat(filepath.Join(root, "memory")); err != nil {
			t.Skip("not a cgroup v1 host")
		}
		for _, c := range []struct{ file, want string }{
			{"memory/runsc-e2e/" + id + "/memory.limit_in_bytes", strconv.FormatInt(limit, 10)},
			{"cpu/runsc-e2e/" + id + "/cpu.shares", "512"},
			{"cpu/runsc-e2e/" + id + "/cpu.cfs_quota_us", "50000"},
			{"pids/runsc-e2e/" + id + "/pids.max", "64"},
		} {
			got, err := os.ReadFile(filepath.Join(root, c.file))
			if err != nil || strings.TrimSpace(string(got)) != c.want {
				t.Errorf("%s = %q (%v), want %s", c.file, got, err, c.want)
			}
		}
		procs, _ := os.ReadFile(filepath.Join(root, "pids/runsc-e2e", id, "cgroup.procs"))
		if st := rt.state(t, id); !strings.Contains(string(procs), strconv.Itoa(st.PID)) {
			t.Errorf("the container's pid %d is not in its cgroup (%q)", st.PID, procs)
		}
		rt.mustRun(t, "delete", "--force", id)
		if _, err := os.Stat(filepath.Join(root, "memory/runsc-e2e", id)); err == nil {
			t.Errorf("the cgroup is left after delete")
		}
		os.Remove(filepath.Join(root, "memory/runsc-e2e"))
		for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"} {
			os.Remove(filepath.Join(root, c, "runsc-e2e"))
		}
	})
}

func TestOCIUserNamespace(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sh", "-c", "id -u; echo x > /shared/made-inside")
		shared := b.hostDir(t, "shared")
		os.Chmod(shared, 0o777)
		// runc makes mount points as the namespace's root, which may not write here.
		os.MkdirAll(filepath.Join(b.dir, "rootfs", "shared"), 0o755)
		b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		b.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
		// sysfs cannot be mounted in a user namespace that does not own the network
		// namespace; drop it (runc would fail).
		var mounts []specs.Mount
		for _, m := range b.spec.Mounts {
			if m.Type != "sysfs" {
				mounts = append(mounts, m)
			}
		}
		b.spec.Mounts = mounts
		dir := b.write(t)
		o := rt.run(t, "run", "--bundle", dir, ociID(t, "u"))
		if o.status != 0 || o.stdout != "0\n" {
			t.Fatalf("run in a user namespace: %v", o)
		}
		st, err := os.Stat(filepath.Join(shared, "made-inside"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscallStat).Uid; uid != 100000 {
			t.Errorf("a file made by the container's root is owned by host uid %d, want 100000", uid)
		}
	})
}

func TestOCIPod(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		podID := ociID(t, "pod")
		pod := newBundle(t, "sleep", "1000")
		pod.spec.Annotations = map[string]string{"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": podID}
		podDir := pod.write(t)
		rt.mustRun(t, "create", "--bundle", podDir, podID)
		rt.mustRun(t, "start", podID)

		// The app container: its own bundle, rootfs and mounts.
		app := newNamedBundle(t, "-app", "sh", "-c", "cat /marker > /shared/seen; echo $APP >> /shared/seen; sleep 1000")
		os.WriteFile(filepath.Join(app.dir, "rootfs", "marker"), []byte("app rootfs\n"), 0o644)
		shared := app.hostDir(t, "shared")
		appID := ociID(t, "app")
		app.spec.Process.Env = append(app.spec.Process.Env, "APP=yes")
		app.spec.Annotations = map[string]string{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": podID}
		app.spec.Mounts = append(app.spec.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
		appDir := app.write(t)
		sandboxesBefore := countSandboxes()
		pidFile := filepath.Join(appDir, "app.pid")
		rt.mustRun(t, "create", "--bundle", appDir, "--pid-file", pidFile, appID)
		if st := rt.state(t, appID); st.Status != "created" {
			t.Errorf("app after create: %+v", st)
		}
		if rt.isRunsc() {
			if n := countSandboxes(); n != sandboxesBefore {
				t.Errorf("the pod's container started a sandbox of its own (%d -> %d sandboxes)", sandboxesBefore, n)
			}
		}
		rt.mustRun(t, "start", appID)
		waitFor(t, func() bool {
			b, _ := os.ReadFile(filepath.Join(shared, "seen"))
			return string(b) == "app rootfs\nyes\n"
		}, "the app container ran in its own rootfs")
		if o := rt.run(t, "exec", appID, "cat", "/marker"); o.status != 0 || o.stdout != "app rootfs\n" {
			t.Errorf("exec in the app container: %v", o)
		}
		if o := rt.run(t, "exec", podID, "sh", "-c", "test -e /marker || echo no-marker"); o.stdout != "no-marker\n" {
			t.Errorf("exec in the pod container sees the app's rootfs: %v", o)
		}
		rt.mustRun(t, "kill", appID, "KILL")
		rt.waitStatus(t, appID, "stopped")
		if st := rt.state(t, podID); st.Status != "running" {
			t.Errorf("the pod's sandbox container after its app stopped: %+v", st)
		}
		rt.mustRun(t, "delete", appID)
		rt.forceDelete(t, podID)
	})
}

// countSandboxes counts the OCI sandbox processes on the host.
func countSandboxes() int {
	n := 0
	for _, p := range runtimeProcs() {
		if len(p.Cmdline) > 0 && filepath.Base(p.Cmdline[0]) == "runsc-sandbox" {
			n++
		}
	}
	return n
}

func TestOCIRunForeground(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		// stdin reaches the container.
		dir := newBundle(t, "sh", "-c", "read l; echo got-$l").write(t)
		in := tempFile(t, "stdin")
		in.WriteString("input\n")
		in.Seek(0, 0)
		if o := rt.runIn(t, in, "run", "--bundle", dir, ociID(t, "in")); o.status != 0 || o.stdout != "got-input\n" {
			t.Errorf("run with stdin: %v", o)
		}
		in.Close()
		// A signal to run goes to the container's init.
		dir2 := newNamedBundle(t, "-sig", "sh", "-c", "trap 'exit 9' TERM; echo ready; while true; do sleep 0.1; done").write(t)
		id := ociID(t, "sig")
		out := tempFile(t, "out")
		defer out.Close()
		cmd := rt.cmd(t.Context(), "run", "--bundle", dir2, id)
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		waitFor(t, func() bool { return strings.Contains(readBack(out), "ready") }, "the container is ready")
		cmd.Process.Signal(syscallSIGTERM)
		cmd.Wait()
		if s := exitStatus(cmd.ProcessState); s != 9 {
			t.Errorf("run after SIGTERM exited %d, want 9 (the container's trap)", s)
		}
		// A terminal: run proxies it when there is no console socket.
		b3 := newNamedBundle(t, "-tty", "sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty; exit 3")
		b3.spec.Process.Terminal = true
		dir3 := b3.write(t)
		script := strings.Join(rt.cmd(t.Context(), "run", "--bundle", dir3, ociID(t, "tty")).Args, " ")
		if o := clientRun(t, nil, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "on-a-tty") || o.status != 3 {
			t.Errorf("run with a terminal under script: %v", o)
		}
	})
}

func TestOCICreateKilledMidway(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		b := newBundle(t, "sleep", "1000")
		marker := filepath.Join(b.dir, "hook-started")
		b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/busybox", Args: []string{"sh", "-c", "echo $$ > " + marker + "; exec sleep 30"}}}}
		dir := b.write(t)
		id := ociID(t, "k")
		cmd := rt.cmd(t.Context(), "create", "--bundle", dir, id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { _, err := os.Stat(marker); return err == nil }, "the hook runs")
		// The client dies in the middle of create; its hook is not the runtime's to stop.
		cmd.Process.Kill()
		cmd.Wait()
		if b, err := os.ReadFile(marker); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscallKill(pid)
			}
		}
		rt.forceDelete(t, id)
		rt.mustFail(t, "state", id)
	})
}

func TestOCINetworkNamespacePath(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		// A process in a network namespace of its own holds it.
		holder := exec.Command("unshare", "--net", "sleep", "1000")
		if err := holder.Start(); err != nil {
			t.Fatalf("unshare: %v", err)
		}
		defer func() { holder.Process.Kill(); holder.Wait() }()
		nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
		var want string
		waitFor(t, func() bool {
			l, err := os.Readlink(nsPath)
			self, _ := os.Readlink("/proc/self/ns/net")
			want = l
			return err == nil && l != self
		}, "the holder is in its own network namespace")
		b := newBundle(t, "sleep", "1000")
		for i, ns := range b.spec.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				b.spec.Linux.Namespaces[i].Path = nsPath
			}
		}
		dir := b.write(t)
		id := ociID(t, "n")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		st := rt.state(t, id)
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", st.PID)); got != want {
			t.Errorf("the container's process is in network namespace %s, want %s", got, want)
		}
		rt.forceDelete(t, id)
		// The path must be a network namespace.
		for i, ns := range b.spec.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				b.spec.Linux.Namespaces[i].Path = "/proc/self/ns/ipc"
			}
		}
		rt.mustFail(t, "run", "--bundle", b.write(t), ociID(t, "bad"))
	})
}

func TestOCIExecDetachedKilled(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sleep", "1000").write(t)
		id := ociID(t, "e")
		rt.mustRun(t, "run", "--detach", "--bundle", dir, id)
		pidFile := filepath.Join(dir, "exec.pid")
		rt.mustRun(t, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "999")
		waitFor(t, func() bool { return strings.Contains(rt.mustRun(t, "ps", id), "sleep 999") }, "the exec'd process runs")
		b, _ := os.ReadFile(pidFile)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid file %q: %v", b, err)
		}
		// SIGKILL to the PID a client was given ends the process (with runsc, the waiter
		// that stands for it takes the process with it).
		syscallKill(pid)
		waitFor(t, func() bool {
			reapZombieChildren()
			return !strings.Contains(rt.mustRun(t, "ps", id), "sleep 999")
		}, "the exec'd process is gone")
		rt.forceDelete(t, id)
	})
}

package specutils

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-DEF_1.2+3", strings.Repeat("x", 1024)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a/b", "..", ".", "a..b", "../x", "a b", "a\x00", strings.Repeat("x", 1025), "é"} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) succeeded", id)
		}
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "is empty"},
		{"{\n  \"ociVersion\": \"1.0\",\n  \"process\": {,}\n}", "line 3"},
		{`{"ociVersion": "1.0", "process": {"args": "sh"}}`, `"process.args"`},
		{`{"ociVersion": 5}`, `"ociVersion"`},
		{`[]`, "cannot use"},
	} {
		_, err := DecodeSpec(strings.NewReader(c.in), "config.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeSpec(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func writeBundle(t *testing.T, spec *specs.Spec) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755)
	b, _ := json.Marshal(spec)
	os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644)
	return dir
}

func TestLoadBundleValidation(t *testing.T) {
	good := func() *specs.Spec {
		s := DefaultSpec(false, 0, 0)
		s.Process.Terminal = false
		return s
	}
	if _, _, err := LoadBundle(writeBundle(t, good())); err != nil {
		t.Fatalf("the default spec: %v", err)
	}
	for _, c := range []struct {
		mutate func(*specs.Spec)
		want   string
	}{
		{func(s *specs.Spec) { s.Process = nil }, `"process"`},
		{func(s *specs.Spec) { s.Process.Args = nil }, `"process.args"`},
		{func(s *specs.Spec) { s.Process.Cwd = "rel" }, `"process.cwd"`},
		{func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, `"process.env[0]"`},
		{func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, `rlimits[0].type`},
		{func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_BOGUS"} }, `capabilities.bounding`},
		{func(s *specs.Spec) { s.Root.Path = "missing" }, `"root.path"`},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "rel"}) }, `"mounts[6]"`},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind"}) }, `source`},
		{func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "rel"}}} }, `hooks.poststop[0].path`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `linux.namespaces[5].type`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `given twice`},
		{func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, `"user" namespace`},
		{func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"rel"} }, `not an absolute path`},
	} {
		s := good()
		c.mutate(s)
		_, _, err := LoadBundle(writeBundle(t, s))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error containing %q, got %v", c.want, err)
		}
	}
	if _, _, err := LoadBundle(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Errorf("a missing bundle loaded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, _, err := LoadBundle(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as bundle: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "kill": unix.SIGKILL,
		"TERM": unix.SIGTERM, "USR1": unix.SIGUSR1, "RTMIN": 34, "RTMIN+2": 36, "RTMAX-1": 63, "64": 64,
	} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "FOO", "SIG", "RTMIN+31", "9x"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", in)
		}
	}
}

func TestPlanMounts(t *testing.T) {
	s := DefaultSpec(false, 0, 0)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data/", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro", "nosuid"}},
		specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/somewhere/shm", Options: []string{"rbind", "nosuid"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Options: []string{"size=1m", "mode=1777"}},
		specs.Mount{Destination: "/", Type: "bind", Source: "/"},
		specs.Mount{Destination: "/x", Type: "overlay"},
	)
	kinds := map[string]MountKind{}
	var data *PlannedMount
	for _, m := range PlanMounts(s) {
		m := m
		kinds[m.Destination+" "+m.Type] = m.Kind
		if m.Destination == "/data" {
			data = &m
		}
	}
	for k, want := range map[string]MountKind{
		"/proc proc": MountProc, "/dev tmpfs": MountDev, "/dev/pts devpts": MountKernelFS,
		"/dev/mqueue mqueue": MountKernelFS, "/sys sysfs": MountKernelFS, "/data bind": MountBind,
		"/dev/shm bind": MountTmpfs, "/tmp tmpfs": MountTmpfs, "/ bind": MountSkip, "/x overlay": MountSkip,
	} {
		if kinds[k] != want {
			t.Errorf("%s: kind %d, want %d", k, kinds[k], want)
		}
	}
	if data == nil || !data.ReadOnly() || data.Flags&unix.MS_NOSUID == 0 {
		t.Errorf("bind mount flags: %+v", data)
	}
	mode, size, _, _, err := TmpfsOptions([]string{"size=1m", "mode=700", "uid=5"})
	if err != nil || mode != 0o700 || size != 1<<20 {
		t.Errorf("TmpfsOptions: %o %d %v", mode, size, err)
	}
	if _, _, _, _, err := TmpfsOptions([]string{"size=lots"}); err == nil {
		t.Errorf("TmpfsOptions accepted size=lots")
	}
}

func TestUnsupportedNamesFields(t *testing.T) {
	s := DefaultSpec(false, 0, 0)
	s.Linux.Seccomp = &specs.LinuxSeccomp{}
	s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "10"}
	s.Process.ApparmorProfile = "x"
	got := strings.Join(Unsupported(s), "\n")
	for _, f := range []string{"linux.seccomp", "linux.sysctl.net.core.somaxconn", "process.apparmorProfile"} {
		if !strings.Contains(got, f) {
			t.Errorf("Unsupported does not name %s:\n%s", f, got)
		}
	}
}

// FuzzDecodeSpec: no config.json, however malformed, makes the decoder or the validator
// panic.
func FuzzDecodeSpec(f *testing.F) {
	b, _ := json.Marshal(DefaultSpec(false, 0, 0))
	f.Add(b)
	f.Add([]byte(`{"ociVersion":"1","process":{"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE"}]},"root":{"path":"."},"mounts":[{"destination":"/a","type":"bind","source":"/b"}],"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"size":0}]}}`))
	f.Add([]byte(`{"hooks":{"prestart":[{"path":"/x","timeout":-1}]}}`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSpec(bytes.NewReader(data), "config.json")
		if err != nil {
			return
		}
		if s.Root != nil {
			s.Root.Path = dir
		}
		Validate(s, dir)
		PlanMounts(s)
		Unsupported(s)
	})
}

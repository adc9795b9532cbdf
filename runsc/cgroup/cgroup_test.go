package cgroup

import (
	"strings"
	"testing"
)

func TestSystemdPath(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice:docker:abc":     "/system.slice/docker-abc.scope",
		":runsc:x":                    "/system.slice/runsc-x.scope",
		"machine-pod1.slice:crio:abc": "/machine.slice/machine-pod1.slice/crio-abc.scope",
		"a-b-c.slice::x":              "/a.slice/a-b.slice/a-b-c.slice/x.scope",
		"-.slice:p:n":                 "/p-n.scope",
		"user.slice:p:inner.slice":    "/user.slice/inner.slice",
	} {
		got, err := SystemdPath(in)
		if err != nil || got != want {
			t.Errorf("SystemdPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a:b", "nope:p:n", "a--b.slice:p:n", "system.slice:p:", "system.slice:p:a/b"} {
		if got, err := SystemdPath(in); err == nil {
			t.Errorf("SystemdPath(%q) = %q, want an error", in, got)
		}
	}
}

func TestNewPaths(t *testing.T) {
	cg, err := New("/runsc-test/c1", false, "c1")
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	if len(cg.Dirs) == 0 {
		t.Fatalf("no hierarchy directories: %+v", cg)
	}
	for ctrl, d := range cg.Dirs {
		if !strings.HasSuffix(d, "/runsc-test/c1") {
			t.Errorf("%s: %s does not end in the cgroup path", ctrl, d)
		}
	}
	if _, err := New("/a/../b", false, "x"); err == nil {
		t.Errorf("a path with .. was accepted")
	}
	if _, err := New("system.slice:a:b", false, "x"); err == nil {
		t.Errorf("a systemd path without --systemd-cgroup was accepted")
	}
	if cg, err := New("", true, "x"); err != nil || cg.Path != "/system.slice/runsc-x.scope" {
		t.Errorf("default systemd path: %+v, %v", cg, err)
	}
}

package proc

import "testing"

func TestWithSysctls(t *testing.T) {
	m := withSysctls(&sysTree, map[string]string{
		"net.ipv4.ip_forward":  "1",
		"kernel.shmmax":        "4096",
		"kernel.ostype.sub":    "x", // ostype is a file: names nothing
		"vm.overcommit_memory": "1",
	})
	for p, want := range map[string]string{
		"sys/net/ipv4/ip_forward":  "1",
		"sys/kernel/shmmax":        "4096",
		"sys/vm/overcommit_memory": "1",
		"sys/kernel/ostype":        "Linux",
	} {
		n := m.at(p)
		if n == nil || n.children != nil || n.value(nil) != want {
			t.Errorf("%s: want a file with %q, got %+v", p, want, n)
		}
	}
	if n := m.at("sys/net/ipv4"); n == nil || n.children == nil {
		t.Errorf("sys/net/ipv4 is not a directory")
	}
	if sysTree.at("sys/net") != nil || sysTree.at("sys/kernel/shmmax").value(nil) == "4096" {
		t.Errorf("withSysctls changed the static tree")
	}
}

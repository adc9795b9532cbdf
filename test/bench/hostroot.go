package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The host-command benchmarks (find-usr, git-status) run the host's own programs on the
// host's files: natively, with `runsc do` for gVisor and ours (the host's root is the
// sandbox's root), and for runc in a second bundle that shows the host's root read-only.
//
// That bundle's root cannot simply be "/" (root.path "/"): pivot_root into the host's
// root fails with EBUSY, and --no-pivot with ELOOP. So its rootfs is an empty directory
// with the host's top-level symlinks (bin -> usr/bin, ...) and a read-only recursive bind
// mount of each of the host's top-level directories at the same path, except /proc, /dev,
// /sys and /tmp, which get the fresh mounts of `runc spec` (and a tmpfs for /tmp).

func runcHostBundle(e *env) string { return filepath.Join(e.build, "runc-hostroot-bundle") }

// hostRootCaps are added to runc spec's capabilities in the host-root bundle: without
// them root in the container cannot search a directory it does not own (find stops at
// /usr/share/polkit-1/rules.d), unlike root natively or under runsc do.
var hostRootCaps = []string{"CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"}

// skipHostDir are the host's top-level directories the host-root bundle does not bind.
var skipHostDir = map[string]bool{"proc": true, "dev": true, "sys": true, "tmp": true}

// prepareRuncHost makes the host-root bundle once; a failure is kept and returned again.
func prepareRuncHost(e *env) error {
	if !e.hostBundleDone {
		e.hostBundleDone = true
		e.hostBundleErr = makeRuncHostBundle(runcHostBundle(e))
	}
	return e.hostBundleErr
}

func makeRuncHostBundle(bundle string) error {
	os.RemoveAll(bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	spec := exec.Command("runc", "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %v: %s", err, out)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	mounts := []any{map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
		"options": []string{"nosuid", "nodev", "mode=1777"}}}
	for _, ent := range entries {
		host, inside := "/"+ent.Name(), filepath.Join(rootfs, ent.Name())
		switch {
		case ent.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, inside); err != nil {
				return err
			}
		case ent.IsDir():
			if err := os.Mkdir(inside, 0o755); err != nil {
				return err
			}
			if !skipHostDir[ent.Name()] {
				mounts = append(mounts, map[string]any{"destination": host, "type": "bind", "source": host,
					"options": []string{"rbind", "ro"}})
			}
		}
	}
	return editConfig(bundle, func(cfg map[string]any) error {
		process, _ := cfg["process"].(map[string]any)
		specMounts, _ := cfg["mounts"].([]any)
		if process == nil || specMounts == nil {
			return errors.New("config.json from runc spec has no process or mounts")
		}
		caps, _ := process["capabilities"].(map[string]any)
		for set, list := range caps {
			l, _ := list.([]any)
			for _, c := range hostRootCaps {
				l = append(l, c)
			}
			caps[set] = l
		}
		cfg["mounts"] = append(specMounts, mounts...)
		return nil
	})
}

func runcShell(e *env, script string) ([]string, error) {
	if err := prepareRuncHost(e); err != nil {
		return nil, fmt.Errorf("host-root bundle: %v", err)
	}
	return runcRun(e, runcHostBundle(e), []string{"/bin/sh", "-c", script})
}

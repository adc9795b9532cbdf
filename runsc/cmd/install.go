package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
)

// Install registers runsc as a runtime in Docker's daemon.json, keeping everything
// else in the file; arguments after the flags become the runtime's runtimeArgs.
type Install struct {
	configFile, runtime string
}

// Name implements subcommands.Command.
func (*Install) Name() string { return "install" }

// Synopsis implements subcommands.Command.
func (*Install) Synopsis() string { return "register runsc as a Docker runtime in daemon.json" }

// Usage implements subcommands.Command.
func (*Install) Usage() string {
	return "install [--config-file /etc/docker/daemon.json] [--runtime runsc] [-- RUNSC-FLAGS...]\n"
}

// SetFlags implements subcommands.Command.
func (i *Install) SetFlags(f *flag.FlagSet) {
	f.StringVar(&i.configFile, "config-file", "/etc/docker/daemon.json", "Docker's daemon configuration file")
	f.StringVar(&i.runtime, "runtime", "runsc", "the runtime's name in Docker (docker run --runtime=NAME)")
}

// Execute implements subcommands.Command.
func (i *Install) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if i.runtime == "" {
		return usage("install: --runtime is empty")
	}
	self, err := os.Executable()
	if err != nil {
		return fail("install: finding runsc's own path: %v", err)
	}
	cfg, err := readDaemonJSON(i.configFile)
	if err != nil {
		return fail("install: %v", err)
	}
	runtimes, _ := cfg["runtimes"].(map[string]any)
	if cfg["runtimes"] != nil && runtimes == nil {
		return fail("install: %s: \"runtimes\" is not an object", i.configFile)
	}
	if runtimes == nil {
		runtimes = map[string]any{}
	}
	rt := map[string]any{"path": self}
	if f.NArg() > 0 {
		rt["runtimeArgs"] = f.Args()
	}
	runtimes[i.runtime] = rt
	cfg["runtimes"] = runtimes
	if err := writeDaemonJSON(i.configFile, cfg); err != nil {
		return fail("install: %v", err)
	}
	fmt.Printf("runtime %q (%s) registered in %s; restart dockerd to use it\n", i.runtime, self, i.configFile)
	return subcommands.ExitSuccess
}

// Uninstall removes the runtime from daemon.json, keeping everything else.
type Uninstall struct {
	configFile, runtime string
}

// Name implements subcommands.Command.
func (*Uninstall) Name() string { return "uninstall" }

// Synopsis implements subcommands.Command.
func (*Uninstall) Synopsis() string { return "unregister runsc from Docker's daemon.json" }

// Usage implements subcommands.Command.
func (*Uninstall) Usage() string {
	return "uninstall [--config-file /etc/docker/daemon.json] [--runtime runsc]\n"
}

// SetFlags implements subcommands.Command.
func (u *Uninstall) SetFlags(f *flag.FlagSet) {
	f.StringVar(&u.configFile, "config-file", "/etc/docker/daemon.json", "Docker's daemon configuration file")
	f.StringVar(&u.runtime, "runtime", "runsc", "the runtime's name in Docker")
}

// Execute implements subcommands.Command.
func (u *Uninstall) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		return usage("uninstall takes no arguments")
	}
	if _, err := os.Stat(u.configFile); os.IsNotExist(err) {
		return fail("uninstall: %s does not exist", u.configFile)
	}
	cfg, err := readDaemonJSON(u.configFile)
	if err != nil {
		return fail("uninstall: %v", err)
	}
	runtimes, _ := cfg["runtimes"].(map[string]any)
	if _, ok := runtimes[u.runtime]; !ok {
		return fail("uninstall: runtime %q is not registered in %s", u.runtime, u.configFile)
	}
	delete(runtimes, u.runtime)
	if len(runtimes) == 0 {
		delete(cfg, "runtimes")
	}
	if err := writeDaemonJSON(u.configFile, cfg); err != nil {
		return fail("uninstall: %v", err)
	}
	fmt.Printf("runtime %q removed from %s\n", u.runtime, u.configFile)
	return subcommands.ExitSuccess
}

// readDaemonJSON reads daemon.json into a generic map (an absent file is empty).
func readDaemonJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return cfg, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %v", path, err)
	}
	return cfg, nil
}

// writeDaemonJSON writes the configuration atomically, keeping the file's mode.
func writeDaemonJSON(path string, cfg map[string]any) error {
	b, err := json.MarshalIndent(cfg, "", "    ")
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".runsc-tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

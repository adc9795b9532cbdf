// Package specutils owns reading and checking OCI runtime specs (config.json) for runsc:
// loading a bundle's config with errors that name the field or the JSON offset,
// validating container IDs and every field runsc acts on, the tables that turn names in
// the spec into numbers (capabilities, rlimits, signals, mount options), runsc's default
// spec (`runsc spec`), and the list of spec fields that runsc does not honour, so that
// the CLI can report each one.
//
// It holds no locks and keeps no state.
package specutils

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigFile is the name of the spec inside a bundle.
const ConfigFile = "config.json"

// maxConfigSize bounds what is read of a config.json (or an exec --process file).
const maxConfigSize = 16 << 20

// ValidateID checks a container ID as runc does, and as every path built from it needs:
// not empty, no '/', not "." or "..", only [A-Za-z0-9_+\-.], at most 1024 bytes.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("container ID is empty")
	case strings.Contains(id, "/"):
		return fmt.Errorf("container ID %q contains '/'", id)
	case id == "." || id == ".." || strings.Contains(id, ".."):
		return fmt.Errorf("container ID %q contains '..'", id)
	case len(id) > 1024:
		return fmt.Errorf("container ID is longer than 1024 bytes")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+-.", c)) {
			return fmt.Errorf("container ID %q: invalid character %q (allowed: letters, digits, _ + - .)", id, c)
		}
	}
	return nil
}

// LoadBundle reads BUNDLE/config.json and validates it for create/run. It returns the
// spec with the bundle's absolute path and the rootfs's absolute path.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", fmt.Errorf("bundle %q: %w", bundle, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, "", fmt.Errorf("bundle %q: %w", bundle, unwrapPathError(err))
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("bundle %q is not a directory", bundle)
	}
	path := filepath.Join(abs, ConfigFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("bundle %q: %s: %w", bundle, ConfigFile, unwrapPathError(err))
	}
	defer f.Close()
	spec, err := DecodeSpec(f, path)
	if err != nil {
		return nil, "", err
	}
	if err := Validate(spec, abs); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return spec, abs, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// DecodeSpec decodes a config.json; NAME is used in errors, which give the line, column
// and byte offset of a syntax error and the field of a type error.
func DecodeSpec(r io.Reader, name string) (*specs.Spec, error) {
	var spec specs.Spec
	if err := decodeJSON(r, name, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// DecodeProcess decodes an exec --process file (a specs.Process).
func DecodeProcess(r io.Reader, name string) (*specs.Process, error) {
	var p specs.Process
	if err := decodeJSON(r, name, &p); err != nil {
		return nil, err
	}
	if err := validateProcess(&p, "process"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &p, nil
}

func decodeJSON(r io.Reader, name string, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxConfigSize {
		return fmt.Errorf("%s is larger than %d bytes", name, maxConfigSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%s is empty", name)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := lineCol(data, se.Offset)
			return fmt.Errorf("%s: invalid JSON at line %d, column %d (byte offset %d): %v", name, line, col, se.Offset, se)
		case errors.As(err, &te):
			line, col := lineCol(data, te.Offset)
			field := te.Field
			if field == "" {
				field = "(top level)"
			}
			return fmt.Errorf("%s: field %q: cannot use a JSON %s as %s (line %d, column %d, byte offset %d)", name, field, te.Value, te.Type, line, col, te.Offset)
		}
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// RootfsPath is the absolute path of the spec's root.path (relative to the bundle).
func RootfsPath(spec *specs.Spec, bundle string) string {
	p := spec.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	return filepath.Clean(p)
}

// Validate checks every field runsc acts on, naming the field in the error.
func Validate(spec *specs.Spec, bundle string) error {
	if spec.Version == "" {
		return errors.New(`field "ociVersion" is missing`)
	}
	if spec.Process == nil {
		return errors.New(`field "process" is missing (create needs a process to run)`)
	}
	if err := validateProcess(spec.Process, "process"); err != nil {
		return err
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New(`field "root.path" is missing`)
	}
	root := RootfsPath(spec, bundle)
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf(`field "root.path": %s: %w`, root, unwrapPathError(err))
	}
	if !st.IsDir() {
		return fmt.Errorf(`field "root.path": %s is not a directory`, root)
	}
	for i, m := range spec.Mounts {
		if err := validateMount(&m); err != nil {
			return fmt.Errorf(`field "mounts[%d]": %w`, i, err)
		}
	}
	if err := validateHooks(spec.Hooks); err != nil {
		return err
	}
	if spec.Linux != nil {
		if err := validateLinux(spec.Linux); err != nil {
			return err
		}
	}
	return nil
}

// ValidateProcess checks a process (exec's), naming the field in the error.
func ValidateProcess(p *specs.Process) error { return validateProcess(p, "process") }

func validateProcess(p *specs.Process, field string) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return fmt.Errorf("field %q is missing or empty", field+".args")
	}
	if p.Cwd == "" {
		return fmt.Errorf("field %q is missing", field+".cwd")
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("field %q: %q is not an absolute path", field+".cwd", p.Cwd)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return fmt.Errorf("field %q: %q is not KEY=VALUE", fmt.Sprintf("%s.env[%d]", field, i), e)
		}
	}
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		if _, ok := RlimitNumber(r.Type); !ok {
			return fmt.Errorf("field %q: unknown rlimit type %q", fmt.Sprintf("%s.rlimits[%d].type", field, i), r.Type)
		}
		if seen[r.Type] {
			return fmt.Errorf("field %q: rlimit %s given twice", fmt.Sprintf("%s.rlimits[%d].type", field, i), r.Type)
		}
		seen[r.Type] = true
	}
	if c := p.Capabilities; c != nil {
		for _, set := range []struct {
			name  string
			names []string
		}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable}, {"permitted", c.Permitted}, {"ambient", c.Ambient}} {
			if _, err := CapabilityMask(set.names); err != nil {
				return fmt.Errorf("field %q: %w", field+".capabilities."+set.name, err)
			}
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("field %q: %d is outside [-1000, 1000]", field+".oomScoreAdj", *p.OOMScoreAdj)
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return fmt.Errorf("field %q: %#o is not a umask", field+".user.umask", *p.User.Umask)
	}
	return nil
}

func validateMount(m *specs.Mount) error {
	if m.Destination == "" {
		return errors.New(`"destination" is missing`)
	}
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf(`"destination" %q is not an absolute path`, m.Destination)
	}
	if IsBindMount(m) {
		if m.Source == "" {
			return errors.New(`bind mount without "source"`)
		}
		if !filepath.IsAbs(m.Source) {
			return fmt.Errorf(`bind mount "source" %q is not an absolute path`, m.Source)
		}
	}
	return nil
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for _, kind := range HookKinds {
		for i, hook := range Hooks(h, kind) {
			f := fmt.Sprintf("hooks.%s[%d]", kind, i)
			if hook.Path == "" {
				return fmt.Errorf("field %q is missing", f+".path")
			}
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("field %q: %q is not an absolute path", f+".path", hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("field %q: %d is not a positive number of seconds", f+".timeout", *hook.Timeout)
			}
		}
	}
	return nil
}

// HookKinds are the hook lists of a spec, in lifecycle order.
var HookKinds = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// Hooks returns the hooks of one kind.
func Hooks(h *specs.Hooks, kind string) []specs.Hook {
	if h == nil {
		return nil
	}
	switch kind {
	case "prestart":
		return h.Prestart //nolint:staticcheck // deprecated but still honoured
	case "createRuntime":
		return h.CreateRuntime
	case "createContainer":
		return h.CreateContainer
	case "startContainer":
		return h.StartContainer
	case "poststart":
		return h.Poststart
	case "poststop":
		return h.Poststop
	}
	return nil
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

func validateLinux(l *specs.Linux) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		if !namespaceTypes[ns.Type] {
			return fmt.Errorf("field %q: unknown namespace type %q", f+".type", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("field %q: namespace %q given twice", f+".type", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("field %q: %q is not an absolute path", f+".path", ns.Path)
		}
	}
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New(`field "linux.uidMappings": ID mappings need a "user" namespace in linux.namespaces`)
	}
	for i, m := range l.UIDMappings {
		if m.Size == 0 {
			return fmt.Errorf("field %q: size is 0", fmt.Sprintf("linux.uidMappings[%d].size", i))
		}
	}
	for i, m := range l.GIDMappings {
		if m.Size == 0 {
			return fmt.Errorf("field %q: size is 0", fmt.Sprintf("linux.gidMappings[%d].size", i))
		}
	}
	for k := range l.Sysctl {
		if k == "" || strings.ContainsAny(k, " =") {
			return fmt.Errorf("field %q: %q is not a sysctl name", "linux.sysctl", k)
		}
	}
	if r := l.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit < -1 {
			return fmt.Errorf(`field "linux.resources.memory.limit": %d is not a limit`, *r.Memory.Limit)
		}
		if r.CPU != nil && r.CPU.Quota != nil && *r.CPU.Quota != -1 && *r.CPU.Quota < 1000 && *r.CPU.Quota != 0 {
			return fmt.Errorf(`field "linux.resources.cpu.quota": %d is below 1000 microseconds`, *r.CPU.Quota)
		}
	}
	for i, p := range append(append([]string{}, l.MaskedPaths...), l.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("field %q: %q is not an absolute path", fmt.Sprintf("linux.maskedPaths/readonlyPaths[%d]", i), p)
		}
	}
	return nil
}

// Namespace returns the spec's namespace of type t, if any.
func Namespace(spec *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if spec.Linux == nil {
		return specs.LinuxNamespace{}, false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// Package boot owns the sandbox process: it confines itself (empty root, namespaces set
// up by the CLI), builds the sentry (memory file, platform, VFS over the gofer, kernel),
// starts the container's first process and reports how it ended.
//
// Lock order: boot holds no locks of its own; it only calls into the sentry.
package boot

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Spec is what the CLI tells the sandbox process to run. It travels as JSON over a pipe.
type Spec struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	Hostname string   `json:"hostname"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Platform string   `json:"platform"`
	Strace   bool     `json:"strace"`
	Debug    bool     `json:"debug"`
	// Report prints unsupported syscalls at exit to the report fd.
	Report bool `json:"report"`
	// NoFile is the container's RLIMIT_NOFILE (soft, hard); zero means the default.
	NoFile [2]uint64 `json:"nofile"`
	// Overlay is the root's overlay: "memory" (default when empty) or "none".
	Overlay string `json:"overlay,omitempty"`
	// BoundingCaps, when set, is the caller's capability bounding set: the command gets
	// no capability outside it, as if the caller had exec'd it.
	BoundingCaps *uint64 `json:"bounding_caps,omitempty"`
	// Volumes are host directories bind-mounted through gofers of their own; the n-th
	// is served on the n-th of the mount fds boot is given.
	Volumes []Volume `json:"volumes,omitempty"`
}

// Volume is `runsc do --volume HOST:CONTAINER[:ro]`.
type Volume struct {
	Host      string `json:"host"`
	Container string `json:"container"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// maxSpecSize bounds what the sandbox reads from the CLI.
const maxSpecSize = 1 << 20

// ReadSpec decodes a Spec, naming what is wrong on error.
func ReadSpec(r io.Reader) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox spec: %w", err)
	}
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("sandbox spec larger than %d bytes", maxSpecSize)
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding sandbox spec: %w", err)
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, fmt.Errorf("sandbox spec: argv is empty")
	}
	if s.Cwd == "" {
		s.Cwd = "/"
	}
	switch s.Overlay {
	case "":
		s.Overlay = "memory"
	case "memory", "none":
	default:
		return nil, fmt.Errorf("sandbox spec: overlay %q is not memory or none", s.Overlay)
	}
	return &s, nil
}

// WriteSpec encodes s for the sandbox.
func WriteSpec(w io.Writer, s *Spec) error {
	return json.NewEncoder(w).Encode(s)
}

// stderr is where the sandbox prints errors the user must see.
var stderr io.Writer = os.Stderr

// Package logging owns the runsc CLI's log, as runc's clients expect it: --log FILE
// (appended to; stderr without it), --log-format text|json (JSON lines carry "level",
// "msg" and "time": the containerd shim shows the last "msg" as the user's error), and
// --debug for debug lines. Errors also go to stderr as one plain line.
//
// Lock order: mu is a leaf.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	mu      sync.Mutex
	out     io.Writer = os.Stderr
	toFile  bool
	jsonFmt bool
	debug   bool
)

// Init sets the log up from the global flags. A log file that cannot be opened is an
// error (runc fails the same way).
func Init(file, format string, dbg bool) error {
	mu.Lock()
	defer mu.Unlock()
	jsonFmt = format == "json"
	debug = dbg
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("opening the log file: %w", err)
		}
		out, toFile = f, true
	}
	return nil
}

// DebugEnabled reports whether --debug was given.
func DebugEnabled() bool {
	mu.Lock()
	defer mu.Unlock()
	return debug
}

func write(level, msg string) {
	mu.Lock()
	defer mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if jsonFmt {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		out.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(out, "time=%q level=%s msg=%s\n", now, level, strconv.Quote(msg))
}

// Debugf logs a debug line (only with --debug).
func Debugf(format string, args ...any) {
	if DebugEnabled() {
		write("debug", fmt.Sprintf(format, args...))
	}
}

// Warningf logs a warning: to the log file, or to stderr with --debug.
func Warningf(format string, args ...any) {
	mu.Lock()
	show := toFile || debug
	mu.Unlock()
	if show {
		write("warning", fmt.Sprintf(format, args...))
	}
}

// Errorf reports an error: one plain line on stderr ("runsc: ..."), and a log line
// when there is a log file.
func Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	mu.Lock()
	f := toFile
	mu.Unlock()
	if f {
		write("error", msg)
	}
	fmt.Fprintf(os.Stderr, "runsc: %s\n", msg)
}

package container

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root, "nope", false); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a missing container: %v", err)
	}
	if _, err := Load(root, "../x", true); err == nil || errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a bad ID: %v", err)
	}
	dir := filepath.Join(root, "c1")
	os.Mkdir(dir, 0o700)
	c := &Container{dir: dir, lockFD: -1}
	// A container whose sandbox is this test process: alive, so its status is kept.
	c.State = State{ID: "c1", Status: Created, SandboxPID: os.Getpid(), Created: time.Now()}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root, "c1", true)
	if err != nil || got.Status != Created || got.PID() != os.Getpid() {
		t.Fatalf("Load: %+v, %v", got, err)
	}
	// Another locker waits until the first unlocks.
	locked := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d, err := Load(root, "c1", true)
		if err == nil {
			close(locked)
			d.Unlock()
		}
	}()
	select {
	case <-locked:
		t.Errorf("a second Load took the lock while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	got.Unlock()
	wg.Wait()
	// A sandbox that is gone: stopped, pid 0.
	c.SandboxPID = 1 << 30
	c.save()
	got, err = Load(root, "c1", false)
	if err != nil || got.Status != Stopped || got.PID() != 0 {
		t.Errorf("a dead sandbox: %+v, %v", got.State, err)
	}
	os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o600)
	if _, err := Load(root, "c1", false); err == nil {
		t.Errorf("a corrupt state file loaded")
	}
	cs, err := List(root)
	if err != nil || len(cs) != 0 {
		t.Errorf("List skips a corrupt state: %v, %v", cs, err)
	}
}

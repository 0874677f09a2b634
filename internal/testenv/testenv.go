// Package testenv starts real, independent peers for httpoidc's tests: panva's
// oidc-provider (an OpenID Certified provider, run with Node.js), Redis and
// headless Chromium. Each peer listens on loopback only, on a free port, and is
// stopped when the test ends.
//
// A missing prerequisite fails the test with a message that says what to
// install: these tests prove httpoidc against software nobody here wrote, so
// they must never be skipped silently. .ci/run installs everything they need.
// With go test -short every peer is skipped, with the tool it needs named;
// so are programs built from this module (BuildCommand).
package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lookTool finds a program on PATH or fails the test saying how to get it.
// With -short it skips the test instead, naming the tool: -short runs only
// what needs nothing but Go, and the full run must never skip.
func lookTool(t testing.TB, name, install string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s (%s); skipped with -short", name, install)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: %s (or run .ci/run)", name, install)
	}
	return path
}

// repoRoot finds the module root above the test's working directory; go test
// runs each test binary in its package directory, wherever that is.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "interop", "server.mjs")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d
			}
		}
		if filepath.Dir(d) == d {
			t.Fatalf("testenv: no interop/server.mjs next to a go.mod above %s", dir)
		}
	}
}

// lockFile takes an exclusive lock on path, a file it makes if missing, and
// returns the function that releases it: go test runs the test binaries of
// several packages in parallel, and they take turns at a shared step such as
// a build. It fails the test if the lock cannot be taken.
func lockFile(t testing.TB, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("testenv: lock %s: %v", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// lockedBuffer collects a child process's output, written by exec's copying
// goroutines while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a started child in its own process group, so that stopping it
// also stops anything it spawned.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid once exited is closed
}

// startProcess starts cmd in a new process group and watches for its exit.
func startProcess(cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop terminates the process group politely, then forcibly.
func (p *process) stop() {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
}

// waitFor polls check until it succeeds, the process exits or the deadline passes.
func (p *process) waitFor(ctx context.Context, check func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errors.Join(errors.New("process exited"), p.err)
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-tick.C:
		}
	}
}

package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// toolBuildTimeout bounds one build of a peer written in Go. A cold build of
// Hydra compiles several hundred packages and SQLite's C code: minutes on two
// cores. .ci/run builds the peers before the tests, so that no test binary
// spends its own -timeout on them.
const toolBuildTimeout = 30 * time.Minute

// goTool builds the program pkg of the module in interop/tools/<name> (its
// own go.mod, so that the peer never becomes a dependency of httpoidc) with
// the go command on PATH, and returns the binary's path.
//
// The binary is kept in the user's cache directory under a key made of the
// module's files, the build arguments and the Go version, so it is built
// once per machine and rebuilt whenever any of them changes. The test
// binaries of several packages share one build (lockFile).
func goTool(t testing.TB, name, pkg string, buildArgs ...string) string {
	t.Helper()
	goBin := lookTool(t, "go", "it builds "+name+" from interop/tools/"+name+", minutes the first time")
	dir := filepath.Join(repoRoot(t), "interop", "tools", name)
	version, err := exec.Command(goBin, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatalf("testenv: go env GOVERSION: %v", err)
	}
	key, err := moduleKey(dir, append([]string{strings.TrimSpace(string(version)), pkg}, buildArgs...))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("testenv: no cache directory for the %s binary: %v", name, err)
	}
	cache := filepath.Join(base, "httpoidc-interop")
	bin := filepath.Join(cache, name+"-"+key, name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}

	defer lockFile(t, filepath.Join(cache, name+".lock"))()
	if _, err := os.Stat(bin); err == nil {
		return bin // built by another test binary while this one waited
	}

	t.Logf("testenv: building %s from %s (once per machine; minutes when the module cache is cold)", name, dir)
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), toolBuildTimeout)
	defer cancel()
	partial := bin + ".partial"
	args := append([]string{"build", "-o", partial}, buildArgs...)
	cmd := exec.CommandContext(ctx, goBin, append(args, pkg)...)
	cmd.Dir = dir
	// The peer's module is built on its own, whatever workspace or flags
	// the caller's environment has.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: building %s failed (it needs the Go module proxy%s): %v\n%s",
			name, cgoHint(buildArgs), err, out)
	}
	if err := os.Rename(partial, bin); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Logf("testenv: built %s in %v", name, time.Since(started).Round(time.Second))
	return bin
}

// cgoHint names the C compiler when the build needs one.
func cgoHint(buildArgs []string) string {
	for _, a := range buildArgs {
		if strings.Contains(a, "sqlite") {
			return " and a C compiler: apt-get install -y gcc"
		}
	}
	return ""
}

// moduleKey hashes the files of the module in dir (go.mod, go.sum and Go
// sources) together with extra, the build's other inputs.
func moduleKey(dir string, extra []string) (string, error) {
	h := sha256.New()
	for _, e := range extra {
		fmt.Fprintf(h, "%q\n", e)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name := d.Name(); name != "go.mod" && name != "go.sum" && !strings.HasSuffix(name, ".go") {
			return nil
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s %d\n", rel, len(content))
		h.Write(content)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

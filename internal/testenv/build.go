package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BuildCommand compiles a main package of this module (pkg is its path in
// the module, such as "cmd/oidc-register") into the test's temporary
// directory and returns the binary's path, so that a test runs the program
// as its users do. It fails the test when go is not on PATH or the build
// fails. With -short it skips the test: building takes longer than the
// short tests' budget, and the tests that run programs also need other
// tools.
func BuildCommand(t testing.TB, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("builds ./%s with go build; skipped with -short", pkg)
	}
	goTool := lookTool(t, "go", "install Go and put it on PATH")
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./"+pkg)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: go build ./%s: %v\n%s", pkg, err, out)
	}
	return bin
}

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPeerBinaries builds the peers written in Go and runs each once.
// .ci/run runs it first, with a timeout fit for a cold build, so that the
// other tests find the binaries in the cache.
func TestPeerBinaries(t *testing.T) {
	out, err := exec.Command(hydraBinary(t), "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Version:")

	// Without its configuration the OP says what is missing and exits.
	out, err = exec.Command(zitadelBinary(t)).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "ZITADEL_OP_CONFIG")
}

func TestModuleKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example\n")
	write("main.go", "package main\n")
	key := func(extra ...string) string {
		k, err := moduleKey(dir, extra)
		require.NoError(t, err)
		return k
	}
	base := key("go1.26")
	require.Equal(t, base, key("go1.26"), "the same inputs give the same key")

	write("README.md", "not an input of the build")
	require.Equal(t, base, key("go1.26"))

	for _, change := range []struct {
		name string
		do   func() string
	}{
		{"Go version", func() string { return key("go1.27") }},
		{"build arguments", func() string { return key("go1.26", "-tags", "sqlite") }},
		{"go.sum", func() string { write("go.sum", "example v1 h1:x\n"); return key("go1.26") }},
		{"a source file", func() string { write("sub/x.go", "package sub\n"); return key("go1.26") }},
	} {
		next := change.do()
		require.NotEqual(t, base, next, "a change of %s", change.name)
		base = next
	}
}

package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// StartChromium starts headless Chromium with a fresh profile and returns a
// chromedp context for one tab of it. The browser is closed when the test
// ends, after a screenshot of the tab is saved if the test failed.
//
// The flags keep Chromium from reaching beyond loopback: without them it
// phones home at start-up. Use chromedp.Run with contexts derived from the
// returned one; give those a timeout, not the returned context itself.
func StartChromium(t testing.TB) context.Context {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil || testing.Short() {
		bin = lookTool(t, "chromium", "apt-get install -y chromium")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Tests only use IP literals on loopback; no name may be resolved,
		// so start-up look-ups of Google's hosts never leave the machine.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.*, EXCLUDE localhost"),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		if t.Failed() {
			SaveScreenshot(t, ctx)
		}
		cancel()
		cancelAlloc()
	})
	// Start the browser now, on a context without a deadline: the first Run
	// ties the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	return ctx
}

// SaveScreenshot writes a PNG of the tab of ctx to ArtifactsDir, named after
// the test, and logs its path. It only logs when it fails, so that it can
// run in a failing test's cleanup.
func SaveScreenshot(t testing.TB, ctx context.Context) {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if _, err := screenshot(ctx, fmt.Sprintf("%s-%s.png", name, time.Now().Format("20060102-150405.000"))); err != nil {
		t.Logf("testenv: no screenshot: %v", err)
	}
}

// Screenshot writes a PNG of the tab of ctx to ArtifactsDir as name, for a
// person to look at, and returns its path; it fails the test if it cannot.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	path, err := screenshot(ctx, name)
	if err != nil {
		t.Fatalf("testenv: screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// ArtifactsDir is where tests leave files for people: $TEST_ARTIFACTS, or
// httpoidc-artifacts in the system's temporary directory.
func ArtifactsDir() string {
	if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "httpoidc-artifacts")
}

func screenshot(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	dir := ArtifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, png, 0o644)
}

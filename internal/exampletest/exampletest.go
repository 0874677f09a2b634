// Package exampletest runs the example applications in tests, configured
// from the environment as a user would run them, against an oidctest
// provider.
package exampletest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

// Setup starts a provider with a client for an application at a free
// loopback address and the user alice logging in automatically, writes its
// client_secrets.json, and points OIDC_CLIENT_SECRETS and LISTEN_ADDR at
// them. It returns the provider and the application's base URL.
func Setup(t *testing.T, clientID string) (*oidctest.Server, string) {
	t.Helper()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	// The redirect URI must be registered before the app listens, so the
	// port is chosen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	op.AddClient(oidctest.Client{
		ID: clientID, Secret: clientID + "-secret",
		RedirectURIs:           []string{"http://" + addr + "/authorize"},
		PostLogoutRedirectURIs: []string{"http://" + addr + "/logout"},
	})
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
	op.AutoLogin("alice")
	secrets := filepath.Join(t.TempDir(), "client_secrets.json")
	require.NoError(t, os.WriteFile(secrets, op.ClientSecrets(clientID), 0o600))
	t.Setenv("OIDC_CLIENT_SECRETS", secrets)
	t.Setenv("LISTEN_ADDR", addr)
	return op, "http://" + addr
}

// Run starts an example's run function, waits until it prints that it is
// listening at baseURL, and stops it when the test ends, failing the test
// if it returned an error.
func Run(t *testing.T, baseURL string, run func(context.Context, io.Writer) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, w)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the example stopped before listening")
	require.Equal(t, "listening on "+baseURL+"\n", line)
	go io.Copy(io.Discard, out)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// Browser is an http.Client with a cookie jar.
type Browser struct {
	t      *testing.T
	client *http.Client
}

// NewBrowser returns a Browser with an empty cookie jar.
func NewBrowser(t *testing.T) *Browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &Browser{t: t, client: &http.Client{Jar: jar}}
}

// Get fetches url, following redirects, with the given header name/value
// pairs, and returns the final status and the trimmed body.
func (b *Browser) Get(url string, header ...string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// Step is one request of a scripted visit and what it must answer.
type Step struct {
	Path   string
	Header []string
	Status int
	Body   string // empty: not checked
}

// Visit runs steps in order against baseURL.
func (b *Browser) Visit(baseURL string, steps []Step) {
	b.t.Helper()
	for _, step := range steps {
		status, body := b.Get(baseURL+step.Path, step.Header...)
		require.Equal(b.t, step.Status, status, "%s: %s", step.Path, body)
		if step.Body != "" {
			require.Equal(b.t, step.Body, body, step.Path)
		}
	}
}

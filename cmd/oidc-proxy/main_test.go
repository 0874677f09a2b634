package main

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

// echoed is what the upstream application saw of a request.
type echoed struct {
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
}

// startUpstream starts the application behind the proxy: it answers JSON
// clients with the request it received, and browsers with a page listing
// the identity headers and a sign-out link, as an application would.
func startUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/socket" {
			greetOverWebSocket(w, r)
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>app</title><h1>The application</h1>`+
				`<p>user <span id="user">`+htmlEscape(r.Header.Get("X-Forwarded-User"))+`</span>, email <span id="email">`+
				htmlEscape(r.Header.Get("X-Forwarded-Email"))+`</span>, proto <span id="proto">`+
				htmlEscape(r.Header.Get("X-Forwarded-Proto"))+`</span></p><p><a id="sign-out" href="/oauth2/sign_out?rd=%2F">Sign out</a></p>`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{URI: r.RequestURI, Header: r.Header})
	}))
	t.Cleanup(app.Close)
	return app
}

// greetOverWebSocket completes a WebSocket handshake (RFC 6455 §4.2.2)
// and sends one text frame naming the user the proxy forwarded: enough
// for a browser's WebSocket to show that the upgrade went through.
func greetOverWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "want a WebSocket", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	greeting := "hello " + r.Header.Get("X-Forwarded-User")
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	_, _ = rw.Write(append([]byte{0x81, byte(len(greeting))}, greeting...)) // FIN, text, unmasked
	_ = rw.Flush()
	// Wait for the browser to close; reading fails then.
	_, _ = rw.ReadByte()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

// guideConfigFor is guideConfig for a proxy listening on address and
// reached at origin, in front of app, logging in at issuer.
func guideConfigFor(t *testing.T, origin, issuer string, app *httptest.Server, address string) string {
	t.Helper()
	return guideConfig(t, map[string]string{
		"<REDIRECT_URL>": origin + "/oauth2/callback", "<ISSUER>": issuer, "<UPSTREAM>": app.URL + "/",
		"<HTTP_ADDRESS>": address,
	})
}

// startProxy runs oidc-proxy in this process with args and environ on l,
// until the test ends.
func startProxy(t *testing.T, l net.Listener, args, environ []string) {
	t.Helper()
	v, err := parseOptions(args, environ, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := newProxy(ctx, v, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		l.Close()
	}
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.serveListener(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		p.close()
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}

// newOP starts oidctest with alice (verified email at example.com) and
// bob (unverified) and registers the proxy at origin.
func newOP(t *testing.T, origins ...string) *oidctest.Server {
	t.Helper()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	var redirects, logouts []string
	for _, o := range origins {
		redirects = append(redirects, o+"/oauth2/callback")
		logouts = append(logouts, o+"/oauth2/sign_out")
	}
	op.AddClient(oidctest.Client{ID: "proxy", Secret: "proxy-secret", RedirectURIs: redirects, PostLogoutRedirectURIs: logouts})
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": true, "preferred_username": "alice", "groups": []any{"staff"},
	}})
	op.AddUser(oidctest.User{Subject: "bob", Claims: map[string]any{"email": "bob@example.com", "email_verified": false}})
	return op
}

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return jar
}

// getJSON fetches url as an API client would and decodes what the
// upstream echoed.
func getJSON(t *testing.T, client *http.Client, url string, header http.Header) (int, echoed) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var e echoed
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	}
	return resp.StatusCode, e
}

func TestProxyGuideConfigurationInProcess(t *testing.T) {
	app := startUpstream(t)
	l := listen(t)
	origin := "http://" + l.Addr().String()
	op := newOP(t, origin)
	op.AutoLogin("alice")
	cfg := guideConfigFor(t, origin, op.URL, app, l.Addr().String())
	// cookie_secure = true, as in the guide, would keep a plain-http
	// client from sending the cookie back; HAProxyTLS tests keep it.
	startProxy(t, l, append([]string{"--config", cfg, "--cookie-secure=false"}, guideStartLine...), nil)

	client := &http.Client{Jar: newJar(t), Timeout: 20 * time.Second}
	status, e := getJSON(t, client, origin+"/page", http.Header{"X-Forwarded-User": {"mallory"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "/page", e.URI)
	require.Equal(t, []string{"alice"}, e.Header.Values("X-Forwarded-User"))
	require.Equal(t, "alice@example.com", e.Header.Get("X-Forwarded-Email"))
	require.NotEmpty(t, e.Header.Get("X-Forwarded-Access-Token"), "pass_access_token")
	require.True(t, strings.HasPrefix(e.Header.Get("Authorization"), "Bearer ey"), "pass_authorization_header")

	resp, err := client.Get(origin + "/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestProxyClientSecretsFile(t *testing.T) {
	app := startUpstream(t)
	l := listen(t)
	origin := "http://" + l.Addr().String()
	op := newOP(t, origin)
	op.AutoLogin("alice")
	secrets := filepath.Join(t.TempDir(), "client_secrets.json")
	require.NoError(t, os.WriteFile(secrets, op.ClientSecrets("proxy"), 0o600))
	environ := []string{
		"OAUTH2_PROXY_CLIENT_SECRETS=" + secrets,
		"OAUTH2_PROXY_UPSTREAMS=" + app.URL,
		"OAUTH2_PROXY_EMAIL_DOMAINS=*",
		"OAUTH2_PROXY_COOKIE_SECRET=0123456789abcdef",
		"OAUTH2_PROXY_COOKIE_SECURE=false",
		"OAUTH2_PROXY_SKIP_PROVIDER_BUTTON=true",
	}
	startProxy(t, l, []string{"--redirect-url", origin + "/oauth2/callback"}, environ)
	client := &http.Client{Jar: newJar(t), Timeout: 20 * time.Second}
	status, e := getJSON(t, client, origin+"/", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice", e.Header.Get("X-Forwarded-User"))
}

func TestProxyRedisSessionsSharedByReplicas(t *testing.T) {
	redisAddr := testenv.StartRedis(t)
	app := startUpstream(t)
	// Two replicas behind one name, as behind a load balancer: a browser
	// logged in through one is logged in at the other.
	first, second := listen(t), listen(t)
	firstOrigin, secondOrigin := "http://"+first.Addr().String(), "http://"+second.Addr().String()
	op := newOP(t, firstOrigin)
	op.AutoLogin("alice")
	for _, l := range []net.Listener{first, second} {
		cfg := guideConfigFor(t, firstOrigin, op.URL, app, l.Addr().String())
		startProxy(t, l, append([]string{"--config", cfg, "--cookie-secure=false", "--redis-url", "redis://" + redisAddr + "/0"}, guideStartLine...), nil)
	}
	client := &http.Client{Jar: newJar(t), Timeout: 20 * time.Second}
	status, _ := getJSON(t, client, firstOrigin+"/", nil)
	require.Equal(t, http.StatusOK, status)
	// Cookie jars ignore ports: the second replica gets the same cookie.
	noRedirect := &http.Client{Jar: client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, e := getJSON(t, noRedirect, secondOrigin+"/shared", nil)
	require.Equal(t, http.StatusOK, status, "the session is in Redis, not in the first replica")
	require.Equal(t, "alice", e.Header.Get("X-Forwarded-User"))
}

func TestProxyLoginPolicy(t *testing.T) {
	tests := []struct {
		name   string
		user   string
		args   []string
		status int
	}{
		{"verified email in the domain", "alice", nil, http.StatusOK},
		{"unverified email refused", "bob", []string{"--insecure-oidc-allow-unverified-email=false"}, http.StatusForbidden},
		{"unverified email with the guide's start line", "bob", guideStartLine, http.StatusOK},
		{"other domain", "alice", []string{"--email-domain=example.org"}, http.StatusForbidden},
		{"any domain", "alice", []string{"--email-domain=*"}, http.StatusOK},
		{"group required", "alice", []string{"--allowed-group=admins"}, http.StatusForbidden},
		{"group held", "alice", []string{"--allowed-group=admins,staff"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := startUpstream(t)
			l := listen(t)
			origin := "http://" + l.Addr().String()
			op := newOP(t, origin)
			op.AutoLogin(tt.user)
			cfg := guideConfigFor(t, origin, op.URL, app, l.Addr().String())
			startProxy(t, l, append([]string{"--config", cfg, "--cookie-secure=false", "--scope=openid email profile groups"}, tt.args...), nil)
			client := &http.Client{Jar: newJar(t), Timeout: 20 * time.Second}
			status, _ := getJSON(t, client, origin+"/", nil)
			require.Equal(t, tt.status, status)
		})
	}
}

// TestProxyRunsWithTheGuidesStartLine runs the command itself, as the
// guide's compose.yaml starts oauth2-proxy, and stops it as Docker does.
func TestProxyRunsWithTheGuidesStartLine(t *testing.T) {
	app := startUpstream(t)
	addr := testenv.FreeAddress(t)
	origin := "http://" + addr
	op := newOP(t, origin)
	op.AutoLogin("alice")
	cfg := guideConfigFor(t, origin, op.URL, app, addr)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr lockedWriter
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, append([]string{"--config=" + cfg}, guideStartLine...), nil, &stderr) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get(origin + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "oidc-proxy did not start:\n%s", &stderr)
	// The guide's cookie_secure = true: a plain-http client is not logged
	// in by the cookie, but the login itself runs to the provider.
	client := &http.Client{Jar: newJar(t), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(origin + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), op.URL+"/authorize?"))

	stop()
	select {
	case code := <-exit:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("oidc-proxy did not stop")
	}
	require.Contains(t, stderr.String(), "oidc-proxy: listening")
	require.NotContains(t, stderr.String(), "0123456789abcdef", "secrets are never logged")
}

// lockedWriter collects the command's log while the test reads it.
type lockedWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

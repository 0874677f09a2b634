package httpoidc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// proxyHarness is oidctest, an upstream application that echoes the
// request it receives, and the proxy in front of it.
type proxyHarness struct {
	t        testing.TB
	op       *oidctest.Server
	oc       *httpoidc.OpenIDConnect
	upstream *httptest.Server
	proxy    *httptest.Server
	client   *http.Client
}

// echoed is what the upstream saw.
type echoed struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// echoApp answers every request with the request it received, as JSON.
func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{r.Method, r.RequestURI, r.Host, r.Header})
	})
}

func newProxyHarness(t testing.TB, upstream http.Handler, pc httpoidc.ProxyConfig) *proxyHarness {
	t.Helper()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	if upstream == nil {
		upstream = echoApp()
	}
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	proxy, handler := serveLater(t)
	op.AddClient(oidctest.Client{
		ID: "proxy", Secret: "proxy-secret",
		RedirectURIs:           []string{proxy.URL + "/oauth2/callback"},
		PostLogoutRedirectURIs: []string{proxy.URL + "/oauth2/sign_out"},
	})
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": true, "preferred_username": "alice.l",
		"groups": []any{"admins", "staff"},
	}})
	op.AutoLogin("alice")
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("proxy"))
	require.NoError(t, err)
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		ClientSecrets: secrets,
		Scopes:        []string{"openid", "email", "profile", "groups"},
		RedirectURL:   proxy.URL + "/oauth2/callback",
		CallbackPath:  "/oauth2/callback",
		LogoutPath:    "/oauth2/sign_out",
		Now:           op.Now,
		Logger:        slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	upstreamURL, err := url.Parse(up.URL)
	require.NoError(t, err)
	h, err := oc.ReverseProxy(upstreamURL, pc)
	require.NoError(t, err)
	handler.Store(h)
	return &proxyHarness{t: t, op: op, oc: oc, upstream: up, proxy: proxy, client: newBrowser(t)}
}

// do sends a request through the proxy, following redirects, and returns
// the final response with its body read.
func (h *proxyHarness) do(client *http.Client, method, path string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.proxy.URL+path, nil)
	require.NoError(h.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp, string(body)
}

// echo fetches path through the proxy and returns what the upstream saw.
func (h *proxyHarness) echo(path string, header http.Header) echoed {
	h.t.Helper()
	resp, body := h.do(h.client, http.MethodGet, path, header)
	require.Equal(h.t, http.StatusOK, resp.StatusCode, body)
	var e echoed
	require.NoError(h.t, json.Unmarshal([]byte(body), &e), body)
	return e
}

func TestProxyLogsInAndForwardsIdentity(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{})
	resp, _ := h.do(noRedirects(h.client), http.MethodGet, "/app/page?x=1", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), h.op.URL+"/authorize?"))

	e := h.echo("/app/page?x=1", nil)
	require.Equal(t, "/app/page?x=1", e.URI)
	require.Equal(t, strings.TrimPrefix(h.proxy.URL, "http://"), e.Host, "the upstream sees the Host the client asked for")
	require.Equal(t, "alice", e.Header.Get("X-Forwarded-User"))
	require.Equal(t, "alice@example.com", e.Header.Get("X-Forwarded-Email"))
	require.Equal(t, "admins,staff", e.Header.Get("X-Forwarded-Groups"))
	require.Equal(t, "alice.l", e.Header.Get("X-Forwarded-Preferred-Username"))
	require.Empty(t, e.Header.Get("X-Forwarded-Access-Token"), "only with PassAccessToken")
	require.Empty(t, e.Header.Get("Authorization"), "only with PassAuthorizationHeader")
	require.NotContains(t, e.Header.Get("Cookie"), "httpoidc_session", "the session cookie stays with the proxy")
}

func TestProxyRemovesSpoofedIdentityHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pc   httpoidc.ProxyConfig
	}{
		{"user headers", httpoidc.ProxyConfig{}},
		{"no user headers", httpoidc.ProxyConfig{OmitUserHeaders: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newProxyHarness(t, nil, tt.pc)
			h.echo("/", nil) // log in
			spoofed := http.Header{
				"X-Forwarded-User":               {"mallory"},
				"X-Forwarded-Email":              {"mallory@example.com"},
				"X-Forwarded-Groups":             {"root"},
				"X-Forwarded-Preferred-Username": {"mallory"},
				"X-Forwarded-Access-Token":       {"stolen"},
				"X_forwarded_user":               {"mallory"}, // WSGI reads it as X-Forwarded-User
				"X-Auth-Request-Email":           {"mallory@example.com"},
				"X-Real-Ip":                      {"10.9.9.9"},
				"Cookie":                         {"theme=dark"},
			}
			e := h.echo("/", spoofed)
			for name, values := range e.Header {
				for _, v := range values {
					require.NotContains(t, v, "mallory", name)
					require.NotContains(t, v, "root", name)
					require.NotContains(t, v, "stolen", name)
				}
				require.NotContains(t, strings.ToLower(name), "x_forwarded", name)
				require.NotContains(t, strings.ToLower(name), "x-auth-request", name)
			}
			require.Empty(t, e.Header.Get("X-Real-Ip"))
			require.Equal(t, "theme=dark", e.Header.Get("Cookie"), "the application's own cookies pass")
			if tt.pc.OmitUserHeaders {
				require.Empty(t, e.Header.Get("X-Forwarded-User"))
			} else {
				require.Equal(t, []string{"alice"}, e.Header.Values("X-Forwarded-User"))
			}
		})
	}
}

func TestProxyPassesTokens(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{PassAccessToken: true, PassAuthorizationHeader: true})
	e := h.echo("/", http.Header{"Authorization": {"Bearer client-sent"}})
	require.NotEmpty(t, e.Header.Get("X-Forwarded-Access-Token"))
	idToken, found := strings.CutPrefix(e.Header.Get("Authorization"), "Bearer ")
	require.True(t, found)
	require.Equal(t, 2, strings.Count(idToken, "."), "the ID token, a JWS, replaces the client's Authorization")
}

func TestProxyForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	sent := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-For": {"203.0.113.7"}}
	tests := []struct {
		name                string
		trusted             []netip.Prefix
		proto, host, forIPs string
	}{
		{"loopback trusted by default", nil, "https", "app.example.com", "203.0.113.7, 127.0.0.1"},
		{"nobody trusted", []netip.Prefix{}, "http", "", "127.0.0.1"},
		{"another proxy trusted", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, "http", "", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newProxyHarness(t, nil, httpoidc.ProxyConfig{TrustedProxies: tt.trusted})
			e := h.echo("/", sent)
			host := tt.host
			if host == "" {
				host = strings.TrimPrefix(h.proxy.URL, "http://")
			}
			require.Equal(t, tt.proto, e.Header.Get("X-Forwarded-Proto"))
			require.Equal(t, host, e.Header.Get("X-Forwarded-Host"))
			require.Equal(t, tt.forIPs, e.Header.Get("X-Forwarded-For"))
		})
	}
}

func TestProxyAuthEndpoint(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{SetXAuthRequest: true, SetAuthorizationHeader: true, PassAccessToken: true})
	resp, _ := h.do(noRedirects(h.client), http.MethodGet, "/oauth2/auth", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "auth_request wants 401, never a redirect")

	h.echo("/", nil) // log in
	resp, _ = h.do(h.client, http.MethodGet, "/oauth2/auth", nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "alice", resp.Header.Get("X-Auth-Request-User"))
	require.Equal(t, "alice@example.com", resp.Header.Get("X-Auth-Request-Email"))
	require.Equal(t, "admins,staff", resp.Header.Get("X-Auth-Request-Groups"))
	require.Equal(t, "alice.l", resp.Header.Get("X-Auth-Request-Preferred-Username"))
	require.NotEmpty(t, resp.Header.Get("X-Auth-Request-Access-Token"))
	require.True(t, strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer "))

	resp, body := h.do(h.client, http.MethodGet, "/oauth2/userinfo", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"user":"alice","email":"alice@example.com","groups":["admins","staff"],"preferredUsername":"alice.l"}`, body)
}

func TestProxyBearerTokens(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{AcceptBearerTokens: true, BearerScopes: []string{"read"}})
	token := func(scopes ...string) string {
		return h.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "proxy", Subject: "svc", Scopes: scopes, Format: oidctest.JWT})
	}
	api := &http.Client{Timeout: 10 * time.Second}
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
	}
	resp, body := h.do(api, http.MethodGet, "/api", bearer(token("read")))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var e echoed
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	require.Equal(t, "svc", e.Header.Get("X-Forwarded-User"))

	// The groups of a bearer token are read as a logged-in user's are
	// (Config.GroupsClaim), here zitadel's object of roles.
	withRoles := h.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "proxy", Subject: "svc", Scopes: []string{"read"}, Format: oidctest.JWT,
		Claims: map[string]any{"groups": map[string]any{"ops": map[string]any{"org": "acme"}, "audit": map[string]any{}}}})
	resp, body = h.do(api, http.MethodGet, "/api", bearer(withRoles))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	require.Equal(t, "audit,ops", e.Header.Get("X-Forwarded-Groups"))

	resp, _ = h.do(api, http.MethodGet, "/api", bearer(token("write")))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = h.do(api, http.MethodGet, "/api", bearer("garbage"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = h.do(api, http.MethodGet, "/oauth2/auth", bearer(token("read")))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	// A DPoP-bound token with its proof reaches the application, and one
	// without a proof is refused by AcceptToken, not sent to the login.
	key := oidctest.NewDPoPKey()
	bound := h.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "proxy", Subject: "svc", Scopes: []string{"read"}, Format: oidctest.JWT, DPoPKeyThumbprint: key.Thumbprint()})
	dpopHeader := func(proof string) http.Header {
		header := http.Header{"Authorization": {"DPoP " + bound}, "Accept": {"application/json"}}
		if proof != "" {
			header.Set("DPoP", proof)
		}
		return header
	}
	resp, body = h.do(api, http.MethodGet, "/api", dpopHeader(key.Proof(http.MethodGet, h.proxy.URL+"/api", bound, "")))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, _ = h.do(api, http.MethodGet, "/api", dpopHeader(""))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Values("WWW-Authenticate")[0], "DPoP")
}

func TestProxyAnonymousRequests(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{})
	client := noRedirects(h.client)
	tests := []struct {
		name   string
		method string
		header http.Header
		status int
	}{
		{"navigation", http.MethodGet, http.Header{"Accept": {"text/html"}}, http.StatusFound},
		{"API call", http.MethodGet, http.Header{"Accept": {"application/json"}}, http.StatusUnauthorized},
		{"POST", http.MethodPost, nil, http.StatusUnauthorized},
		{"preflight", http.MethodOptions, nil, http.StatusUnauthorized},
		{"unknown proxy path", http.MethodGet, nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/page"
			if tt.status == http.StatusNotFound {
				path = "/oauth2/nothing"
			}
			resp, _ := h.do(client, tt.method, path, tt.header)
			require.Equal(t, tt.status, resp.StatusCode)
		})
	}
}

func TestProxySignInPage(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{SignInPage: true})
	client := noRedirects(h.client)
	resp, body := h.do(client, http.MethodGet, "/page?a=b", http.Header{"Accept": {"text/html"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, `action="/oauth2/start"`)
	require.Contains(t, body, `value="/page?a=b"`)

	resp, _ = h.do(client, http.MethodGet, "/oauth2/start?rd=%2Fpage", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), h.op.URL+"/authorize?"))

	resp, _ = h.do(h.client, http.MethodGet, "/oauth2/start?rd="+url.QueryEscape(h.proxy.URL+"/back?to=1"), nil)
	require.Equal(t, "/back?to=1", resp.Request.URL.RequestURI(), "an absolute rd on this host comes back here")
	resp, _ = h.do(client, http.MethodGet, "/oauth2/sign_in?rd="+url.QueryEscape("https://evil.example/"), nil)
	require.Equal(t, "/", resp.Header.Get("Location"), "rd to another site is refused")
}

func TestProxySignOut(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{})
	h.echo("/", nil)
	// Stop back at rd: oidctest's AutoLogin would log in again from there.
	client := *h.client
	client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/bye" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	// A link on the application's own pages, as a browser sends it.
	resp, _ := h.do(&client, http.MethodGet, "/oauth2/sign_out?rd=%2Fbye", http.Header{
		"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"navigate"}, "Accept": {"text/html"},
	})
	require.Equal(t, "/bye", resp.Header.Get("Location"), "back at rd, through the provider's logout")
	require.Equal(t, h.proxy.URL+"/oauth2/sign_out", resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+resp.Request.URL.Path)
	resp, _ = h.do(noRedirects(h.client), http.MethodGet, "/oauth2/auth", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	h := newProxyHarness(t, nil, httpoidc.ProxyConfig{})
	h.echo("/", nil)
	h.upstream.Close()
	start := time.Now()
	resp, body := h.do(h.client, http.MethodGet, "/", http.Header{"Accept": {"text/html"}})
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, body, "The application is not answering")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestProxyUpstreamTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := newProxyHarness(t, slow, httpoidc.ProxyConfig{UpstreamTimeout: 200 * time.Millisecond})
	resp, _ := h.do(h.client, http.MethodGet, "/", nil)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
}

func TestProxyStreams(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	h := newProxyHarness(t, stream, httpoidc.ProxyConfig{})
	resp, err := h.client.Get(h.proxy.URL + "/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	for i := range 3 {
		// Each event arrives before the upstream may write the next one.
		line, err := events.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("data: %d\n", i), line)
		_, _ = events.ReadString('\n')
		next <- struct{}{}
	}
}

func TestProxyWebSocketUpgrade(t *testing.T) {
	t.Parallel()
	// A minimal upgrade, enough to see the connection switch protocols
	// and carry bytes both ways; WebSocket framing is the peers' business.
	upgrade := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Forwarded-User") != "alice" {
			http.Error(w, "want an upgrade from alice", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = rw.WriteString("echo " + line)
		_ = rw.Flush()
	})
	h := newProxyHarness(t, upgrade, httpoidc.ProxyConfig{})
	resp, _ := h.do(h.client, http.MethodGet, "/", nil) // log in
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	proxyURL, err := url.Parse(h.proxy.URL)
	require.NoError(t, err)

	conn, err := net.DialTimeout("tcp", proxyURL.Host, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	req, err := http.NewRequest(http.MethodGet, h.proxy.URL+"/socket", nil)
	require.NoError(t, err)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	for _, c := range h.client.Jar.Cookies(proxyURL) {
		req.AddCookie(c)
	}
	require.NoError(t, req.Write(conn))
	r := bufio.NewReader(conn)
	upgraded, err := http.ReadResponse(r, req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, upgraded.StatusCode)
	_, err = conn.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "echo hello\n", line)
}

func TestProxyRejectsBadConfig(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: "proxy", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:1/authorize"}})
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("proxy"))
	require.NoError(t, err)
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	upstream, _ := url.Parse("http://127.0.0.1:1/")
	tests := []struct {
		name     string
		upstream *url.URL
		pc       httpoidc.ProxyConfig
		want     string
	}{
		{"library paths hide the upstream's", upstream, httpoidc.ProxyConfig{}, `Config.CallbackPath "/authorize" is not under /oauth2`},
		{"relative upstream", &url.URL{Path: "/app"}, httpoidc.ProxyConfig{}, "absolute http(s) URL"},
		{"root prefix", upstream, httpoidc.ProxyConfig{Prefix: "/"}, "Prefix must be a path below /"},
		{"bad scope", upstream, httpoidc.ProxyConfig{BearerScopes: []string{"a b"}}, "not an OAuth 2.0 scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oc.ReverseProxy(tt.upstream, tt.pc)
			require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// BenchmarkProxyLoggedInRequest measures the proxy's own work for a
// logged-in request: session, identity headers and forwarding to an
// upstream on loopback.
func BenchmarkProxyLoggedInRequest(b *testing.B) {
	h := newProxyHarness(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.Header.Get("X-Forwarded-Email"))
	}), httpoidc.ProxyConfig{})
	resp, body := h.do(h.client, http.MethodGet, "/", nil) // log in
	require.Equal(b, "hello alice@example.com", body, resp.Status)
	proxyURL, _ := url.Parse(h.proxy.URL)
	cookies := h.client.Jar.Cookies(proxyURL)
	handler := h.proxy.Config.Handler
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, h.proxy.URL+"/page", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

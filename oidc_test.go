package httpoidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// harness is an application using httpoidc, logged in against a real
// oidctest provider over real HTTP.
type harness struct {
	t      *testing.T
	op     *oidctest.Server
	oc     *httpoidc.OpenIDConnect
	app    *httptest.Server
	client *http.Client
	config httpoidc.Config
	// handler is what app serves; serve replaces it.
	handler *atomic.Value
}

// serveReplica makes the app server use oc from now on, as if another
// replica took over.
func (h *harness) serveReplica(oc *httpoidc.OpenIDConnect) {
	h.handler.Store(http.HandlerFunc(oc.Handler(testApp(oc)).ServeHTTP))
}

var alice = oidctest.User{Subject: "alice", Claims: map[string]any{
	"email": "alice@example.com", "email_verified": true, "name": "Alice Liddell", "groups": []any{"admins", "staff"},
}}

// newHarness starts a provider and an application; configure may change
// the Config before New.
func newHarness(t *testing.T, configure func(*httpoidc.Config), opts ...oidctest.Option) *harness {
	t.Helper()
	h := startHarness(t, opts...)
	h.op.AddClient(oidctest.Client{
		ID: "app", Secret: "app-secret",
		RedirectURIs:           []string{h.app.URL + "/authorize"},
		PostLogoutRedirectURIs: []string{h.app.URL + "/logout"},
		BackchannelLogoutURI:   h.app.URL + "/backchannel-logout",
	})
	secrets, err := httpoidc.ParseClientSecrets(h.op.ClientSecrets("app"))
	require.NoError(t, err)
	require.NoError(t, h.start(secrets, configure))
	return h
}

// startHarness starts a provider that logs alice in at once, and an
// application server that serves nothing until start: the caller first
// registers its client, whose URIs need the server's URL.
func startHarness(t *testing.T, opts ...oidctest.Option) *harness {
	t.Helper()
	op := oidctest.NewServer(opts...)
	t.Cleanup(op.Close)
	app, handler := serveLater(t)
	op.AddUser(alice)
	op.AutoLogin("alice")
	return &harness{t: t, op: op, app: app, client: newBrowser(t), handler: handler}
}

// start makes the application an OpenIDConnect for secrets, with the
// tests' Scopes, clock and logger changed by each configure in turn,
// serving testApp. The error is New's.
func (h *harness) start(secrets *httpoidc.ClientSecrets, configure ...func(*httpoidc.Config)) error {
	cfg := httpoidc.Config{
		ClientSecrets: secrets,
		Scopes:        []string{"openid", "email", "profile", "groups"},
		Now:           h.op.Now,
		Logger:        slog.New(slog.DiscardHandler),
	}
	for _, c := range configure {
		if c != nil {
			c(&cfg)
		}
	}
	h.config = cfg
	oc, err := httpoidc.New(context.Background(), cfg)
	if err != nil {
		return err
	}
	h.t.Cleanup(oc.Close)
	h.oc = oc
	h.handler.Store(oc.Handler(testApp(oc)))
	return nil
}

// serveLater starts a server that serves the handler stored in the
// returned value: the handler needs New, which needs the server's URL.
func serveLater(t testing.TB) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &handler
}

// newBrowser is an http.Client with a cookie jar, like a browser profile.
func newBrowser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// account is an application's own user type, built by Config.NewUser.
type account struct {
	ID    string
	Admin bool
}

// testApp is the Flask-OIDC documentation's example app, plus a few pages
// the tests read state from.
func testApp(oc *httpoidc.OpenIDConnect) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if u := httpoidc.UserFrom(r.Context()); u.LoggedIn() {
			fmt.Fprintf(w, "Welcome %s", u.Email)
			return
		}
		fmt.Fprint(w, "Not logged in")
	})
	mux.Handle("/login", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Email)
	})))
	mux.Handle("/me", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sub": u.Subject, "email": u.Email, "name": u.Name, "groups": u.Groups, "profile": u.Profile,
			"access_token": u.AccessToken, "refresh_token": u.RefreshToken, "id_token": u.IDToken,
		})
	})))
	mux.HandleFunc("/account", func(w http.ResponseWriter, r *http.Request) {
		a, ok := httpoidc.UserAs[*account](r.Context())
		if !ok {
			http.Error(w, "no account", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "account %s admin=%t", a.ID, a.Admin)
	})
	mux.HandleFunc("/local-logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpoidc.UserFrom(r.Context()).Logout(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "logged out locally")
	})
	return mux
}

// get fetches path from the app, following redirects, and returns the
// final response's status and body.
func (h *harness) get(client *http.Client, path string, header ...string) (*http.Response, string) {
	h.t.Helper()
	return h.send(client, http.MethodGet, path, nil, header...)
}

// clickGet GETs url as a browser does for a link on the application's own
// pages (Sec-Fetch-Site same-origin), which /logout needs to log out
// without asking.
func clickGet(client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return client.Do(req)
}

// login logs the browser in and checks it worked.
func (h *harness) login(client *http.Client) {
	h.t.Helper()
	resp, body := h.get(client, "/login")
	require.Equal(h.t, http.StatusOK, resp.StatusCode, body)
	require.Equal(h.t, "Welcome alice@example.com", body)
}

// me returns the logged-in user as the app sees it.
func (h *harness) me(client *http.Client) map[string]any {
	h.t.Helper()
	resp, body := h.get(client, "/me", "Accept", "application/json")
	require.Equal(h.t, http.StatusOK, resp.StatusCode, body)
	var m map[string]any
	require.NoError(h.t, json.Unmarshal([]byte(body), &m))
	return m
}

// loggedIn reports what the home page says about the browser.
func (h *harness) loggedIn(client *http.Client) bool {
	h.t.Helper()
	_, body := h.get(client, "/")
	return strings.HasPrefix(body, "Welcome ")
}

// noRedirects returns a client sharing the jar that stops at the first
// redirect, to look at or replay a single step of the flow.
func noRedirects(client *http.Client) *http.Client {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// callbackURL runs the flow up to the provider's redirect back to the app
// and returns that URL without visiting it.
func (h *harness) callbackURL(client *http.Client) string {
	h.t.Helper()
	c := *client
	var callback string
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), h.app.URL+"/authorize") {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(h.app.URL + "/login")
	require.NoError(h.t, err)
	resp.Body.Close()
	require.NotEmpty(h.t, callback, "the provider did not redirect back")
	return callback
}

func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	require.False(t, h.loggedIn(h.client))

	resp, err := noRedirects(h.client).Get(h.app.URL + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authURL, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authURL.String(), h.op.URL+"/authorize"), authURL.String())
	q := authURL.Query()
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "app", q.Get("client_id"))
	require.Equal(t, h.app.URL+"/authorize", q.Get("redirect_uri"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.NotEmpty(t, q.Get("code_challenge"))
	require.NotEmpty(t, q.Get("nonce"))
	require.GreaterOrEqual(t, len(q.Get("state")), 20)
	require.Equal(t, "openid email profile groups", q.Get("scope"))

	h.login(h.client)
	me := h.me(h.client)
	require.Equal(t, "alice", me["sub"])
	require.Equal(t, "Alice Liddell", me["name"])
	require.Equal(t, []any{"admins", "staff"}, me["groups"])
	require.Equal(t, true, me["profile"].(map[string]any)["email_verified"])
	require.NotContains(t, me["profile"], "nonce", "protocol claims stay out of the profile")
	require.NotEmpty(t, me["access_token"])
	require.NotEmpty(t, me["refresh_token"])
	require.NotEmpty(t, me["id_token"])
	require.True(t, h.loggedIn(h.client))
	require.Equal(t, 1, h.op.Requests(oidctest.EndpointUserInfo))
}

func TestLoginReturnsToRequestedPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, body := h.get(h.client, "/me?x=1", "Accept", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "/me", resp.Request.URL.Path)
	require.Equal(t, "x=1", resp.Request.URL.RawQuery)
}

func TestLoginWithoutUserInfo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *httpoidc.Config) { c.DisableUserInfo = true })
	h.login(h.client)
	require.Equal(t, 0, h.op.Requests(oidctest.EndpointUserInfo))
	require.Equal(t, "alice", h.me(h.client)["sub"])
}

// TestProfileLeavesOutProtocolClaims: claims about the token rather than
// the user stay out of the profile, from the ID token and from userinfo,
// which Ory Hydra fills with its ID token's claims, its own rat included.
func TestProfileLeavesOutProtocolClaims(t *testing.T) {
	t.Parallel()
	for _, disableUserInfo := range []bool{false, true} {
		h := newHarness(t, func(c *httpoidc.Config) { c.DisableUserInfo = disableUserInfo })
		h.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "rat": 1700000000}})
		h.login(h.client)
		profile, _ := h.me(h.client)["profile"].(map[string]any)
		require.Equal(t, "alice@example.com", profile["email"], "DisableUserInfo %v", disableUserInfo)
		require.NotContains(t, profile, "rat", "DisableUserInfo %v", disableUserInfo)
		// The profile a refresh rebuilds from the ID token and userinfo
		// leaves them out too.
		tokenCalls := h.op.Requests(oidctest.EndpointToken)
		h.op.Advance(59 * time.Minute)
		profile, _ = h.me(h.client)["profile"].(map[string]any)
		require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken), "refreshed")
		require.Equal(t, "alice@example.com", profile["email"], "after a refresh, DisableUserInfo %v", disableUserInfo)
		require.NotContains(t, profile, "rat", "after a refresh, DisableUserInfo %v", disableUserInfo)
	}
}

func TestClientSecretBasic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *httpoidc.Config) { c.ClientAuthMethod = httpoidc.AuthClientSecretBasic })
	h.login(h.client)
}

func TestStateIsBoundToBrowserAndSingleUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	callback := h.callbackURL(h.client)

	// Another browser cannot use this browser's callback.
	other := newBrowser(t)
	resp, err := other.Get(callback)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.False(t, h.loggedIn(other))

	// A tampered state is refused, and spends nothing.
	tampered := strings.Replace(callback, "state=", "state=X", 1)
	resp, err = h.client.Get(tampered)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, err = h.client.Get(callback)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, h.loggedIn(h.client))

	// Replaying the same callback fails.
	resp, err = h.client.Get(callback)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestCallbackWithoutState(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, body := h.get(h.client, "/authorize?code=abc")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	require.Contains(t, body, "not valid for this browser")
}

func TestTwoTabsLogInAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	first := h.callbackURL(h.client)
	second := h.callbackURL(h.client)
	for _, callback := range []string{second, first} {
		resp, err := h.client.Get(callback)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, "Welcome alice@example.com", string(body))
	}
}

func TestSessionIDRenewedAtLoginAndLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	appURL, _ := url.Parse(h.app.URL)
	cookie := func() string {
		for _, c := range h.client.Jar.Cookies(appURL) {
			if c.Name == "httpoidc_session" {
				return c.Value
			}
		}
		return ""
	}
	h.callbackURL(h.client)
	require.Empty(t, cookie(), "the pending login lives in its own cookie, not in a session")
	h.login(h.client)
	afterLogin := cookie()
	require.NotEmpty(t, afterLogin)
	resp, body := h.get(h.client, "/local-logout")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	afterLogout := cookie()
	require.NotEqual(t, afterLogin, afterLogout)
	h.login(h.client)
	require.NotEqual(t, afterLogout, cookie(), "a login in an existing session renews its token")
	afterLogin = cookie()

	resp, body = h.get(h.client, "/local-logout")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NotEqual(t, afterLogin, cookie())

	// Replaying the logged-in cookie gives an anonymous user: the
	// server-side session is gone.
	replay := newBrowser(t)
	replay.Jar.SetCookies(appURL, []*http.Cookie{{Name: "httpoidc_session", Value: afterLogin}})
	require.False(t, h.loggedIn(replay))
}

func TestProviderDownAtStart(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: "app", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:1/authorize"}})
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("app"))
	require.NoError(t, err)
	op.SetFault(oidctest.FaultDiscoveryDown, true)

	_, err = httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, Logger: slog.New(slog.DiscardHandler)})
	require.ErrorIs(t, err, httpoidc.ErrProviderUnavailable)

	h := newHarness(t, func(c *httpoidc.Config) { c.LazyDiscovery = true })
	h.op.SetFault(oidctest.FaultDiscoveryDown, true)
	resp, body := h.get(h.client, "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	resp, _ = h.get(h.client, "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, 1, h.op.Requests(oidctest.EndpointDiscovery), "retries back off instead of hitting the provider per request")

	h.op.SetFault(oidctest.FaultDiscoveryDown, false)
	h.op.Advance(2 * time.Second)
	h.login(h.client)
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  httpoidc.Config
		want error
	}{
		{"no secrets", httpoidc.Config{}, httpoidc.ErrInvalidConfig},
		{"missing file", httpoidc.Config{ClientSecretsFile: "/nonexistent/client_secrets.json"}, httpoidc.ErrInvalidClientSecrets},
		{"no openid scope", httpoidc.Config{Disabled: true, Scopes: []string{"email"}}, httpoidc.ErrInvalidConfig},
		{"bad auth method", httpoidc.Config{Disabled: true, ClientAuthMethod: "bearer"}, httpoidc.ErrInvalidConfig},
		{"bad validation", httpoidc.Config{Disabled: true, AccessTokenValidation: "magic"}, httpoidc.ErrInvalidConfig},
		{"relative callback", httpoidc.Config{Disabled: true, CallbackPath: "authorize"}, httpoidc.ErrInvalidConfig},
		{"incomplete inline secrets", httpoidc.Config{ClientSecrets: &httpoidc.ClientSecrets{ClientID: "a", Issuer: "https://op.example"}}, httpoidc.ErrInvalidClientSecrets},
		{"no redirect URI", httpoidc.Config{LazyDiscovery: true, ClientSecrets: &httpoidc.ClientSecrets{ClientID: "a", ClientSecret: "b", Issuer: "https://op.example"}}, httpoidc.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpoidc.New(context.Background(), tt.cfg)
			require.Error(t, err)
			require.True(t, errors.Is(err, tt.want), "%v", err)
		})
	}
}

// TestCloseStopsWhatNewStarted: New leaves no goroutine behind once Close
// is called (issue 11, finding 9: each New left a session store cleanup
// goroutine running).
func TestCloseStopsWhatNewStarted(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	configs := map[string]httpoidc.Config{
		"disabled":            {Disabled: true},
		"own session store":   {Disabled: true, SessionStore: memstore.NewWithCleanupInterval(0)},
		"resource server":     {Disabled: true, ResourceServerOnly: true},
		"lazy discovery":      {LazyDiscovery: true, ClientSecrets: &httpoidc.ClientSecrets{ClientID: "a", ClientSecret: "b", Issuer: "https://op.example", RedirectURIs: []string{"https://app.example/authorize"}}},
		"failed at discovery": {ClientSecrets: &httpoidc.ClientSecrets{ClientID: "a", ClientSecret: "b", Issuer: "http://127.0.0.1:1", RedirectURIs: []string{"https://app.example/authorize"}}, Timeout: time.Second},
	}
	for name, cfg := range configs {
		cfg.Logger = slog.New(slog.DiscardHandler)
		for range 20 {
			oc, err := httpoidc.New(context.Background(), cfg)
			if name == "failed at discovery" {
				require.Error(t, err, "New cleans up after itself when it fails")
				continue
			}
			require.NoError(t, err, name)
			oc.Close()
			oc.Close() // a second Close does nothing
		}
	}
}

// TestProviderURLsMustUseHTTPS: tokens, keys and the client secret never
// travel in clear text to a provider URL off this machine, whether the URL
// is configured or discovered, unless InsecureHTTPProvider says it is a
// test set-up.
func TestProviderURLsMustUseHTTPS(t *testing.T) {
	t.Parallel()
	configured := []struct {
		name    string
		secrets httpoidc.ClientSecrets
		refuse  string // the key the error names; empty: accepted
	}{
		{"https issuer", httpoidc.ClientSecrets{Issuer: "https://op.example"}, ""},
		{"http issuer on 127.0.0.1", httpoidc.ClientSecrets{Issuer: "http://127.0.0.1:1"}, ""},
		{"http issuer on localhost", httpoidc.ClientSecrets{Issuer: "http://localhost:1"}, ""},
		{"http issuer on ::1", httpoidc.ClientSecrets{Issuer: "http://[::1]:1"}, ""},
		{"http issuer on a public host", httpoidc.ClientSecrets{Issuer: "http://op.example"}, "issuer"},
		{"http token_uri", httpoidc.ClientSecrets{Issuer: "https://op.example", TokenURI: "http://op.example/token"}, "token_uri"},
		{"http auth_uri", httpoidc.ClientSecrets{Issuer: "https://op.example", AuthURI: "http://op.example/auth"}, "auth_uri"},
		{"http userinfo_uri", httpoidc.ClientSecrets{Issuer: "https://op.example", UserInfoURI: "http://op.example/me"}, "userinfo_uri"},
		{"http token_introspection_uri", httpoidc.ClientSecrets{Issuer: "https://op.example", IntrospectionURI: "http://op.example/i"}, "token_introspection_uri"},
	}
	for _, tt := range configured {
		for _, insecure := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, InsecureHTTPProvider %t", tt.name, insecure), func(t *testing.T) {
				secrets := tt.secrets
				secrets.ClientID, secrets.ClientSecret = "app", "app-secret"
				var logs strings.Builder
				oc, err := httpoidc.New(context.Background(), httpoidc.Config{
					ClientSecrets: &secrets, RedirectURL: "https://app.example/authorize",
					LazyDiscovery: true, InsecureHTTPProvider: insecure,
					Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				})
				if tt.refuse == "" || insecure {
					require.NoError(t, err)
					oc.Close()
					if insecure {
						require.Contains(t, logs.String(), "level=WARN msg=\"httpoidc: InsecureHTTPProvider is set")
					}
					return
				}
				require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
				require.ErrorContains(t, err, tt.refuse)
				require.ErrorContains(t, err, "https")
			})
		}
	}

	// A provider on loopback whose discovery document lists URLs elsewhere:
	// New stops at the document and contacts none of them.
	discovered := []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "introspection_endpoint", "end_session_endpoint"}
	for _, endpoint := range append([]string{""}, discovered...) {
		for _, insecure := range []bool{false, true} {
			t.Run(fmt.Sprintf("discovered http %s, InsecureHTTPProvider %t", endpoint, insecure), func(t *testing.T) {
				var op *httptest.Server
				op = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/.well-known/openid-configuration" {
						t.Errorf("unexpected request to %s", r.URL)
						http.NotFound(w, r)
						return
					}
					doc := map[string]any{
						"issuer": op.URL, "response_types_supported": []string{"code"},
						"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
					}
					for _, name := range discovered {
						doc[name] = "https://op.example/" + name
					}
					if endpoint != "" {
						doc[endpoint] = "http://op.example/" + endpoint
					}
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(doc)
				}))
				t.Cleanup(op.Close)
				oc, err := httpoidc.New(context.Background(), httpoidc.Config{
					ClientSecrets:        &httpoidc.ClientSecrets{ClientID: "app", ClientSecret: "app-secret", Issuer: op.URL},
					RedirectURL:          "https://app.example/authorize",
					InsecureHTTPProvider: insecure,
					Logger:               slog.New(slog.DiscardHandler),
				})
				if endpoint == "" || insecure {
					require.NoError(t, err)
					oc.Close()
					return
				}
				require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
				require.ErrorContains(t, err, endpoint)
			})
		}
	}
}

// TestSessionCookieCannotBePlantedBySubdomains: behind https the default
// session cookie is a __Host- cookie (RFC 6265bis §4.1.3.2): Secure,
// host-only, for the whole site, so a sibling subdomain cannot set a
// session of its choosing in the browser (login CSRF). Plain http on
// loopback cannot hold a Secure cookie and keeps the plain name.
func TestSessionCookieCannotBePlantedBySubdomains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		redirect string
		name     string
		secure   bool
	}{
		{"https://app.example/authorize", "__Host-httpoidc_session", true},
		{"http://127.0.0.1:8080/authorize", "httpoidc_session", false},
	}
	for _, tt := range tests {
		t.Run(tt.redirect, func(t *testing.T) {
			oc, err := httpoidc.New(context.Background(), httpoidc.Config{
				ClientSecrets: &httpoidc.ClientSecrets{ClientID: "app", ClientSecret: "app-secret", Issuer: "https://op.example"},
				RedirectURL:   tt.redirect, LazyDiscovery: true, Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			t.Cleanup(oc.Close)
			c := oc.Sessions().Cookie
			require.Equal(t, tt.name, c.Name)
			require.Equal(t, tt.secure, c.Secure)
			require.Equal(t, "/", c.Path)
			require.Empty(t, c.Domain, "host-only")
		})
	}
}

// Package interop_test proves httpoidc against software nobody here wrote:
// panva's oidc-provider (OpenID Certified, run by internal/testenv from
// server.mjs in this folder), Ory Hydra and zitadel/oidc's example OP (built
// from their own modules in tools/) and, in browser_test.go, headless
// Chromium.
// Every test uses only httpoidc's public API, as an application would.
package interop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// userScopes are what the test apps ask for: enough for every profile field
// the provider has.
var userScopes = []string{"openid", "email", "profile", "groups"}

// testContext bounds one test's calls to the provider and the apps.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clock is a Config.Now that the test moves forward, so that tokens expire
// without sleeping.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// reserve makes a server on a loopback host without starting it: its URLs
// must be registered with the provider before the app can be configured.
// Apps that share a browser get different hosts, since cookies ignore ports.
func reserve(t *testing.T, host string) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{ReadHeaderTimeout: 10 * time.Second}}
	t.Cleanup(srv.Close)
	return srv
}

func baseURL(srv *httptest.Server) string { return "http://" + srv.Listener.Addr().String() }

// secretMethods are the ways a client authenticates at the token endpoint
// with its secret (OpenID Connect Core 9).
var secretMethods = []testenv.AuthMethod{testenv.ClientSecretPost, testenv.ClientSecretBasic}

// testLoginThroughRequireLogin starts, with start, a provider with a client
// for each of secretMethods, and for each one checks that a page behind
// RequireLogin sends the browser through the provider and back, logged in
// as alice, and that the session then holds without the provider. check
// looks at the rest of what the app reports about alice.
func testLoginThroughRequireLogin(t *testing.T, start func(clients []testenv.Client) *testenv.Provider, check func(t *testing.T, u userView)) {
	t.Helper()
	servers := map[testenv.AuthMethod]*httptest.Server{}
	var clients []testenv.Client
	for _, m := range secretMethods {
		servers[m] = reserve(t, "127.0.0.1")
		clients = append(clients, webClient(string(m), servers[m], m, false))
	}
	p := start(clients)

	for _, m := range secretMethods {
		t.Run(string(m), func(t *testing.T) {
			ctx := testContext(t)
			a := startApp(t, servers[m], appConfig(p, p.Client(t, string(m))))
			browser := newBrowser(t)

			require.False(t, a.get(t, ctx, browser, "/").LoggedIn)
			u := a.login(t, ctx, p, browser, "alice")
			require.True(t, u.LoggedIn)
			require.Equal(t, "alice", u.Subject)
			require.Equal(t, "alice@example.com", u.Email)
			check(t, u)

			// The session holds: the next page needs no provider.
			again := a.get(t, ctx, browser, "/private")
			require.Equal(t, u.Subject, again.Subject)
			require.Equal(t, u.AccessToken, again.AccessToken)
		})
	}
}

// webClient registers an app at srv with the provider: login callback,
// post-logout page and, when asked, back-channel logout.
func webClient(id string, srv *httptest.Server, method testenv.AuthMethod, backchannel bool) testenv.Client {
	c := testenv.Client{
		ID:                     id,
		RedirectURIs:           []string{baseURL(srv) + "/authorize"},
		PostLogoutRedirectURIs: []string{baseURL(srv) + "/logout"},
		AuthMethod:             method,
	}
	if backchannel {
		c.BackchannelLogoutURI = baseURL(srv) + "/backchannel-logout"
	}
	return c
}

// secretsFor is the client_secrets.json content a user would write for a
// client registered at the provider.
func secretsFor(p *testenv.Provider, c testenv.Client) *httpoidc.ClientSecrets {
	return &httpoidc.ClientSecrets{ClientID: c.ID, ClientSecret: c.Secret, Issuer: p.Issuer, RedirectURIs: c.RedirectURIs}
}

// appConfig is the Config of a test app for client c of p.
func appConfig(p *testenv.Provider, c testenv.Client) httpoidc.Config {
	return httpoidc.Config{
		ClientSecrets:    secretsFor(p, c),
		ClientAuthMethod: string(c.AuthMethod),
		Scopes:           userScopes,
	}
}

// app is an httpoidc web application under test. /private needs a login;
// both it and every other path answer with the request's user as JSON.
type app struct {
	URL string
	// backchannel receives the status the app answered to each
	// back-channel logout request, and logoutTokens its logout_token.
	backchannel  chan int
	logoutTokens chan string
}

// userView is what the test apps tell about the request's user.
type userView struct {
	LoggedIn     bool           `json:"logged_in"`
	Subject      string         `json:"sub"`
	Email        string         `json:"email"`
	Name         string         `json:"name"`
	Groups       []string       `json:"groups"`
	Profile      map[string]any `json:"profile"`
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	IDToken      string         `json:"id_token"`
}

func writeUser(w http.ResponseWriter, r *http.Request) {
	u := httpoidc.UserFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(userView{
		LoggedIn: u.LoggedIn(), Subject: u.Subject, Email: u.Email, Name: u.Name, Groups: u.Groups, Profile: u.Profile,
		AccessToken: u.AccessToken, RefreshToken: u.RefreshToken, IDToken: u.IDToken,
	})
}

// newOIDC is httpoidc.New with the library's logs in the test's output.
func newOIDC(t *testing.T, cfg httpoidc.Config) *httpoidc.OpenIDConnect {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	oc, err := httpoidc.New(testContext(t), cfg)
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	return oc
}

// startApp configures httpoidc with cfg and starts the app on srv.
func startApp(t *testing.T, srv *httptest.Server, cfg httpoidc.Config) *app {
	t.Helper()
	oc := newOIDC(t, cfg)
	a := &app{URL: baseURL(srv), backchannel: make(chan int, 8), logoutTokens: make(chan string, 8)}
	mux := http.NewServeMux()
	mux.Handle("/private", oc.RequireLogin(http.HandlerFunc(writeUser)))
	mux.HandleFunc("/", writeUser)
	handler := oc.Handler(mux)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/backchannel-logout" {
			handler.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		handler.ServeHTTP(rec, r)
		select {
		case a.logoutTokens <- r.PostFormValue("logout_token"):
		default:
		}
		select {
		case a.backchannel <- rec.status:
		default:
		}
	})
	srv.Start()
	return a
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// newBrowser is an http.Client that keeps cookies, as a browser does.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func password(t *testing.T, p *testenv.Provider, user string) string {
	t.Helper()
	for _, u := range p.Users {
		if u.Subject == user {
			return u.Password
		}
	}
	t.Fatalf("provider has no user %q", user)
	return ""
}

// login opens the app's /private page in browser, signs in as user at the
// provider's form, and returns the user the page then reports.
func (a *app) login(t *testing.T, ctx context.Context, p *testenv.Provider, browser *http.Client, user string) userView {
	t.Helper()
	resp, err := p.Login(ctx, browser, a.URL+"/private", user, password(t, p, user))
	require.NoError(t, err)
	return readUser(t, resp, a.URL+"/private")
}

// get fetches an app page with browser and returns the user it reports.
func (a *app) get(t *testing.T, ctx context.Context, browser *http.Client, path string) userView {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	require.NoError(t, err)
	resp, err := browser.Do(req)
	require.NoError(t, err)
	return readUser(t, resp, a.URL+path)
}

// fetch GETs an app page with browser and returns the status and body it
// answered.
func (a *app) fetch(t *testing.T, ctx context.Context, browser *http.Client, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	require.NoError(t, err)
	resp, err := browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func readUser(t *testing.T, resp *http.Response, wantURL string) userView {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", resp.Request.URL, body)
	require.Equal(t, wantURL, resp.Request.URL.String(), "landed elsewhere: %s", body)
	var u userView
	require.NoError(t, json.Unmarshal(body, &u), "%s", body)
	return u
}

// jwtClaims reads a JWT's payload without verifying it: httpoidc has
// verified it already, the test only compares what it holds.
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "not a JWS")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// metadata is the part of the provider's discovery document the tests call
// directly.
type metadata struct {
	AuthURL       string `json:"authorization_endpoint"`
	TokenURL      string `json:"token_endpoint"`
	UserInfoURL   string `json:"userinfo_endpoint"`
	Introspection string `json:"introspection_endpoint"`
	Revocation    string `json:"revocation_endpoint"`
	Registration  string `json:"registration_endpoint"`
}

func discover(t *testing.T, ctx context.Context, p *testenv.Provider) metadata {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+"/.well-known/openid-configuration", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var m metadata
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

// clientPost POSTs a form to a provider endpoint, authenticated as c the way
// c is registered, and returns the status and the JSON answer, if any.
func clientPost(t *testing.T, ctx context.Context, c testenv.Client, endpoint string, form url.Values) (int, map[string]any) {
	t.Helper()
	if c.AuthMethod == testenv.ClientSecretPost {
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.AuthMethod != testenv.ClientSecretPost {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

// TestLoginThroughRequireLogin: a page behind RequireLogin sends the browser
// to oidc-provider and back, logged in, with the profile from userinfo,
// whichever way the client authenticates at the token endpoint.
func TestLoginThroughRequireLogin(t *testing.T) {
	testLoginThroughRequireLogin(t, func(clients []testenv.Client) *testenv.Provider {
		return testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: clients})
	}, func(t *testing.T, u userView) {
		require.Equal(t, []string{"admins", "staff"}, u.Groups)
		// oidc-provider's ID token holds no scope claims here (OpenID
		// Connect Core 5.4): the email can only have come from userinfo.
		require.NotContains(t, jwtClaims(t, u.IDToken), "email")
	})
}

// TestProfile: the profile has every claim oidc-provider releases for the
// scopes, from userinfo or (with userinfo off) from the ID token, with one
// consistent sub and none of the ID token's protocol claims.
func TestProfile(t *testing.T) {
	cases := []struct {
		name            string
		idTokenClaims   bool // the provider puts scope claims in the ID token
		disableUserInfo bool
	}{
		{name: "userinfo"},
		{name: "ID token only", idTokenClaims: true, disableUserInfo: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			srv := reserve(t, "127.0.0.1")
			p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
				Clients:       []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
				IDTokenClaims: tc.idTokenClaims,
			})
			cfg := appConfig(p, p.Client(t, "web"))
			cfg.DisableUserInfo = tc.disableUserInfo
			a := startApp(t, srv, cfg)

			u := a.login(t, ctx, p, newBrowser(t), "bob")
			require.Equal(t, "bob", u.Subject)
			require.Equal(t, u.Subject, u.Profile["sub"])
			require.Equal(t, u.Subject, jwtClaims(t, u.IDToken)["sub"])
			require.Equal(t, "bob@example.com", u.Email)
			require.Equal(t, "Bob Example", u.Name)
			require.Equal(t, []string{"staff"}, u.Groups)
			require.Equal(t, false, u.Profile["email_verified"])
			require.Equal(t, "bob", u.Profile["preferred_username"])
			for _, claim := range []string{"iss", "aud", "exp", "iat", "nonce", "at_hash", "auth_time", "azp"} {
				require.NotContains(t, u.Profile, claim)
			}
		})
	}
}

// TestRefreshAfterExpiry: with offline_access, an expired access token is
// refreshed at oidc-provider's token endpoint without the user noticing;
// once the provider refuses the refresh token, the user logs in again.
func TestRefreshAfterExpiry(t *testing.T) {
	r := refreshing{ttl: 5 * time.Minute, revokeHint: "refresh_token"}
	testRefreshAfterExpiry(t, r, func(web testenv.Client) (*testenv.Provider, string) {
		p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{web}, AccessTokenTTL: r.ttl})
		return p, ""
	})
}

// refreshing is how a provider refreshes, for testRefreshAfterExpiry.
type refreshing struct {
	ttl        time.Duration // the access tokens' lifetime
	rotates    bool          // each refresh returns a new refresh token
	revokeHint string        // the token_type_hint to revoke with, if any
}

// testRefreshAfterExpiry logs alice in with offline_access, through client
// "web" of the provider that start starts (it returns the provider and its
// introspection endpoint, "" for the one discovery names), and checks that
// an expired access token is refreshed without her noticing, twice in a
// row, and that once the provider has revoked the refresh token the next
// expiry sends her to log in again.
func testRefreshAfterExpiry(t *testing.T, r refreshing, start func(web testenv.Client) (*testenv.Provider, string)) {
	t.Helper()
	ctx := testContext(t)
	srv := reserve(t, "127.0.0.1")
	p, introspection := start(webClient("web", srv, testenv.ClientSecretBasic, false))
	client := p.Client(t, "web")
	meta := discover(t, ctx, p)
	if introspection == "" {
		introspection = meta.Introspection
	}
	clk := &clock{}
	cfg := appConfig(p, client)
	cfg.Scopes = append(slices.Clone(userScopes), "offline_access")
	cfg.Now = clk.Now
	a := startApp(t, srv, cfg)
	browser := newBrowser(t)

	first := a.login(t, ctx, p, browser, "alice")
	require.NotEmpty(t, first.RefreshToken, "the provider issues a refresh token for offline_access")
	require.Equal(t, first.AccessToken, a.get(t, ctx, browser, "/private").AccessToken, "no refresh before expiry")

	// Two expiries in a row: the second refresh uses whatever refresh token
	// the first one left in the session.
	previous := first
	for range 2 {
		clk.Advance(r.ttl)
		u := a.get(t, ctx, browser, "/private")
		require.True(t, u.LoggedIn)
		require.Equal(t, "alice", u.Subject)
		require.NotEqual(t, previous.AccessToken, u.AccessToken, "the access token was refreshed")
		if r.rotates {
			require.NotEqual(t, previous.RefreshToken, u.RefreshToken, "the provider rotates refresh tokens")
		}
		status, info := clientPost(t, ctx, client, introspection, url.Values{"token": {u.AccessToken}})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, true, info["active"], "the provider knows the new access token")
		require.Equal(t, "alice", info["sub"])
		previous = u
	}

	// The provider stops honouring the refresh token: at the next expiry
	// the session ends and a page load goes to the provider again.
	revoke := url.Values{"token": {previous.RefreshToken}}
	if r.revokeHint != "" {
		revoke.Set("token_type_hint", r.revokeHint)
	}
	status, _ := clientPost(t, ctx, client, meta.Revocation, revoke)
	require.Equal(t, http.StatusOK, status)
	clk.Advance(r.ttl)
	requireSentToLogin(t, ctx, a, browser, meta.AuthURL)
}

// requireSentToLogin checks that the app's /private page sends browser to
// the provider's authorization endpoint, at authURL.
func requireSentToLogin(t *testing.T, ctx context.Context, a *app, browser *http.Client, authURL string) {
	t.Helper()
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/private", nil)
	require.NoError(t, err)
	resp, err := noFollow.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), authURL+"?"), "sent to log in again, got %s", loc)
	require.False(t, a.get(t, ctx, browser, "/").LoggedIn)
}

// TestRPInitiatedLogout: /logout ends the app session, sends the browser to
// oidc-provider's end_session_endpoint, which asks for confirmation, ends
// its own session and returns to the app, anonymous.
func TestRPInitiatedLogout(t *testing.T) {
	testRPInitiatedLogout(t, func(web testenv.Client) *testenv.Provider {
		return testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{web}})
	}, true)
}

// testRPInitiatedLogout logs alice in to an app of client "web" at the
// provider that start starts, then out through the app's /logout and the
// provider's end-session endpoint, and checks that the browser is back at
// the app logged out and that a copy of the session cookie, taken while it
// was logged in, is no longer. With singleSignOn, the provider remembers
// logins: its session must have ended too, so that logging in again asks
// for the password.
func testRPInitiatedLogout(t *testing.T, start func(web testenv.Client) *testenv.Provider, singleSignOn bool) {
	t.Helper()
	ctx := testContext(t)
	srv := reserve(t, "127.0.0.1")
	p := start(webClient("web", srv, testenv.ClientSecretBasic, false))
	a := startApp(t, srv, appConfig(p, p.Client(t, "web")))
	browser := newBrowser(t)
	require.True(t, a.login(t, ctx, p, browser, "alice").LoggedIn)

	// A copy of the session cookie, as an attacker might have taken it.
	appURL, err := url.Parse(a.URL)
	require.NoError(t, err)
	stolen := newBrowser(t)
	stolen.Jar.SetCookies(appURL, browser.Jar.Cookies(appURL))
	require.True(t, a.get(t, ctx, stolen, "/").LoggedIn)

	resp, err := p.ConfirmLogout(ctx, browser, a.URL+"/logout")
	require.NoError(t, err)
	u := readUser(t, resp, a.URL+"/")
	require.False(t, u.LoggedIn, "back at the app, logged out")
	require.False(t, a.get(t, ctx, stolen, "/").LoggedIn, "the old session is gone on the server")

	if singleSignOn {
		// The provider's session ended too: logging in asks for the
		// password again instead of signing in silently.
		_, err = p.Login(ctx, browser, a.URL+"/private", "alice", "wrong password")
		require.ErrorContains(t, err, "login rejected")
	}
}

// TestBackchannelLogout: two apps share one provider session in one
// browser; logging out of one at oidc-provider ends the other's session
// through the back channel.
func TestBackchannelLogout(t *testing.T) {
	two := logOutOfOneApp(t, func(clients []testenv.Client) *testenv.Provider {
		return testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: clients})
	}, nil)
	require.Equal(t, http.StatusOK, two.status, "app two accepted the logout token")
	require.False(t, two.app.get(t, two.ctx, two.browser, "/").LoggedIn, "app two's session ended")
}

// otherApp is the app logOutOfOneApp did not log out of.
type otherApp struct {
	ctx     context.Context
	app     *app
	browser *http.Client
	// status is what the app answered the provider's logout token, token.
	status int
	token  string
}

// logOutOfOneApp logs alice in, in one browser, to two apps of clients
// that take back-channel logout at the provider that start starts: to the
// second by single sign-on, where the provider must not ask for the
// password (the wrong one is given). It then logs out of the first through
// the provider, and waits for the provider to post a logout token to the
// second, whose Config configure, when not nil, changes.
func logOutOfOneApp(t *testing.T, start func(clients []testenv.Client) *testenv.Provider, configure func(*httpoidc.Config)) otherApp {
	t.Helper()
	// Different hosts, so that the apps' cookies do not collide.
	srv1, srv2 := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.3")
	p := start([]testenv.Client{
		webClient("one", srv1, testenv.ClientSecretBasic, true),
		webClient("two", srv2, testenv.ClientSecretPost, true),
	})
	ctx := testContext(t) // after the start, which may build the provider first
	app1 := startApp(t, srv1, appConfig(p, p.Client(t, "one")))
	cfg := appConfig(p, p.Client(t, "two"))
	if configure != nil {
		configure(&cfg)
	}
	app2 := startApp(t, srv2, cfg)
	browser := newBrowser(t)
	require.True(t, app1.login(t, ctx, p, browser, "alice").LoggedIn)
	// Single sign-on: the provider remembers the login, so the wrong
	// password is never asked for.
	resp, err := p.Login(ctx, browser, app2.URL+"/private", "alice", "wrong password")
	require.NoError(t, err)
	u2 := readUser(t, resp, app2.URL+"/private")
	require.True(t, u2.LoggedIn)
	require.NotEmpty(t, jwtClaims(t, u2.IDToken)["sid"], "sid ties the app session to the provider session")

	resp, err = p.ConfirmLogout(ctx, browser, app1.URL+"/logout")
	require.NoError(t, err)
	require.False(t, readUser(t, resp, app1.URL+"/").LoggedIn)

	// The provider posts the logout token itself, on its own schedule.
	two := otherApp{ctx: ctx, app: app2, browser: browser}
	select {
	case two.status = <-app2.backchannel:
	case <-ctx.Done():
		t.Fatal("the provider sent app two no back-channel logout")
	}
	two.token = <-app2.logoutTokens
	return two
}

// TestOIDCRegister: oidc-register registers a client at oidc-provider's
// registration endpoint, and the client_secrets.json it writes logs in and
// out with httpoidc's defaults.
func TestOIDCRegister(t *testing.T) {
	ctx := testContext(t)
	bin := testenv.BuildCommand(t, "cmd/oidc-register")
	srv := reserve(t, "127.0.0.1")
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{})
	secrets := filepath.Join(t.TempDir(), "client_secrets.json")

	out, err := exec.CommandContext(ctx, bin, "-output", secrets, p.Issuer, baseURL(srv)+"/authorize").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Registered client ")
	info, err := os.Stat(secrets)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	a := startApp(t, srv, httpoidc.Config{ClientSecretsFile: secrets, Scopes: userScopes})
	browser := newBrowser(t)
	u := a.login(t, ctx, p, browser, "bob")
	require.Equal(t, "bob", u.Subject)
	require.Equal(t, "bob@example.com", u.Email)

	// oidc-register registered the post-logout URI httpoidc sends by default.
	resp, err := p.ConfirmLogout(ctx, browser, a.URL+"/logout")
	require.NoError(t, err)
	require.False(t, readUser(t, resp, a.URL+"/").LoggedIn)
}

package testenv

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// providerHost keeps the provider's cookies apart from those of apps under
// test on 127.0.0.1: browsers and cookie jars ignore ports.
const providerHost = "127.0.0.2"

// startupTimeout bounds how long a peer may take to answer for the first time.
const startupTimeout = 20 * time.Second

// AuthMethod is a client authentication method at the token, introspection
// and revocation endpoints.
type AuthMethod string

// The client authentication methods the provider accepts; each client is
// registered with exactly one of them, and oidc-provider enforces it.
const (
	ClientSecretBasic AuthMethod = "client_secret_basic"
	ClientSecretPost  AuthMethod = "client_secret_post"
	// PrivateKeyJWT authenticates with assertions signed by a key of the
	// client's JWKS (oidc-provider with ProviderConfig.FAPI only).
	PrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Client is a confidential client registered with the provider at start-up.
// It may use the authorization_code and refresh_token grants with
// response_type code.
type Client struct {
	ID                     string
	Secret                 string // empty: a random secret is made
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string     // empty: no back-channel logout
	AuthMethod             AuthMethod // empty: ClientSecretBasic
	// JWTAccessTokens makes Hydra and zitadel issue JWT access tokens to
	// this client instead of opaque ones. oidc-provider refuses it: it
	// issues JWTs for a Resource, whoever asks.
	JWTAccessTokens bool
	// JWKS is the client's public keys as a JWK Set document, for
	// PrivateKeyJWT.
	JWKS json.RawMessage
}

// User is an account that can sign in at the provider's login page.
type User struct {
	Subject       string // the sub claim, and the username on the login page
	Password      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// Claims are more claims, released with the scope "roles": nested role
	// claims as Keycloak has them, realm_access {"roles": [...]} and
	// resource_access {client: {"roles": [...]}}, or a top-level roles.
	Claims map[string]any
}

// Resource is a protected API, named by its resource indicator (RFC 8707).
// An access token requested for it is an RFC 9068 JWT with aud set to the
// indicator and the granted Scopes among those requested.
type Resource struct {
	Indicator      string // absolute URL, e.g. "http://127.0.0.1:8080/api"
	Scopes         []string
	AccessTokenTTL time.Duration // 0: ProviderConfig.AccessTokenTTL
}

// ProviderConfig configures StartOIDCProvider. Its zero value starts a
// provider with DefaultUsers, no clients and no resources.
type ProviderConfig struct {
	Clients   []Client
	Users     []User // nil: DefaultUsers()
	Resources []Resource

	AccessTokenTTL  time.Duration // 0: one hour
	IDTokenTTL      time.Duration // 0: one hour
	RefreshTokenTTL time.Duration // 0: one day

	// IDTokenClaims puts the scope claims (email, name, groups…) into the ID
	// token of a code flow too; by default, as OpenID Connect Core says, only
	// userinfo returns them.
	IDTokenClaims bool

	// UseGrantedResource makes a token request that names no resource get
	// the access token for the resource its authorization request asked
	// for, as a web app that sends resource in its AuthParams expects; by
	// default it gets an opaque token for userinfo.
	UseGrantedResource bool

	// FAPI turns on oidc-provider's FAPI 2.0 profile: pushed authorization
	// requests required, DPoP with server nonces, private_key_jwt.
	FAPI bool
}

// Provider is a running oidc-provider.
type Provider struct {
	// Issuer is the issuer URL, e.g. "http://127.0.0.2:41234", with no trailing slash.
	Issuer string
	// Clients are the registered clients, with their secrets and auth methods filled in.
	Clients []Client
	// Users are the accounts that can sign in.
	Users []User

	// pages are host:port pairs outside the issuer's that serve the
	// provider's pages, such as Hydra's login app.
	pages []string
}

// DefaultUsers returns the accounts a provider has unless told otherwise:
// alice (verified email, groups admins and staff) and bob (unverified email,
// group staff). Each password is the username followed by "-password".
func DefaultUsers() []User {
	return []User{
		{Subject: "alice", Password: "alice-password", Email: "alice@example.com", EmailVerified: true,
			Name: "Alice Example", Groups: []string{"admins", "staff"}},
		{Subject: "bob", Password: "bob-password", Email: "bob@example.com", EmailVerified: false,
			Name: "Bob Example", Groups: []string{"staff"}},
	}
}

// withDefaults is c as every provider here registers it: with a random
// secret when it has none and ClientSecretBasic when it names no method. It
// fails the test when c has no ID.
func withDefaults(t testing.TB, c Client) Client {
	t.Helper()
	if c.ID == "" {
		t.Fatalf("testenv: a client needs an ID")
	}
	if c.Secret == "" {
		c.Secret = rand.Text()
	}
	if c.AuthMethod == "" {
		c.AuthMethod = ClientSecretBasic
	}
	return c
}

// Client returns the registered client with the given ID, or fails the test.
func (p *Provider) Client(t testing.TB, id string) Client {
	t.Helper()
	for _, c := range p.Clients {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("testenv: provider has no client %q", id)
	return Client{}
}

// StartOIDCProvider runs interop/server.mjs (panva's oidc-provider on Node.js)
// on 127.0.0.2 with a free port, waits until discovery answers and stops it
// when the test ends. It runs npm ci in interop/ first when node_modules is
// missing or older than package-lock.json.
//
// The provider requires PKCE (S256), issues refresh tokens only for the
// offline_access scope together with prompt=consent (OpenID Connect Core 11),
// and grants every client whatever it asks for without a consent page unless
// prompt=consent is sent.
func StartOIDCProvider(t testing.TB, cfg ProviderConfig) *Provider {
	t.Helper()
	node := lookTool(t, "node", "install Node.js 20 or later with npm")
	dir := filepath.Join(repoRoot(t), "interop")
	ensureNodeModules(t, dir)

	p := &Provider{Users: cfg.Users}
	if p.Users == nil {
		p.Users = DefaultUsers()
	}
	for _, c := range cfg.Clients {
		c = withDefaults(t, c)
		if c.JWTAccessTokens {
			t.Fatalf("testenv: oidc-provider issues JWT access tokens for a Resource, not per client (%s)", c.ID)
		}
		p.Clients = append(p.Clients, c)
	}
	settings, err := json.Marshal(p.wireConfig(cfg))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}

	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OIDC_PROVIDER_CONFIG="+string(settings))
	p.Issuer = startIssuer(t, "oidc-provider", cmd)
	return p
}

// wireConfig is the JSON that server.mjs reads: client metadata as
// oidc-provider spells it, and durations in seconds.
func (p *Provider) wireConfig(cfg ProviderConfig) map[string]any {
	type wireClient struct {
		ID                     string          `json:"client_id"`
		Secret                 string          `json:"client_secret"`
		RedirectURIs           []string        `json:"redirect_uris"`
		PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris,omitempty"`
		BackchannelLogoutURI   string          `json:"backchannel_logout_uri,omitempty"`
		AuthMethod             string          `json:"token_endpoint_auth_method"`
		JWKS                   json.RawMessage `json:"jwks,omitempty"`
	}
	type wireUser struct {
		Subject       string         `json:"sub"`
		Password      string         `json:"password"`
		Email         string         `json:"email,omitempty"`
		EmailVerified bool           `json:"email_verified"`
		Name          string         `json:"name,omitempty"`
		Groups        []string       `json:"groups"`
		Claims        map[string]any `json:"claims,omitempty"`
	}
	type wireResource struct {
		Indicator      string   `json:"indicator"`
		Scopes         []string `json:"scopes"`
		AccessTokenTTL int64    `json:"accessTokenTTL,omitempty"`
	}
	clients := make([]wireClient, 0, len(p.Clients))
	for _, c := range p.Clients {
		clients = append(clients, wireClient{c.ID, c.Secret, c.RedirectURIs, c.PostLogoutRedirectURIs,
			c.BackchannelLogoutURI, string(c.AuthMethod), c.JWKS})
	}
	users := make([]wireUser, 0, len(p.Users))
	for _, u := range p.Users {
		users = append(users, wireUser(u))
	}
	resources := make([]wireResource, 0, len(cfg.Resources))
	for _, r := range cfg.Resources {
		resources = append(resources, wireResource{r.Indicator, r.Scopes, seconds(r.AccessTokenTTL)})
	}
	return map[string]any{
		"host":               providerHost,
		"port":               0,
		"clients":            clients,
		"users":              users,
		"resources":          resources,
		"accessTokenTTL":     seconds(cfg.AccessTokenTTL),
		"idTokenTTL":         seconds(cfg.IDTokenTTL),
		"refreshTokenTTL":    seconds(cfg.RefreshTokenTTL),
		"idTokenClaims":      cfg.IDTokenClaims,
		"fapi":               cfg.FAPI,
		"useGrantedResource": cfg.UseGrantedResource,
	}
}

// seconds rounds d up, so that a TTL below one second is not taken as "default".
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// startIssuer starts cmd, a provider that prints an ISSUER line once it
// listens, stops it when the test ends, and returns its issuer once the
// discovery document answers. It fails the test if the provider exits, or
// does not answer within startupTimeout.
func startIssuer(t testing.TB, name string, cmd *exec.Cmd) string {
	t.Helper()
	var out lockedBuffer
	issuerLine := make(chan string, 1)
	cmd.Stdout = &issuerWatcher{out: &out, found: issuerLine}
	cmd.Stderr = &out
	// The provider exits when its stdin closes, so it cannot outlive a test
	// binary that dies before its cleanups run.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	proc, err := startProcess(cmd)
	if err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		proc.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	var issuer string
	select {
	case issuer = <-issuerLine:
	case <-proc.exited:
		t.Fatalf("testenv: %s exited before listening (%v):\n%s", name, proc.err, out.String())
	case <-ctx.Done():
		t.Fatalf("testenv: %s printed no ISSUER line within %v:\n%s", name, startupTimeout, out.String())
	}
	discovery := issuer + "/.well-known/openid-configuration"
	if err := proc.waitFor(ctx, func(ctx context.Context) error { return getOK(ctx, discovery) }); err != nil {
		t.Fatalf("testenv: %s did not answer: %v\n%s", discovery, err, out.String())
	}
	return issuer
}

// issuerWatcher copies the server's stdout and reports the issuer URL from
// the line server.mjs prints once it listens.
type issuerWatcher struct {
	out   *lockedBuffer
	seen  strings.Builder
	found chan<- string
}

func (w *issuerWatcher) Write(b []byte) (int, error) {
	if w.found != nil {
		w.seen.Write(b)
		if m := regexp.MustCompile(`(?m)^ISSUER (http://\S+)\r?$`).FindStringSubmatch(w.seen.String()); m != nil {
			w.found <- m[1]
			w.found = nil
		}
	}
	return w.out.Write(b)
}

// getOK GETs url and wants 200.
func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// ensureNodeModules runs npm ci in dir unless node_modules is up to date,
// one test binary at a time (lockFile).
func ensureNodeModules(t testing.TB, dir string) {
	t.Helper()
	defer lockFile(t, filepath.Join(dir, ".npm-ci.lock"))()
	want, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// npm writes node_modules/.package-lock.json last, so it marks a complete install.
	if have, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil &&
		!have.ModTime().Before(want.ModTime()) {
		return
	}
	npm := lookTool(t, "npm", "install Node.js 20 or later with npm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: npm ci in %s failed (it needs the npm registry): %v\n%s", dir, err, out)
	}
}

// owns reports whether u points at the provider or its pages.
func (p *Provider) owns(u *url.URL) bool {
	iss, err := url.Parse(p.Issuer)
	return err == nil && u.Host == iss.Host || slices.Contains(p.pages, u.Host)
}

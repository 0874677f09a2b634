package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hydraStartupTimeout bounds Hydra's start, which includes making its
// signing key.
const hydraStartupTimeout = time.Minute

// hydraScopes are the scopes every Hydra client may ask for, besides
// HydraConfig.Scopes: those the consent app releases claims for, and both
// of Hydra's names for refresh tokens.
var hydraScopes = []string{"openid", "offline_access", "offline", "email", "profile", "groups"}

// HydraConfig configures StartHydra. Its zero value starts Hydra with
// DefaultUsers and no clients.
type HydraConfig struct {
	// Clients get the authorization_code and refresh_token grants.
	// BackchannelLogoutURI registers back-channel logout with sid required;
	// JWTAccessTokens sets the client's access_token_strategy to jwt.
	Clients []Client
	Users   []User // nil: DefaultUsers()
	// Audiences are the audiences every client may ask for with the
	// audience parameter of the authorization request. The consent app
	// grants those asked for; Hydra puts them in aud of JWT access tokens
	// and of introspection answers, which is otherwise empty.
	Audiences []string
	// Scopes are the scopes, beyond hydraScopes, that every client may ask for.
	Scopes []string

	AccessTokenTTL  time.Duration // 0: one hour
	IDTokenTTL      time.Duration // 0: one hour
	RefreshTokenTTL time.Duration // 0: 30 days
}

// Hydra is a running Ory Hydra with its login and consent app.
type Hydra struct {
	// Provider has the public issuer URL, the clients and the users, and
	// signs in through the login app with Login and out with ConfirmLogout.
	*Provider
	// AdminURL is the base URL of Hydra's admin API, on its own port.
	AdminURL string
	// LoginURL is the base URL of the login, consent and logout app, whose
	// sign-in form is at /login.
	LoginURL string
}

// IntrospectionURL is Hydra's RFC 7662 endpoint. It is on the admin port and
// the discovery document does not name it: an API that introspects Hydra's
// tokens needs it as token_introspection_uri. Hydra asks for no client
// authentication there; anyone who reaches the admin port may introspect.
func (h *Hydra) IntrospectionURL() string { return h.AdminURL + "/admin/oauth2/introspect" }

// StartHydra runs Ory Hydra v2 (built from interop/tools/hydra with its
// in-memory SQLite store, and cached, see goTool) on 127.0.0.2 with free
// ports for its public and admin APIs, registers the clients through the
// admin API, and stops it when the test ends. Hydra has no login page of its
// own: an app of this package on a third port signs users in from
// cfg.Users, remembers the login (single sign-on), grants every scope and
// audience asked for with the user's claims, and accepts logouts without a
// confirmation page. Hydra's anonymous usage reports are turned off.
func StartHydra(t testing.TB, cfg HydraConfig) *Hydra {
	t.Helper()
	bin := hydraBinary(t)

	users := cfg.Users
	if users == nil {
		users = DefaultUsers()
	}
	ui, err := startHydraLogin(t, users)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Hydra cannot pick free ports itself and report them, so another
	// process may take the ones found here first: try again then.
	var h *Hydra
	for range 3 {
		if h, err = startHydra(t, bin, cfg, ui); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	h.Users = users
	h.pages = []string{ui.host}
	h.LoginURL = ui.url

	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	for _, c := range cfg.Clients {
		c = withDefaults(t, c)
		if err := h.createClient(ctx, c, cfg); err != nil {
			t.Fatalf("testenv: register client %s with Hydra: %v", c.ID, err)
		}
		h.Clients = append(h.Clients, c)
	}
	return h
}

// hydraBinary builds Hydra with SQLite, which its in-memory store needs.
func hydraBinary(t testing.TB) string {
	t.Helper()
	return goTool(t, "hydra", "github.com/ory/hydra/v2", "-tags", "sqlite")
}

// startHydra makes one attempt at StartHydra's server.
func startHydra(t testing.TB, bin string, cfg HydraConfig, ui *hydraLogin) (*Hydra, error) {
	public, err := freePortOn(providerHost)
	if err != nil {
		return nil, err
	}
	admin, err := freePortOn(providerHost)
	if err != nil {
		return nil, err
	}
	issuer := fmt.Sprintf("http://%s:%d", providerHost, public)
	adminURL := fmt.Sprintf("http://%s:%d", providerHost, admin)
	ttl := func(d, dflt time.Duration) string {
		if d <= 0 {
			d = dflt
		}
		return d.String()
	}
	// JSON is YAML, which Hydra reads by the file's extension.
	settings, err := json.Marshal(map[string]any{
		"dsn": "memory",
		"serve": map[string]any{
			"public": map[string]any{"host": providerHost, "port": public},
			"admin":  map[string]any{"host": providerHost, "port": admin},
		},
		"urls": map[string]any{
			"self":                 map[string]any{"issuer": issuer},
			"login":                ui.url + "/login",
			"consent":              ui.url + "/consent",
			"logout":               ui.url + "/logout",
			"error":                ui.url + "/error",
			"post_logout_redirect": ui.url + "/signed-out",
		},
		"ttl": map[string]any{
			"access_token":  ttl(cfg.AccessTokenTTL, time.Hour),
			"id_token":      ttl(cfg.IDTokenTTL, time.Hour),
			"refresh_token": ttl(cfg.RefreshTokenTTL, 720*time.Hour),
		},
		"secrets": map[string]any{"system": []string{rand.Text() + rand.Text()}},
		"oauth2":  map[string]any{"expose_internal_errors": true},
		"log":     map[string]any{"level": "info", "format": "text"},
	})
	if err != nil {
		return nil, err
	}
	config := filepath.Join(t.TempDir(), "hydra.yaml")
	if err := os.WriteFile(config, settings, 0o600); err != nil {
		return nil, err
	}

	var out lockedBuffer
	// --dev allows the http issuer; --sqa-opt-out keeps Hydra from
	// reporting usage to Ory over the network.
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "--config", config)
	cmd.Stdout = &out
	cmd.Stderr = &out
	proc, err := startProcess(cmd)
	if err != nil {
		return nil, fmt.Errorf("start hydra: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hydraStartupTimeout)
	defer cancel()
	// Hydra makes its RSA-4096 signing key when the key set is first
	// asked for, which takes seconds on a busy machine: do it now rather
	// than in the first login.
	ready := func(ctx context.Context) error {
		if err := getOK(ctx, adminURL+"/health/ready"); err != nil {
			return err
		}
		if err := getOK(ctx, issuer+"/.well-known/openid-configuration"); err != nil {
			return err
		}
		return getOK(ctx, issuer+"/.well-known/jwks.json")
	}
	if err := proc.waitFor(ctx, ready); err != nil {
		proc.stop()
		return nil, fmt.Errorf("hydra did not answer on %s and %s: %w\n%s", issuer, adminURL, err, out.String())
	}
	t.Cleanup(func() {
		proc.stop()
		if t.Failed() {
			t.Logf("hydra output:\n%s", out.String())
		}
	})
	ui.setAdmin(adminURL)
	return &Hydra{Provider: &Provider{Issuer: issuer}, AdminURL: adminURL}, nil
}

// createClient registers c through Hydra's admin API.
func (h *Hydra) createClient(ctx context.Context, c Client, cfg HydraConfig) error {
	strategy := "opaque"
	if c.JWTAccessTokens {
		strategy = "jwt"
	}
	body := map[string]any{
		"client_id":                  c.ID,
		"client_secret":              c.Secret,
		"redirect_uris":              c.RedirectURIs,
		"post_logout_redirect_uris":  c.PostLogoutRedirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      strings.Join(append(hydraScopes, cfg.Scopes...), " "),
		"audience":                   cfg.Audiences,
		"token_endpoint_auth_method": string(c.AuthMethod),
		"access_token_strategy":      strategy,
	}
	if c.BackchannelLogoutURI != "" {
		body["backchannel_logout_uri"] = c.BackchannelLogoutURI
		body["backchannel_logout_session_required"] = true
	}
	return adminCall(ctx, http.MethodPost, h.AdminURL+"/admin/clients", body, nil)
}

// adminCall sends body as JSON to Hydra's admin API and decodes the answer
// into out, when out is not nil.
func adminCall(ctx context.Context, method, endpoint string, body, out any) error {
	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, payload)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, strings.SplitN(endpoint, "?", 2)[0], resp.Status, answer)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer, out)
}

// freePortOn returns a port of host that was free a moment ago.
func freePortOn(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// hydraAdminURL joins a path and one query parameter to the admin URL.
func hydraAdminURL(admin, path, param, value string) string {
	return admin + path + "?" + url.Values{param: {value}}.Encode()
}

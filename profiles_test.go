package httpoidc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

// providerCase is one provider with the configuration the README's
// provider guide documents for it.
type providerCase struct {
	name    string
	profile oidctest.Profile
	// apiClient is the client the API is registered as at the provider,
	// which it introspects as: "api", or "app" when the API is the login
	// client itself.
	apiClient string
	// audience is what the app asks the provider for (the resource or
	// audience parameter, a Keycloak audience mapper, Dex's cross-client
	// scope, zitadel's project); otherAudience is what the other client asks for.
	audience, otherAudience []string
	format                  oidctest.AccessTokenFormat
	// configure applies the documented settings.
	configure func(cfg *Config, op *oidctest.Server)
	// accepted lists the validation modes in which the app's access tokens
	// pass; modes lists those that the provider supports at all (default:
	// both).
	accepted, modes []string
	// idTokensPass is true only where the provider makes ID tokens and
	// access tokens indistinguishable and the configuration opts in to
	// accepting both (Dex).
	idTokensPass bool
}

func providerCases() []providerCase {
	both := []string{ValidateJWT, ValidateIntrospection}
	jwtOnly := []string{ValidateJWT}
	introspectionOnly := []string{ValidateIntrospection}
	audience := func(aud string) func(*Config, *oidctest.Server) {
		return func(cfg *Config, _ *oidctest.Server) { cfg.Audience = aud }
	}
	return []providerCase{
		{name: "Keycloak audience mapper", profile: oidctest.Keycloak, audience: []string{"api"},
			configure: audience("api"), accepted: both},
		// Without a mapper every token's aud is "account": the clients are
		// then what binds tokens to this API. Since Keycloak 26.6
		// introspection answers only a client in aud, so only JWTs work.
		{name: "Keycloak allowed clients", profile: oidctest.Keycloak,
			configure: func(cfg *Config, _ *oidctest.Server) {
				cfg.Audience, cfg.AllowedClients = "account", []string{"app"}
			}, accepted: jwtOnly},
		{name: "Keycloak API is the login client", profile: oidctest.Keycloak, apiClient: "app", audience: []string{"app"},
			accepted: both},
		{name: "Dex with the opt-in", profile: oidctest.Dex, audience: []string{"api"},
			configure: func(cfg *Config, _ *oidctest.Server) {
				cfg.Audience, cfg.InsecureAcceptIDTokenShapedAccessTokens = "api", true
			}, accepted: both, idTokensPass: true},
		{name: "Dex without the opt-in", profile: oidctest.Dex, audience: []string{"api"},
			configure: audience("api")},
		{name: "Hydra opaque", profile: oidctest.Hydra, audience: []string{"api"},
			configure: func(cfg *Config, op *oidctest.Server) {
				cfg.Audience = "api"
				cfg.ClientSecrets.IntrospectionURI = op.IntrospectionURL()
			}, accepted: introspectionOnly},
		{name: "Hydra opaque without audience", profile: oidctest.Hydra,
			configure: func(cfg *Config, op *oidctest.Server) {
				cfg.AllowedClients = []string{"app"}
				cfg.ClientSecrets.IntrospectionURI = op.IntrospectionURL()
			}, accepted: introspectionOnly},
		{name: "Hydra JWT", profile: oidctest.Hydra, audience: []string{"api"}, format: oidctest.JWT,
			configure: func(cfg *Config, op *oidctest.Server) {
				cfg.Audience = "api"
				cfg.ClientSecrets.IntrospectionURI = op.IntrospectionURL()
			}, accepted: both},
		{name: "zitadel opaque", profile: oidctest.Zitadel, audience: []string{"api"},
			configure: audience("api"), accepted: introspectionOnly},
		{name: "zitadel JWT", profile: oidctest.Zitadel, audience: []string{"api"}, format: oidctest.JWT,
			configure: audience("api"), accepted: both},
		{name: "Auth0", profile: oidctest.Auth0, audience: []string{"https://api.example.com"}, otherAudience: []string{"https://other.example.com"},
			configure: audience("https://api.example.com"), accepted: jwtOnly, modes: jwtOnly},
		{name: "Okta", profile: oidctest.Okta, audience: []string{"api://orders"},
			configure: audience("api://orders"), accepted: both},
		// The default authorization server gives every client's token the
		// audience api://default: the client, in cid, binds it. Introspection
		// is left out: its answers for refresh tokens name the client too.
		{name: "Okta default authorization server", profile: oidctest.Okta, otherAudience: []string{"api://default"},
			configure: func(cfg *Config, _ *oidctest.Server) {
				cfg.Audience, cfg.AllowedClients = "api://default", []string{"app"}
			}, accepted: jwtOnly, modes: jwtOnly},
		{name: "Entra ID", profile: oidctest.EntraID, audience: []string{"api://orders"},
			configure: audience("api://orders"), accepted: jwtOnly, modes: jwtOnly},
		// An app registration that exposes its own API gets tokens whose aud
		// is its client ID, as its ID tokens'.
		{name: "Entra ID API is the login client", profile: oidctest.EntraID, apiClient: "app", audience: []string{"app"},
			accepted: jwtOnly, modes: jwtOnly},
		{name: "Cognito", profile: oidctest.Cognito,
			configure: func(cfg *Config, _ *oidctest.Server) { cfg.AllowedClients = []string{"app"} },
			accepted:  jwtOnly, modes: jwtOnly},
		// Google's access tokens are for Google's APIs: nobody else can
		// validate them.
		{name: "Google", profile: oidctest.Google, modes: jwtOnly},
	}
}

// TestProviderProfiles proves the token policy against the providers users
// run: with the configuration the README's provider guide gives, each
// provider's access tokens pass AcceptToken, and its ID tokens (from a
// login, with a nonce, and from a refresh, without), refresh tokens and
// logout tokens, and another client's tokens, never do, in JWT and in
// introspection mode. The providers are oidctest profiles reproduced from
// their documentation and source, not the real providers; interop/ runs
// the real Ory Hydra and zitadel OP.
func TestProviderProfiles(t *testing.T) {
	t.Parallel()
	for _, c := range providerCases() {
		t.Run(c.name, func(t *testing.T) {
			op := oidctest.NewServer(oidctest.WithProfile(c.profile))
			t.Cleanup(op.Close)
			op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{
				"email": "alice@example.com", "name": "Alice", "preferred_username": "alice", "groups": []string{"staff"},
			}})
			for _, id := range []string{"app", "api", "other"} {
				op.AddClient(oidctest.Client{ID: id, Secret: id + "-secret"})
			}
			apiClient := c.apiClient
			if apiClient == "" {
				apiClient = "api"
			}
			issue := func(client string, aud []string, nonce string) oidctest.Tokens {
				toks, err := op.IssueTokens(oidctest.TokenRequest{
					ClientID: client, Subject: "alice", Scopes: []string{"openid", "email", "profile", "read"},
					Audience: aud, Format: c.format, Nonce: nonce,
				})
				require.NoError(t, err)
				return toks
			}
			login := issue("app", c.audience, "n-1")
			refreshed := issue("app", c.audience, "")
			other := issue("other", c.otherAudience, "n-2")
			tokens := []struct {
				name   string
				token  string
				access bool // an access token of the app, for this API
				id     bool // an ID token of the app
			}{
				{"access token", login.AccessToken, true, false},
				{"access token after a refresh", refreshed.AccessToken, true, false},
				{"ID token", login.IDToken, false, true},
				{"ID token from a refresh", refreshed.IDToken, false, true},
				{"refresh token", login.RefreshToken, false, false},
				{"logout token", op.LogoutToken("app", "alice", "sid-1"), false, false},
				{"logout token for the API", op.LogoutToken(apiClient, "alice", "sid-1"), false, false},
				{"another client's access token", other.AccessToken, false, false},
				{"another client's ID token", other.IDToken, false, false},
				{"another client's refresh token", other.RefreshToken, false, false},
			}
			modes := c.modes
			if modes == nil {
				modes = []string{ValidateJWT, ValidateIntrospection}
			}
			for _, mode := range modes {
				t.Run(mode, func(t *testing.T) {
					cfg := Config{
						ClientSecrets:         &ClientSecrets{ClientID: apiClient, ClientSecret: apiClient + "-secret", Issuer: op.URL},
						ResourceServerOnly:    true,
						AccessTokenValidation: mode,
						Now:                   op.Now,
						Logger:                slog.New(slog.DiscardHandler),
					}
					if c.configure != nil {
						c.configure(&cfg, op)
					}
					oc, err := New(context.Background(), cfg)
					require.NoError(t, err)
					protected := oc.AcceptToken()(echo)
					accepted := slices.Contains(c.accepted, mode)
					for _, tok := range tokens {
						if tok.token == "" {
							continue // the provider has no such token (logout tokens)
						}
						req := httptest.NewRequest(http.MethodGet, "/", nil)
						req.Header.Set("Authorization", "Bearer "+tok.token)
						rec := httptest.NewRecorder()
						protected.ServeHTTP(rec, req)
						if want := tok.access && accepted || tok.id && accepted && c.idTokensPass; want {
							require.Equal(t, http.StatusOK, rec.Code, "%s: %s", tok.name, rec.Body)
						} else {
							// 401, not 503: a token that is not for this API is
							// refused, never taken for an outage.
							require.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", tok.name, rec.Body)
						}
					}
				})
			}
		})
	}
}

// TestProviderLogoutTokens posts each provider's back-channel logout token,
// and its ID token, to the app's back-channel logout endpoint: the logout
// token is taken (Hydra's, which lacks exp, only with
// InsecureAcceptLogoutTokensWithoutExp), the ID token never. Like
// TestProviderProfiles it runs against oidctest profiles reproduced from
// the providers' documentation, not the providers.
func TestProviderLogoutTokens(t *testing.T) {
	t.Parallel()
	for _, p := range oidctest.Profiles() {
		for _, optIn := range []bool{false, true} {
			op := oidctest.NewServer(oidctest.WithProfile(p))
			t.Cleanup(op.Close)
			op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret"})
			logout := op.LogoutToken("app", "alice", "sid-1")
			if logout == "" {
				continue // no back-channel logout at this provider
			}
			t.Run(fmt.Sprintf("%s opt-in %t", p, optIn), func(t *testing.T) {
				oc, err := New(context.Background(), Config{
					ClientSecrets: &ClientSecrets{ClientID: "app", ClientSecret: "app-secret", Issuer: op.URL,
						RedirectURIs: []string{"http://127.0.0.1:1/authorize"}},
					InsecureAcceptLogoutTokensWithoutExp: optIn,
					Now:                                  op.Now,
					Logger:                               slog.New(slog.DiscardHandler),
				})
				require.NoError(t, err)
				app := oc.Handler(http.NotFoundHandler())
				post := func(token string) int {
					req := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					rec := httptest.NewRecorder()
					app.ServeHTTP(rec, req)
					return rec.Code
				}
				toks, err := op.IssueTokens(oidctest.TokenRequest{ClientID: "app", Subject: "alice", Scopes: []string{"openid"}})
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, post(toks.IDToken), "an ID token is not a logout token")
				want := http.StatusOK
				if p == oidctest.Hydra && !optIn {
					want = http.StatusBadRequest // no exp
				}
				require.Equal(t, want, post(logout))
			})
		}
	}
}

// TestProviderLogoutURLs logs in and out through the oidctest profiles of
// the providers whose discovery has no end_session_endpoint but that log
// out at a URL of their own, with the EndSessionURL and LogoutParams the
// provider guide gives: the browser goes through the provider's logout
// and back to the app, logged out. Profiles reproduced from the
// providers' documentation, not the providers.
func TestProviderLogoutURLs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		profile oidctest.Profile
		path    string
		params  map[string]string
	}{
		{oidctest.Auth0, "/v2/logout", map[string]string{"client_id": "{client_id}", "returnTo": "{post_logout_redirect_uri}"}},
		{oidctest.Cognito, "/logout", map[string]string{"client_id": "{client_id}", "logout_uri": "{post_logout_redirect_uri}"}},
	} {
		t.Run(c.profile.String(), func(t *testing.T) {
			op := oidctest.NewServer(oidctest.WithProfile(c.profile))
			t.Cleanup(op.Close)
			op.AutoLogin("alice")
			var oc *OpenIDConnect
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mux := http.NewServeMux()
				mux.Handle("/private", oc.RequireLogin(echoUser))
				mux.Handle("/", echoUser)
				oc.Handler(mux).ServeHTTP(w, r)
			}))
			t.Cleanup(app.Close)
			op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret",
				RedirectURIs: []string{app.URL + "/authorize"}, PostLogoutRedirectURIs: []string{app.URL + "/logout"}})
			var err error
			oc, err = New(context.Background(), Config{
				ClientSecrets: &ClientSecrets{ClientID: "app", ClientSecret: "app-secret", Issuer: op.URL,
					RedirectURIs: []string{app.URL + "/authorize"}},
				EndSessionURL: op.URL + c.path,
				LogoutParams:  c.params,
				Now:           op.Now,
				Logger:        slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			var hops []string
			browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
				hops = append(hops, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
				return nil
			}}
			get := func(path string) string { // typed into the address bar
				req, err := http.NewRequest(http.MethodGet, app.URL+path, nil)
				require.NoError(t, err)
				req.Header.Set("Sec-Fetch-Site", "none")
				resp, err := browser.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return string(body)
			}
			require.Equal(t, "alice", get("/private"))
			hops = nil
			get("/logout")
			require.Equal(t, []string{op.URL + c.path, app.URL + "/logout", app.URL + "/"}, hops)
			hops = nil
			get("/private")
			require.Contains(t, hops, op.URL+"/authorize", "logged out: the next page logs in again")
		})
	}
}

// echoUser answers with the logged-in user's subject.
var echoUser = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, UserFrom(r.Context()).Subject)
})

package interop_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// loginAnswer signs user in at the provider from the app's /private page
// and returns the status and body the app finally answered.
func loginAnswer(t *testing.T, ctx context.Context, p *testenv.Provider, a *app, user string) (int, string) {
	t.Helper()
	resp, err := p.Login(ctx, newBrowser(t), a.URL+"/private", user, password(t, p, user))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestAllowedEmailDomains: with oidc-provider's userinfo as the source,
// only verified addresses of the allowed domain get in; the others see 403
// and no session.
func TestAllowedEmailDomains(t *testing.T) {
	srv := reserve(t, "127.0.0.1")
	users := append(testenv.DefaultUsers(), testenv.User{
		Subject: "carol", Password: "carol-password", Email: "carol@evil-example.com", EmailVerified: true, Name: "Carol",
	})
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
		Users:   users,
	})
	cfg := appConfig(p, p.Client(t, "web"))
	cfg.AllowedEmailDomains = []string{"example.com"}
	a := startApp(t, srv, cfg)

	for _, tt := range []struct {
		user    string
		allowed bool
	}{
		{"alice", true},  // alice@example.com, verified
		{"bob", false},   // bob@example.com, not verified
		{"carol", false}, // verified, but evil-example.com
	} {
		t.Run(tt.user, func(t *testing.T) {
			status, body := loginAnswer(t, testContext(t), p, a, tt.user)
			if tt.allowed {
				require.Equal(t, http.StatusOK, status, body)
				require.Contains(t, body, `"logged_in":true`)
				return
			}
			require.Equal(t, http.StatusForbidden, status, body)
			require.Contains(t, body, "Access denied")
		})
	}
}

// TestGroupsClaim: Keycloak-shaped nested role claims, released by
// oidc-provider's userinfo for the roles scope, become User.Groups and
// pass RequireGroup.
func TestGroupsClaim(t *testing.T) {
	srv := reserve(t, "127.0.0.1")
	users := testenv.DefaultUsers()
	users[0].Claims = map[string]any{
		"realm_access":    map[string]any{"roles": []string{"offline_access", "realm-admin"}},
		"resource_access": map[string]any{"web": map[string]any{"roles": []string{"editor"}}, "other": map[string]any{"roles": []string{"root"}}},
	}
	users[1].Claims = map[string]any{"realm_access": map[string]any{"roles": []string{"reader"}}}
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
		Users:   users,
	})
	cfg := appConfig(p, p.Client(t, "web"))
	cfg.Scopes = append(slices.Clone(userScopes), "roles")
	cfg.GroupsClaim = "resource_access.{client_id}.roles"
	oc := newOIDC(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/private", oc.RequireGroup("editor")(http.HandlerFunc(writeUser)))
	mux.HandleFunc("/", writeUser)
	srv.Config.Handler = oc.Handler(mux)
	srv.Start()
	a := &app{URL: baseURL(srv)}

	ctx := testContext(t)
	u := a.login(t, ctx, p, newBrowser(t), "alice")
	require.Equal(t, []string{"editor"}, u.Groups)

	status, body := loginAnswer(t, ctx, p, a, "bob")
	require.Equal(t, http.StatusForbidden, status, body)

	t.Run("realm roles", func(t *testing.T) {
		srv := reserve(t, "127.0.0.1")
		p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
			Clients: []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
			Users:   users,
		})
		cfg := appConfig(p, p.Client(t, "web"))
		cfg.Scopes = append(slices.Clone(userScopes), "roles")
		cfg.GroupsClaim = "realm_access.roles"
		cfg.AllowedGroups = []string{"realm-admin"}
		a := startApp(t, srv, cfg)
		u := a.login(t, ctx, p, newBrowser(t), "alice")
		require.Equal(t, []string{"offline_access", "realm-admin"}, u.Groups)
		status, body := loginAnswer(t, ctx, p, a, "bob")
		require.Equal(t, http.StatusForbidden, status, body)
	})
}

// TestClientCallsAPIAsUser: oc.Client sends the user's oidc-provider
// access token to an API protected by AcceptToken (introspection), and
// after the token expires refreshes it at oidc-provider first.
func TestClientCallsAPIAsUser(t *testing.T) {
	webSrv, apiSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	const ttl = 5 * time.Minute
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients:        []testenv.Client{webClient("web", webSrv, testenv.ClientSecretBasic, false), apiClient(apiSrv, testenv.ClientSecretBasic)},
		AccessTokenTTL: ttl,
	})
	apiCfg := apiConfig(p, p.Client(t, "api"))
	apiCfg.AllowedClients = []string{"web"}
	apiCfg.IntrospectionCacheTTL = -1
	backend := startAPI(t, apiSrv, apiCfg)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	t.Cleanup(echo.Close)

	clk := &clock{}
	cfg := appConfig(p, p.Client(t, "web"))
	cfg.Scopes = append(slices.Clone(userScopes), "offline_access")
	cfg.Now = clk.Now
	var refreshes atomic.Int32
	cfg.OnRefresh = func(context.Context, *httpoidc.User) { refreshes.Add(1) }
	oc := newOIDC(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/private", oc.RequireLogin(http.HandlerFunc(writeUser)))
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		// The clock moves inside the request, so only the client's own
		// refresh can have renewed the token.
		if r.URL.Query().Has("later") {
			clk.Advance(ttl)
		}
		resp, err := oc.Client(r).Get(backend.URL + "/me")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		// What the client sent, as a server sees it.
		echoed, err := oc.Client(r).Get(echo.URL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer echoed.Body.Close()
		sent, _ := io.ReadAll(echoed.Body)
		w.WriteHeader(resp.StatusCode)
		fmt.Fprintf(w, "%s|%s", sent, body)
	})
	mux.HandleFunc("/", writeUser)
	webSrv.Config.Handler = oc.Handler(mux)
	webSrv.Start()
	a := &app{URL: baseURL(webSrv)}

	ctx := testContext(t)
	browser := newBrowser(t)
	first := a.login(t, ctx, p, browser, "alice")
	status, body := a.fetch(t, ctx, browser, "/call")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, first.AccessToken+`|{"sub":"alice","client_id":"web"`)

	status, body = a.fetch(t, ctx, browser, "/call?later")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, first.AccessToken, "the API got a refreshed token")
	require.Contains(t, body, `|{"sub":"alice","client_id":"web"`)
	require.Equal(t, int32(1), refreshes.Load())
	saved := a.get(t, ctx, browser, "/private").AccessToken
	require.True(t, strings.HasPrefix(body, saved+"|"), "the refreshed token was saved in the session")
	require.Equal(t, int32(1), refreshes.Load(), "and not refreshed again")
}

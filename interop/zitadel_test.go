package interop_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestZitadelLoginThroughRequireLogin: a page behind RequireLogin sends the
// browser to zitadel/oidc's example OP and back, logged in, with the
// profile from its userinfo, whichever way the client authenticates at the
// token endpoint.
func TestZitadelLoginThroughRequireLogin(t *testing.T) {
	methods := []testenv.AuthMethod{testenv.ClientSecretPost, testenv.ClientSecretBasic}
	servers := map[testenv.AuthMethod]*httptest.Server{}
	var clients []testenv.Client
	for _, m := range methods {
		servers[m] = reserve(t, "127.0.0.1")
		clients = append(clients, webClient(string(m), servers[m], m, false))
	}
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: clients})

	for _, m := range methods {
		t.Run(string(m), func(t *testing.T) {
			ctx := testContext(t)
			a := startApp(t, servers[m], appConfig(p, p.Client(t, string(m))))
			browser := newBrowser(t)

			require.False(t, a.get(t, ctx, browser, "/").LoggedIn)
			u := a.login(t, ctx, p, browser, "alice")
			require.True(t, u.LoggedIn)
			require.Equal(t, "alice", u.Subject)
			require.Equal(t, "alice@example.com", u.Email)
			require.Equal(t, "Alice Example", u.Name)
			require.Equal(t, true, u.Profile["email_verified"])
			// The example OP keeps scope claims out of the ID token when
			// it issues an access token: the email came from userinfo.
			require.NotContains(t, jwtClaims(t, u.IDToken), "email")
			for _, claim := range []string{"iss", "aud", "exp", "iat", "at_hash", "auth_time", "azp", "client_id", "amr"} {
				require.NotContains(t, u.Profile, claim)
			}

			again := a.get(t, ctx, browser, "/private")
			require.Equal(t, u.Subject, again.Subject)
			require.Equal(t, u.AccessToken, again.AccessToken)
		})
	}
}

// TestZitadelRefreshAfterExpiry: with offline_access, an expired access
// token is refreshed at the example OP without the user noticing, twice in
// a row (it rotates refresh tokens); once the OP refuses the refresh token,
// the user is sent to log in again.
func TestZitadelRefreshAfterExpiry(t *testing.T) {
	srv := reserve(t, "127.0.0.1")
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{
		Clients: []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
	})
	ctx := testContext(t)
	const ttl = 5 * time.Minute // the example OP's access token lifetime
	clk := &clock{}
	cfg := appConfig(p, p.Client(t, "web"))
	cfg.Scopes = append(slices.Clone(userScopes), "offline_access")
	cfg.Now = clk.Now
	a := startApp(t, srv, cfg)
	browser := newBrowser(t)
	meta := discover(t, ctx, p)

	first := a.login(t, ctx, p, browser, "alice")
	require.NotEmpty(t, first.RefreshToken, "the example OP issues a refresh token for offline_access")
	require.Equal(t, first.AccessToken, a.get(t, ctx, browser, "/private").AccessToken, "no refresh before expiry")

	previous := first
	for range 2 {
		clk.Advance(ttl)
		u := a.get(t, ctx, browser, "/private")
		require.True(t, u.LoggedIn)
		require.Equal(t, "alice", u.Subject)
		require.NotEqual(t, previous.AccessToken, u.AccessToken, "the access token was refreshed")
		require.NotEqual(t, previous.RefreshToken, u.RefreshToken, "the example OP rotates refresh tokens")
		status, info := clientPost(t, ctx, p.Client(t, "web"), meta.Introspection, url.Values{"token": {u.AccessToken}})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, true, info["active"], "the OP knows the new access token")
		require.Equal(t, "alice", info["sub"])
		previous = u
	}

	status, _ := clientPost(t, ctx, p.Client(t, "web"), meta.Revocation, url.Values{"token": {previous.RefreshToken}})
	require.Equal(t, http.StatusOK, status)
	clk.Advance(ttl)
	requireSentToLogin(t, ctx, a, browser, meta.AuthURL)
}

// TestZitadelRPInitiatedLogout: /logout ends the app session and sends the
// browser through the example OP's end_session_endpoint back to the app.
func TestZitadelRPInitiatedLogout(t *testing.T) {
	srv := reserve(t, "127.0.0.1")
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{
		Clients: []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
	})
	ctx := testContext(t)
	a := startApp(t, srv, appConfig(p, p.Client(t, "web")))
	browser := newBrowser(t)
	require.True(t, a.login(t, ctx, p, browser, "alice").LoggedIn)
	appURL, err := url.Parse(a.URL)
	require.NoError(t, err)
	stolen := newBrowser(t)
	stolen.Jar.SetCookies(appURL, browser.Jar.Cookies(appURL))

	resp, err := p.ConfirmLogout(ctx, browser, a.URL+"/logout")
	require.NoError(t, err)
	require.False(t, readUser(t, resp, a.URL+"/").LoggedIn, "back at the app, logged out")
	require.False(t, a.get(t, ctx, stolen, "/").LoggedIn, "the old session is gone on the server")
}

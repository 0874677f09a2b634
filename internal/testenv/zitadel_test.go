package testenv_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

func TestZitadelCodeFlowRefreshIntrospect(t *testing.T) {
	a := startApp(t)
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{
		{ID: "opaque", RedirectURIs: []string{a.URL + "/cb"}},
		{ID: "jwt", RedirectURIs: []string{a.URL + "/cb"}, JWTAccessTokens: true, AuthMethod: testenv.ClientSecretPost},
	}})
	ctx := testContext(t) // after the start, which may build the OP first
	opaque := newRP(t, ctx, p, a, p.Client(t, "opaque"), "email", "profile", oidc.ScopeOfflineAccess)
	opaque.issParam = false
	jwt := newRP(t, ctx, p, a, p.Client(t, "jwt"), "email", oidc.ScopeOfflineAccess)
	jwt.issParam = false

	tok, _ := opaque.login(t, ctx, "alice", nil, nil)
	require.Len(t, strings.Split(tok.AccessToken, "."), 5, "Bearer access tokens are opaque to us: JWEs only the OP can read")
	require.NotEmpty(t, tok.RefreshToken, "offline_access gives a refresh token")
	info, err := opaque.op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, "alice", info.Subject)
	require.Equal(t, "alice@example.com", info.Email)
	var profile struct {
		Name string `json:"name"`
	}
	require.NoError(t, info.Claims(&profile))
	require.Equal(t, "Alice Example", profile.Name)

	introspect := opaque.discovered(t, "introspection_endpoint")
	got := opaque.endpointPost(t, ctx, introspect, url.Values{"token": {tok.AccessToken}})
	require.Equal(t, true, got["active"])
	require.Equal(t, "alice", got["sub"])
	require.Equal(t, "opaque", got["client_id"])

	jwtTok, _ := jwt.login(t, ctx, "bob", nil, nil)
	payload, err := oidc.NewRemoteKeySet(ctx, jwt.discovered(t, "jwks_uri")).VerifySignature(ctx, jwtTok.AccessToken)
	require.NoError(t, err, "a JWT access token signed with the provider's key")
	require.Contains(t, string(payload), `"client_id":"jwt"`)
	// The example OP answers introspection only to a client in the token's
	// aud: another client learns nothing.
	got = opaque.endpointPost(t, ctx, introspect, url.Values{"token": {jwtTok.AccessToken}})
	require.Equal(t, false, got["active"])

	// A refresh rotates both tokens; the old refresh token is spent.
	refreshed, err := opaque.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	require.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken)
	_, err = opaque.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.Error(t, err)
}

func TestZitadelRPInitiatedLogout(t *testing.T) {
	a := startApp(t)
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{
		{ID: "web", RedirectURIs: []string{a.URL + "/cb"}, PostLogoutRedirectURIs: []string{a.URL + "/bye"}},
	}})
	ctx := testContext(t)
	r := newRP(t, ctx, p, a, p.Client(t, "web"))
	r.issParam = false
	tok, _ := r.login(t, ctx, "alice", nil, nil)

	resp, err := p.ConfirmLogout(ctx, r.browser, r.logoutURL(t, tok, a))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, a.URL+"/bye?state=after-logout", resp.Request.URL.String())
}

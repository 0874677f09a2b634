package testenv_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

func TestHydraCodeFlowRefreshIntrospect(t *testing.T) {
	a := startApp(t)
	api := a.URL + "/api"
	h := testenv.StartHydra(t, testenv.HydraConfig{
		Clients: []testenv.Client{
			{ID: "opaque", RedirectURIs: []string{a.URL + "/cb"}},
			{ID: "jwt", RedirectURIs: []string{a.URL + "/cb"}, JWTAccessTokens: true, AuthMethod: testenv.ClientSecretPost},
		},
		Audiences: []string{api},
		Scopes:    []string{"api:read"},
	})
	ctx := testContext(t) // after the start, which may build Hydra first
	opaque := newRP(t, ctx, h.Provider, a, h.Client(t, "opaque"), "email", "profile", "groups", oidc.ScopeOfflineAccess)
	opaque.issParam = false

	tok, idt := opaque.login(t, ctx, "alice", nil, nil)
	require.Len(t, strings.Split(tok.AccessToken, "."), 2, "Hydra's opaque tokens: key.signature")
	require.NotEmpty(t, tok.RefreshToken, "offline_access gives a refresh token")
	var idClaims map[string]any
	require.NoError(t, idt.Claims(&idClaims))
	require.NotEmpty(t, idClaims["sid"])
	opaque.requireAliceUserInfo(t, ctx, tok)

	// The introspection endpoint is on the admin port, without client
	// authentication, and discovery does not name it.
	require.NoError(t, opaque.op.Claims(&idClaims))
	require.NotContains(t, idClaims, "introspection_endpoint")
	got := opaque.endpointPost(t, ctx, h.IntrospectionURL(), url.Values{"token": {tok.AccessToken}})
	require.Equal(t, true, got["active"])
	require.Equal(t, "alice", got["sub"])
	require.Equal(t, "opaque", got["client_id"])
	require.Equal(t, "access_token", got["token_use"])

	refreshed, err := opaque.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	got = opaque.endpointPost(t, ctx, h.IntrospectionURL(), url.Values{"token": {refreshed.RefreshToken}})
	require.Equal(t, true, got["active"])
	require.Equal(t, "refresh_token", got["token_use"])

	// A JWT access token for the API: the audience asked for is in aud.
	jwt := newRP(t, ctx, h.Provider, a, h.Client(t, "jwt"), "api:read")
	jwt.issParam = false
	jwtTok, _ := jwt.login(t, ctx, "bob", url.Values{"audience": {api}}, nil)
	payload, err := oidc.NewRemoteKeySet(ctx, jwt.discovered(t, "jwks_uri")).VerifySignature(ctx, jwtTok.AccessToken)
	require.NoError(t, err, "a JWT access token signed with the provider's key")
	var at struct {
		Aud      []string `json:"aud"`
		Sub      string   `json:"sub"`
		ClientID string   `json:"client_id"`
		Scp      []string `json:"scp"`
	}
	require.NoError(t, json.Unmarshal(payload, &at))
	require.Equal(t, []string{api}, at.Aud)
	require.Equal(t, "bob", at.Sub)
	require.Equal(t, "jwt", at.ClientID)
	require.Equal(t, []string{"openid", "api:read"}, at.Scp)
}

func TestHydraRPInitiatedAndBackchannelLogout(t *testing.T) {
	a := startApp(t)
	h := testenv.StartHydra(t, testenv.HydraConfig{Clients: []testenv.Client{{
		ID: "web", RedirectURIs: []string{a.URL + "/cb"},
		PostLogoutRedirectURIs: []string{a.URL + "/bye"}, BackchannelLogoutURI: a.URL + "/backchannel",
	}}})
	ctx := testContext(t)
	r := newRP(t, ctx, h.Provider, a, h.Client(t, "web"))
	r.issParam = false
	tok, idt := r.login(t, ctx, "alice", nil, nil)
	var sid struct {
		SID string `json:"sid"`
	}
	require.NoError(t, idt.Claims(&sid))
	require.NotEmpty(t, sid.SID)

	// Single sign-on: Hydra remembers the login, so no form this time.
	_, err := h.Login(ctx, r.browser, r.oauth.AuthCodeURL("again-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		"alice", "wrong")
	require.NoError(t, err)

	resp, err := h.ConfirmLogout(ctx, r.browser, r.logoutURL(t, tok, a))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, a.URL+"/bye?state=after-logout", resp.Request.URL.String())

	select {
	case raw := <-a.logoutTokens:
		// go-oidc's VerifyLogout wants exp, which Hydra leaves out: check
		// the signature and read the claims.
		payload, err := oidc.NewRemoteKeySet(ctx, r.discovered(t, "jwks_uri")).VerifySignature(ctx, raw)
		require.NoError(t, err)
		var lt map[string]any
		require.NoError(t, json.Unmarshal(payload, &lt))
		require.Equal(t, sid.SID, lt["sid"])
		require.Equal(t, []any{"web"}, lt["aud"])
		require.Contains(t, lt, "events")
		require.NotContains(t, lt, "exp", "Hydra's logout tokens have no exp")
	case <-ctx.Done():
		t.Fatal("no back-channel logout token")
	}

	// The provider session is gone: the next login asks for the password again.
	_, err = h.Login(ctx, r.browser, r.oauth.AuthCodeURL("after-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		"alice", "wrong")
	require.ErrorContains(t, err, "login rejected")
}

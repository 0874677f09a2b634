package interop_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestZitadelLoginThroughRequireLogin: a page behind RequireLogin sends the
// browser to zitadel/oidc's example OP and back, logged in, with the
// profile from its userinfo, whichever way the client authenticates at the
// token endpoint.
func TestZitadelLoginThroughRequireLogin(t *testing.T) {
	testLoginThroughRequireLogin(t, func(clients []testenv.Client) *testenv.Provider {
		return testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: clients})
	}, func(t *testing.T, u userView) {
		require.Equal(t, "Alice Example", u.Name)
		require.Equal(t, true, u.Profile["email_verified"])
		// The example OP keeps scope claims out of the ID token when it
		// issues an access token: the email came from userinfo.
		require.NotContains(t, jwtClaims(t, u.IDToken), "email")
		for _, claim := range []string{"iss", "aud", "exp", "iat", "at_hash", "auth_time", "azp", "client_id", "amr"} {
			require.NotContains(t, u.Profile, claim)
		}
	})
}

// TestZitadelRefreshAfterExpiry: with offline_access, an expired access
// token is refreshed at the example OP without the user noticing, twice in
// a row (it rotates refresh tokens); once the OP refuses the refresh token,
// the user is sent to log in again.
func TestZitadelRefreshAfterExpiry(t *testing.T) {
	r := refreshing{ttl: 5 * time.Minute, rotates: true} // the example OP's access token lifetime
	testRefreshAfterExpiry(t, r, func(web testenv.Client) (*testenv.Provider, string) {
		return testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{web}}), ""
	})
}

// TestZitadelRPInitiatedLogout: /logout ends the app session and sends the
// browser through the example OP's end_session_endpoint back to the app.
func TestZitadelRPInitiatedLogout(t *testing.T) {
	// No single sign-on: the example OP asks for the password every time.
	testRPInitiatedLogout(t, func(web testenv.Client) *testenv.Provider {
		return testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{web}})
	}, false)
}

// TestZitadelAcceptToken: in every validation mode, an API accepts the
// example OP's access tokens, JWT and opaque (an encrypted JWE that only the
// OP reads, so introspected), and refuses its ID and refresh tokens and
// other clients' tokens. The OP's tokens name their client alone in aud,
// and its introspection answers only to a client in aud, so the API uses
// the app's client ID and secret; introspection takes client_secret_basic
// only, which httpoidc reads from the discovery document. The OP's JWT
// access tokens carry no scope claim: a scope check refuses them (403).
func TestZitadelAcceptToken(t *testing.T) {
	jwtSrv, introspectSrv, autoSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	callback := []string{baseURL(jwtSrv) + "/callback"}
	p := testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{
		// The app authenticates with client_secret_post at the token
		// endpoint; introspection still must use Basic.
		{ID: "web", RedirectURIs: callback, AuthMethod: testenv.ClientSecretPost},
		{ID: "web-jwt", RedirectURIs: callback, JWTAccessTokens: true},
		{ID: "other", RedirectURIs: callback},
		{ID: "other-jwt", RedirectURIs: callback, JWTAccessTokens: true},
	}})
	ctx := testContext(t)

	scopes := []string{"openid", "offline_access", "email"}
	opaque := tokenWith(t, ctx, p, p.Client(t, "web"), "alice", nil, scopes...)
	jwt := tokenWith(t, ctx, p, p.Client(t, "web-jwt"), "alice", nil, scopes...)
	otherOpaque := tokenWith(t, ctx, p, p.Client(t, "other"), "alice", nil, scopes...)
	otherJWT := tokenWith(t, ctx, p, p.Client(t, "other-jwt"), "alice", nil, scopes...)
	require.Len(t, strings.Split(opaque.AccessToken, "."), 5, "a JWE")
	require.Len(t, strings.Split(jwt.AccessToken, "."), 3, "a JWS")
	require.NotContains(t, jwtClaims(t, jwt.AccessToken), "scope")
	idToken, _ := jwt.Extra("id_token").(string)
	require.NotEmpty(t, idToken)
	require.Equal(t, "web-jwt", jwtClaims(t, idToken)["client_id"], "zitadel's ID tokens carry client_id, like its access tokens")
	refreshed, err := (&oauth2.Config{ClientID: "web-jwt", ClientSecret: p.Client(t, "web-jwt").Secret,
		Endpoint: oauth2.Endpoint{TokenURL: discover(t, ctx, p).TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(ctx, &oauth2.Token{RefreshToken: jwt.RefreshToken}).Token()
	require.NoError(t, err)
	refreshedID, _ := refreshed.Extra("id_token").(string)
	require.NotContains(t, jwtClaims(t, refreshedID), "nonce", "an ID token from a refresh has no nonce")

	// A token exchange (RFC 8693) turns an access token into an ID token
	// with client_id and azp, and no nonce or at_hash. The example OP
	// authenticates token exchanges with client_secret_basic only.
	exchange := func(c testenv.Client, accessToken string) string {
		c.AuthMethod = testenv.ClientSecretBasic
		status, out := clientPost(t, ctx, c, discover(t, ctx, p).TokenURL, url.Values{
			"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token":        {accessToken},
			"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
			"requested_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
			"scope":                {"openid email"},
		})
		require.Equal(t, http.StatusOK, status, "%v", out)
		require.Equal(t, "urn:ietf:params:oauth:token-type:id_token", out["issued_token_type"])
		raw, _ := out["access_token"].(string)
		claims := jwtClaims(t, raw)
		require.Equal(t, c.ID, claims["client_id"])
		require.NotContains(t, claims, "at_hash")
		require.NotContains(t, claims, "nonce")
		return raw
	}
	exchangedJWT := exchange(p.Client(t, "web-jwt"), jwt.AccessToken)
	exchangedOpaque := exchange(p.Client(t, "web"), opaque.AccessToken)

	newAPI := func(srv *httptest.Server, client, mode string) *api {
		cfg := apiConfig(p, p.Client(t, client))
		cfg.IntrospectionAuthMethod = "" // from discovery
		cfg.AccessTokenValidation = mode
		return startAPI(t, srv, cfg)
	}
	jwtAPI := newAPI(jwtSrv, "web-jwt", httpoidc.ValidateJWT)
	introspecting := newAPI(introspectSrv, "web", httpoidc.ValidateIntrospection)
	auto := newAPI(autoSrv, "web", httpoidc.ValidateAuto)

	const ok, refused, forbidden = http.StatusOK, http.StatusUnauthorized, http.StatusForbidden
	runTokenCases(t, ctx, "web-jwt", []tokenCase{
		{"JWT access token, JWT mode", jwtAPI, "/any", jwt.AccessToken, ok, ""},
		{"refreshed JWT access token, JWT mode", jwtAPI, "/any", refreshed.AccessToken, ok, ""},
		{"JWT access token without scope claim", jwtAPI, "/me", jwt.AccessToken, forbidden, "insufficient_scope"},
	})
	runTokenCases(t, ctx, "web", []tokenCase{
		{"opaque access token, introspection", introspecting, "/me", opaque.AccessToken, ok, ""},
		{"opaque access token, auto", auto, "/me", opaque.AccessToken, ok, ""},
		{"opaque access token, JWT mode", jwtAPI, "/any", opaque.AccessToken, refused, "invalid_token"},
	})
	var never []tokenCase
	for _, a := range []struct {
		mode string
		api  *api
	}{{"JWT mode", jwtAPI}, {"introspection", introspecting}, {"auto", auto}} {
		never = append(never,
			tokenCase{"ID token, " + a.mode, a.api, "/any", idToken, refused, "invalid_token"},
			tokenCase{"ID token from a refresh, " + a.mode, a.api, "/any", refreshedID, refused, "invalid_token"},
			tokenCase{"ID token from a token exchange, " + a.mode, a.api, "/any", exchangedJWT, refused, "invalid_token"},
			tokenCase{"app's ID token from a token exchange, " + a.mode, a.api, "/any", exchangedOpaque, refused, "invalid_token"},
			tokenCase{"refresh token, " + a.mode, a.api, "/any", opaque.RefreshToken, refused, "invalid_token"},
			tokenCase{"other client's opaque token, " + a.mode, a.api, "/any", otherOpaque.AccessToken, refused, "invalid_token"},
			tokenCase{"other client's JWT, " + a.mode, a.api, "/any", otherJWT.AccessToken, refused, "invalid_token"},
		)
	}
	runTokenCases(t, ctx, "", never)
}

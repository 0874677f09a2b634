package interop_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestHydraLoginThroughRequireLogin: a page behind RequireLogin sends the
// browser through Ory Hydra and its login and consent app and back, logged
// in, with the profile from Hydra's userinfo, whichever way the client
// authenticates at the token endpoint.
func TestHydraLoginThroughRequireLogin(t *testing.T) {
	testLoginThroughRequireLogin(t, func(clients []testenv.Client) *testenv.Provider {
		return testenv.StartHydra(t, testenv.HydraConfig{Clients: clients}).Provider
	}, func(t *testing.T, u userView) {
		require.Equal(t, "Alice Example", u.Name)
		require.Equal(t, []string{"admins", "staff"}, u.Groups)
		require.Equal(t, true, u.Profile["email_verified"])
		for _, claim := range []string{"iss", "aud", "exp", "iat", "at_hash", "auth_time", "sid", "rat", "jti"} {
			require.NotContains(t, u.Profile, claim)
		}
	})
}

// TestHydraRefreshAfterExpiry: with offline_access, an expired access
// token is refreshed at Hydra's token endpoint without the user noticing,
// twice in a row (Hydra rotates refresh tokens, and knows the new access
// token at its admin port's introspection); once Hydra refuses the refresh
// token, the user is sent to log in again.
func TestHydraRefreshAfterExpiry(t *testing.T) {
	r := refreshing{ttl: 5 * time.Minute, rotates: true}
	testRefreshAfterExpiry(t, r, func(web testenv.Client) (*testenv.Provider, string) {
		h := testenv.StartHydra(t, testenv.HydraConfig{Clients: []testenv.Client{web}, AccessTokenTTL: r.ttl})
		return h.Provider, h.IntrospectionURL()
	})
}

// TestHydraRPInitiatedLogout: /logout ends the app session and Hydra's,
// through Hydra's logout endpoint and the logout app, back to the app.
func TestHydraRPInitiatedLogout(t *testing.T) {
	testRPInitiatedLogout(t, func(web testenv.Client) *testenv.Provider {
		return testenv.StartHydra(t, testenv.HydraConfig{Clients: []testenv.Client{web}}).Provider
	}, true)
}

// TestHydraBackchannelLogout: two apps share one Hydra session in one
// browser; logging out of one at Hydra makes Hydra post a logout token to
// the other. Hydra's logout tokens have no exp, which OpenID Connect
// Back-Channel Logout 1.0 §2.4 requires: by default the app refuses them
// and its session stays; with InsecureAcceptLogoutTokensWithoutExp the
// session ends, and the same token cannot be used twice.
func TestHydraBackchannelLogout(t *testing.T) {
	for _, optIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("InsecureAcceptLogoutTokensWithoutExp=%v", optIn), func(t *testing.T) {
			two := logOutOfOneApp(t, func(clients []testenv.Client) *testenv.Provider {
				return testenv.StartHydra(t, testenv.HydraConfig{Clients: clients}).Provider
			}, func(c *httpoidc.Config) { c.InsecureAcceptLogoutTokensWithoutExp = optIn })
			ctx := two.ctx
			if !optIn {
				require.Equal(t, http.StatusBadRequest, two.status, "a logout token without exp is refused by default")
				require.True(t, two.app.get(t, ctx, two.browser, "/").LoggedIn, "app two's session stays")
				return
			}
			require.Equal(t, http.StatusOK, two.status, "app two accepted the logout token")
			require.NotContains(t, jwtClaims(t, two.token), "exp")
			require.False(t, two.app.get(t, ctx, two.browser, "/").LoggedIn, "app two's session ended")

			// The replay guard: the same token again is refused.
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, two.app.URL+"/backchannel-logout",
				strings.NewReader(url.Values{"logout_token": {two.token}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			replay, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			replay.Body.Close()
			require.Equal(t, http.StatusBadRequest, replay.StatusCode, "a replayed logout token is refused")
		})
	}
}

// tokenCase is one token presented to one API, and the answer it must get.
type tokenCase struct {
	name   string
	api    *api
	path   string
	token  string
	status int    // 200, or the refusal's status
	code   string // the refusal's RFC 6750 error code
}

// runTokenCases presents each case's token and checks the answer; an
// accepted token must be alice's, issued to client wantClient.
func runTokenCases(t *testing.T, ctx context.Context, wantClient string, cases []tokenCase) {
	t.Helper()
	for _, tc := range cases {
		r := tc.api.call(t, ctx, tc.path, tc.token)
		if tc.status != http.StatusOK {
			require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
			requireRefused(t, r, tc.status, tc.code)
			continue
		}
		require.Equal(t, http.StatusOK, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, "alice", r.token.Subject, tc.name)
		require.Equal(t, wantClient, r.token.ClientID, tc.name)
	}
}

// TestHydraAcceptToken: in every validation mode, an API accepts Hydra's
// access tokens issued for it, JWT (access_token_strategy jwt) and opaque,
// and refuses its ID and refresh tokens and the tokens of another client
// that did not ask for the API's audience. Hydra's introspection endpoint
// is on its admin port, so the API names it in token_introspection_uri.
func TestHydraAcceptToken(t *testing.T) {
	jwtSrv, introspectSrv, autoSrv, allowSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1"),
		reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	apiURL := baseURL(jwtSrv) + "/"
	callback := []string{baseURL(jwtSrv) + "/callback"}
	h := testenv.StartHydra(t, testenv.HydraConfig{
		Clients: []testenv.Client{
			{ID: "web", RedirectURIs: callback},
			{ID: "web-jwt", RedirectURIs: callback, JWTAccessTokens: true},
			{ID: "other", RedirectURIs: callback},
			{ID: "other-jwt", RedirectURIs: callback, JWTAccessTokens: true},
			apiClient(jwtSrv, testenv.ClientSecretBasic),
		},
		Audiences: []string{apiURL},
		Scopes:    []string{"api:read", "api:write"},
	})
	ctx := testContext(t)

	forAPI := url.Values{"audience": {apiURL}}
	scopes := []string{"openid", "offline_access", "api:read"}
	opaque := tokenWith(t, ctx, h.Provider, h.Client(t, "web"), "alice", forAPI, scopes...)
	jwt := tokenWith(t, ctx, h.Provider, h.Client(t, "web-jwt"), "alice", forAPI, scopes...)
	withoutAudience := tokenWith(t, ctx, h.Provider, h.Client(t, "web"), "alice", nil, scopes...)
	otherOpaque := tokenWith(t, ctx, h.Provider, h.Client(t, "other"), "alice", nil, scopes...)
	otherJWT := tokenWith(t, ctx, h.Provider, h.Client(t, "other-jwt"), "alice", nil, scopes...)
	require.Len(t, strings.Split(jwt.AccessToken, "."), 3)
	require.Equal(t, []any{apiURL}, jwtClaims(t, jwt.AccessToken)["aud"], "Hydra grants the audience asked for")
	require.Equal(t, []any{}, jwtClaims(t, otherJWT.AccessToken)["aud"], "and none when none is asked for")
	idToken, _ := jwt.Extra("id_token").(string)
	require.NotEmpty(t, idToken)
	require.NotEmpty(t, opaque.RefreshToken)
	require.NotEmpty(t, jwt.RefreshToken)

	newAPI := func(srv *httptest.Server, mode string, configure func(*httpoidc.Config)) *api {
		cfg := apiConfig(h.Provider, h.Client(t, "api"))
		cfg.ClientSecrets.IntrospectionURI = h.IntrospectionURL()
		cfg.AccessTokenValidation = mode
		cfg.Audience = apiURL
		if configure != nil {
			configure(&cfg)
		}
		return startAPI(t, srv, cfg)
	}
	jwtAPI := newAPI(jwtSrv, httpoidc.ValidateJWT, nil)
	introspecting := newAPI(introspectSrv, httpoidc.ValidateIntrospection, nil)
	auto := newAPI(autoSrv, httpoidc.ValidateAuto, nil)
	// Without an audience of its own, the API names the clients it trusts:
	// their tokens pass when they name no audience, and not when they name
	// one the API does not (another API, as far as it knows).
	allowing := newAPI(allowSrv, httpoidc.ValidateIntrospection, func(c *httpoidc.Config) {
		c.Audience = ""
		c.AllowedClients = []string{"web"}
	})

	const ok, refused, forbidden = http.StatusOK, http.StatusUnauthorized, http.StatusForbidden
	runTokenCases(t, ctx, "web-jwt", []tokenCase{
		{"JWT access token, JWT mode", jwtAPI, "/read", jwt.AccessToken, ok, ""},
		{"JWT access token, introspection", introspecting, "/read", jwt.AccessToken, ok, ""},
		{"JWT access token, auto", auto, "/read", jwt.AccessToken, ok, ""},
		{"JWT access token, scope not granted", jwtAPI, "/write", jwt.AccessToken, forbidden, "insufficient_scope"},
	})
	runTokenCases(t, ctx, "web", []tokenCase{
		{"opaque access token, introspection", introspecting, "/read", opaque.AccessToken, ok, ""},
		{"opaque access token, auto", auto, "/read", opaque.AccessToken, ok, ""},
		{"opaque access token without audience, AllowedClients", allowing, "/read", withoutAudience.AccessToken, ok, ""},
		{"opaque access token for an audience, AllowedClients", allowing, "/read", opaque.AccessToken, refused, "invalid_token"},
		{"opaque access token, scope not granted", introspecting, "/write", opaque.AccessToken, forbidden, "insufficient_scope"},
		{"opaque access token, JWT mode", jwtAPI, "/read", opaque.AccessToken, refused, "invalid_token"},
	})
	var never []tokenCase
	for _, a := range []struct {
		mode string
		api  *api
	}{{"JWT mode", jwtAPI}, {"introspection", introspecting}, {"auto", auto}, {"AllowedClients", allowing}} {
		never = append(never,
			tokenCase{"ID token, " + a.mode, a.api, "/any", idToken, refused, "invalid_token"},
			tokenCase{"refresh token, " + a.mode, a.api, "/any", opaque.RefreshToken, refused, "invalid_token"},
			tokenCase{"JWT client's refresh token, " + a.mode, a.api, "/any", jwt.RefreshToken, refused, "invalid_token"},
			tokenCase{"other client's opaque token, " + a.mode, a.api, "/any", otherOpaque.AccessToken, refused, "invalid_token"},
			tokenCase{"other client's JWT, " + a.mode, a.api, "/any", otherJWT.AccessToken, refused, "invalid_token"},
		)
	}
	runTokenCases(t, ctx, "", never)
}

// TestHydraShortLivedAccessTokens: with Hydra's access tokens living 30
// seconds, less than the default ClockSkew, a login neither loops back to
// Hydra (without a refresh token) nor refreshes on every request (with one).
func TestHydraShortLivedAccessTokens(t *testing.T) {
	for _, offline := range []bool{false, true} {
		t.Run(fmt.Sprintf("offline_access=%v", offline), func(t *testing.T) {
			srv := reserve(t, "127.0.0.1")
			h := testenv.StartHydra(t, testenv.HydraConfig{
				Clients:        []testenv.Client{webClient("web", srv, testenv.ClientSecretBasic, false)},
				AccessTokenTTL: 30 * time.Second,
			})
			ctx := testContext(t)
			cfg := appConfig(h.Provider, h.Client(t, "web"))
			if offline {
				cfg.Scopes = append(slices.Clone(userScopes), "offline_access")
			}
			a := startApp(t, srv, cfg)
			browser := newBrowser(t)

			u := a.login(t, ctx, h.Provider, browser, "alice")
			require.True(t, u.LoggedIn)
			require.Equal(t, offline, u.RefreshToken != "")
			for range 3 {
				again := a.get(t, ctx, browser, "/private")
				require.True(t, again.LoggedIn)
				require.Equal(t, u.AccessToken, again.AccessToken, "no refresh while the token is fresh")
			}
		})
	}
}

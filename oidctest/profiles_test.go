package oidctest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// absent in a want map means the claim must not be there.
type absent struct{}

// profileWant is what a profile must reproduce of its provider, for a
// token request by "app" for alice with openid, email and profile, the
// audience "api", the JWT format and a nonce.
type profileWant struct {
	accessJWT    bool
	accessTyp    string // typ header; "" for none
	accessClaims map[string]any
	idTyp        string
	idClaims     map[string]any
	// refreshParts is the number of dot-separated parts of the refresh
	// token: 3 for a JWS, 5 for a JWE, 1 or 2 for opaque ones (Entra ID's
	// start with "0.").
	refreshParts int
	// logoutTyp is the logout token's typ header; "-" when the provider
	// has no back-channel logout.
	logoutTyp    string
	logoutClaims map[string]any
	discovery    map[string]any
	// active is what introspection as "api" (basic auth) answers for the
	// access, ID and refresh token; nil when there is no introspection.
	active []bool
	// answer holds members of the access token's introspection answer.
	answer map[string]any
}

func TestProfiles(t *testing.T) {
	listed := func(methods any) map[string]any {
		return map[string]any{"introspection_endpoint": "/introspect", "introspection_endpoint_auth_methods_supported": methods}
	}
	for p, want := range map[oidctest.Profile]profileWant{
		oidctest.Keycloak: {
			accessJWT: true, accessTyp: "JWT",
			accessClaims: map[string]any{"aud": []any{"api", "account"}, "azp": "app", "typ": "Bearer", "scope": "openid email profile",
				"nonce": absent{}, "at_hash": absent{}, "client_id": absent{}, "realm_access": map[string]any{"roles": []any{"offline_access", "uma_authorization", "editor"}}},
			idTyp:        "JWT",
			idClaims:     map[string]any{"typ": "ID", "aud": "app", "azp": "app", "nonce": "n-1"},
			refreshParts: 3,
			logoutTyp:    "logout+jwt", logoutClaims: map[string]any{"typ": "Logout", "sid": "s1"},
			discovery: listed([]any{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"}),
			active:    []bool{true, false, false},
			answer:    map[string]any{"token_type": "Bearer", "client_id": "app", "azp": "app", "username": "al"},
		},
		oidctest.Dex: {
			accessJWT: true, accessTyp: "",
			accessClaims: map[string]any{"aud": []any{"api", "app"}, "azp": "app", "nonce": "n-1", "email": "alice@example.com", "scope": absent{}},
			idTyp:        "",
			idClaims:     map[string]any{"aud": []any{"api", "app"}, "azp": "app", "nonce": "n-1"},
			refreshParts: 1,
			logoutTyp:    "-",
			discovery:    map[string]any{"introspection_endpoint": "/introspect", "introspection_endpoint_auth_methods_supported": nil, "end_session_endpoint": nil},
			active:       []bool{true, true, true},
			answer:       map[string]any{"token_type": "Bearer", "token_use": "access_token", "client_id": "app", "scope": nil},
		},
		oidctest.Hydra: {
			accessJWT: true, accessTyp: "JWT",
			accessClaims: map[string]any{"aud": []any{"api"}, "client_id": "app", "scp": []any{"openid", "email", "profile"}, "scope": absent{}},
			idTyp:        "JWT",
			idClaims:     map[string]any{"aud": []any{"app"}, "nonce": "n-1"},
			refreshParts: 1,
			logoutTyp:    "JWT", logoutClaims: map[string]any{"exp": absent{}, "sub": absent{}, "sid": "s1"},
			discovery: map[string]any{"introspection_endpoint": nil, "end_session_endpoint": "/end_session"},
			active:    []bool{true, false, true},
			answer:    map[string]any{"token_type": "Bearer", "token_use": "access_token", "aud": []any{"api"}},
		},
		oidctest.Zitadel: {
			accessJWT: true, accessTyp: "JWT",
			accessClaims: map[string]any{"aud": []any{"api", "app"}, "client_id": "app", "scope": absent{}},
			idTyp:        "JWT",
			idClaims:     map[string]any{"azp": "app", "client_id": "app", "nonce": "n-1"},
			refreshParts: 1,
			logoutTyp:    "JWT",
			discovery:    listed([]any{"client_secret_basic", "private_key_jwt"}),
			active:       []bool{true, false, false},
			answer:       map[string]any{"token_type": "Bearer", "client_id": "app", "scope": "openid email profile"},
		},
		oidctest.Auth0: {
			accessJWT: true, accessTyp: "JWT",
			accessClaims: map[string]any{"aud": []any{"api", "$issuer/userinfo"}, "azp": "app", "scope": "openid email profile", "client_id": absent{}},
			idTyp:        "JWT",
			idClaims:     map[string]any{"aud": "app", "nonce": "n-1", "at_hash": absent{}},
			refreshParts: 1,
			logoutTyp:    "JWT",
			discovery:    map[string]any{"introspection_endpoint": nil, "end_session_endpoint": nil},
		},
		oidctest.Okta: {
			accessJWT: true, accessTyp: "",
			accessClaims: map[string]any{"aud": "api", "cid": "app", "scp": []any{"openid", "email", "profile"}, "ver": 1.0},
			idTyp:        "",
			idClaims:     map[string]any{"aud": "app", "nonce": "n-1"},
			refreshParts: 1,
			logoutTyp:    "-",
			discovery:    listed([]any{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}),
			active:       []bool{true, true, true},
			answer:       map[string]any{"token_type": "Bearer", "client_id": "app", "aud": "api"},
		},
		oidctest.EntraID: {
			accessJWT: true, accessTyp: "JWT",
			accessClaims: map[string]any{"aud": "api", "azp": "app", "scp": absent{}, "ver": "2.0", "roles": []any{"editor"}},
			idTyp:        "JWT",
			idClaims:     map[string]any{"aud": "app", "nonce": "n-1", "at_hash": absent{}},
			refreshParts: 2,
			logoutTyp:    "-",
			discovery:    map[string]any{"introspection_endpoint": nil, "end_session_endpoint": "/end_session"},
		},
		oidctest.Cognito: {
			accessJWT: true, accessTyp: "",
			accessClaims: map[string]any{"aud": absent{}, "client_id": "app", "token_use": "access", "scope": "openid email profile"},
			idTyp:        "",
			idClaims:     map[string]any{"aud": "app", "token_use": "id", "nonce": "n-1"},
			refreshParts: 5,
			logoutTyp:    "-",
			discovery:    map[string]any{"introspection_endpoint": nil, "end_session_endpoint": nil},
		},
		oidctest.Google: {
			accessJWT:    false,
			idTyp:        "JWT",
			idClaims:     map[string]any{"aud": "app", "azp": "app", "nonce": "n-1"},
			refreshParts: 1,
			logoutTyp:    "-",
			discovery:    map[string]any{"introspection_endpoint": nil, "end_session_endpoint": nil},
		},
	} {
		t.Run(p.String(), func(t *testing.T) {
			op := oidctest.NewServer(oidctest.WithProfile(p))
			t.Cleanup(op.Close)
			for _, u := range testUsers() {
				op.AddUser(u)
			}
			op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{redirectURI}})
			op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
			expand := func(m map[string]any) map[string]any {
				out := map[string]any{}
				for k, v := range m {
					switch v := v.(type) {
					case string:
						out[k] = strings.ReplaceAll(v, "$issuer", op.URL)
					case []any:
						var items []any
						for _, item := range v {
							if s, ok := item.(string); ok {
								item = strings.ReplaceAll(s, "$issuer", op.URL)
							}
							items = append(items, item)
						}
						out[k] = items
					default:
						out[k] = v
					}
				}
				return out
			}
			toks, err := op.IssueTokens(oidctest.TokenRequest{
				ClientID: "app", Subject: "alice", Scopes: []string{"openid", "email", "profile"},
				Audience: []string{"api"}, Format: oidctest.JWT, Nonce: "n-1",
			})
			require.NoError(t, err)

			if want.accessJWT {
				typ, claims := jwtTypAndClaims(t, toks.AccessToken)
				require.Equal(t, want.accessTyp, typ)
				requireClaims(t, expand(want.accessClaims), claims)
			} else {
				require.NotEqual(t, 2, strings.Count(toks.AccessToken, "."), "opaque access token")
			}
			typ, claims := jwtTypAndClaims(t, toks.IDToken)
			require.Equal(t, want.idTyp, typ)
			requireClaims(t, expand(want.idClaims), claims)
			// The ID token verifies as one, whatever its shape.
			provider, err := oidc.NewProvider(t.Context(), op.URL)
			require.NoError(t, err)
			_, err = provider.Verifier(&oidc.Config{ClientID: "app"}).Verify(t.Context(), toks.IDToken)
			require.NoError(t, err)
			require.Equal(t, want.refreshParts, strings.Count(toks.RefreshToken, ".")+1)

			logout := op.LogoutToken("app", "alice", "s1")
			if want.logoutTyp == "-" {
				require.Empty(t, logout)
			} else {
				typ, claims := jwtTypAndClaims(t, logout)
				require.Equal(t, want.logoutTyp, typ)
				requireClaims(t, expand(want.logoutClaims), claims)
				require.Contains(t, claims["events"], "http://schemas.openid.net/event/backchannel-logout")
			}

			r := get(t, op.URL+"/.well-known/openid-configuration")
			require.Equal(t, http.StatusOK, r.status)
			for name, v := range want.discovery {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "/") {
					v = op.URL + s
				}
				require.Equal(t, v, r.json[name], name)
			}
			require.Equal(t, want.logoutTyp != "-", r.json["backchannel_logout_supported"])

			if want.active == nil {
				require.Empty(t, op.IntrospectionURL())
				return
			}
			for i, tok := range []string{toks.AccessToken, toks.IDToken, toks.RefreshToken} {
				r := postForm(t, op.IntrospectionURL(), url.Values{"token": {tok}}, "api", "api-secret")
				require.Equal(t, http.StatusOK, r.status, r.body)
				require.Equal(t, want.active[i], r.json["active"], "token %d: %s", i, r.body)
				if i == 0 {
					requireClaims(t, want.answer, r.json)
				}
			}
		})
	}
}

// TestProfileFlows runs the real code flow and a refresh with profiles whose
// refresh tokens are not opaque, and checks that a login shapes tokens as
// IssueTokens does.
func TestProfileFlows(t *testing.T) {
	for _, p := range []oidctest.Profile{oidctest.Keycloak, oidctest.Cognito, oidctest.Hydra} {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, oidctest.WithProfile(p))
			f.cfg.Scopes = append(f.cfg.Scopes, "offline_access")
			tok := f.login(t)
			raw, _ := tok.Extra("id_token").(string)
			idToken, err := f.verifier.Verify(t.Context(), raw)
			require.NoError(t, err)
			require.Equal(t, "alice", idToken.Subject)
			refreshed, err := f.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			require.NoError(t, err)
			require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
			info, err := f.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(refreshed))
			require.NoError(t, err)
			require.Equal(t, "alice", info.Subject)
		})
	}
}

func TestProfileIntrospectionAuth(t *testing.T) {
	op := oidctest.NewServer(oidctest.WithProfile(oidctest.Zitadel))
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret"})
	op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
	tok := op.IssueAccessToken(oidctest.TokenRequest{ClientID: "app", Subject: "alice", Audience: []string{"api"}})
	// zitadel takes client_secret_basic only.
	post := postForm(t, op.IntrospectionURL(), url.Values{"token": {tok}, "client_id": {"api"}, "client_secret": {"api-secret"}}, "", "")
	requireOAuthError(t, post, http.StatusUnauthorized, "invalid_client")
	basic := postForm(t, op.IntrospectionURL(), url.Values{"token": {tok}}, "api", "api-secret")
	require.Equal(t, true, basic.json["active"], basic.body)
	// Only a client in the token's aud learns that it is active.
	other := postForm(t, op.IntrospectionURL(), url.Values{"token": {tok}}, "app", "app-secret")
	require.Equal(t, true, other.json["active"], "app is in aud too")
	op.AddClient(oidctest.Client{ID: "third", Secret: "third-secret"})
	third := postForm(t, op.IntrospectionURL(), url.Values{"token": {tok}}, "third", "third-secret")
	require.Equal(t, false, third.json["active"])

	// Hydra's admin port needs no client authentication at all.
	hydra := oidctest.NewServer(oidctest.WithProfile(oidctest.Hydra))
	t.Cleanup(hydra.Close)
	at := hydra.IssueAccessToken(oidctest.TokenRequest{ClientID: "app", Subject: "alice"})
	require.True(t, strings.HasPrefix(at, "ory_at_"))
	anon := postForm(t, hydra.IntrospectionURL(), url.Values{"token": {at}}, "", "")
	require.Equal(t, true, anon.json["active"], anon.body)
	require.Equal(t, []any{}, anon.json["aud"], "Hydra's default audience is empty")
}

func TestProfileNames(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range oidctest.Profiles() {
		require.NotContains(t, p.String(), "Profile(")
		require.False(t, seen[p.String()])
		seen[p.String()] = true
	}
	require.Len(t, seen, 9)
	require.Equal(t, "Standard", oidctest.Standard.String())
	require.Equal(t, "Profile(99)", oidctest.Profile(99).String())
	require.Panics(t, func() { oidctest.NewServer(oidctest.WithProfile(oidctest.Profile(99))) })
}

// jwtTypAndClaims returns a JWT's typ header ("" when absent) and claims,
// without verifying it.
func jwtTypAndClaims(t *testing.T, token string) (string, map[string]any) {
	t.Helper()
	header, claims := decodeJWT(t, token)
	typ, _ := header["typ"].(string)
	return typ, claims
}

// requireClaims checks that got holds want's members (absent{}: not there;
// nil: not there or null).
func requireClaims(t *testing.T, want, got map[string]any) {
	t.Helper()
	for name, v := range want {
		switch v.(type) {
		case absent:
			require.NotContains(t, got, name)
		case nil:
			require.Nil(t, got[name], name)
		default:
			require.Equal(t, v, got[name], name)
		}
	}
}

func TestProfileLogoutURLs(t *testing.T) {
	for p, param := range map[oidctest.Profile]string{oidctest.Auth0: "returnTo", oidctest.Cognito: "logout_uri"} {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, oidctest.WithProfile(p))
			path := map[oidctest.Profile]string{oidctest.Auth0: "/v2/logout", oidctest.Cognito: "/logout"}[p]
			r := getNoRedirect(t, f, f.op.URL+path+"?"+url.Values{"client_id": {clientID}, param: {postLogoutURI}}.Encode())
			require.Equal(t, http.StatusFound, r.StatusCode)
			require.Equal(t, postLogoutURI, r.Header.Get("Location"))
			// An unregistered return URL gets the logged-out page, never a
			// redirect.
			r = getNoRedirect(t, f, f.op.URL+path+"?"+url.Values{"client_id": {clientID}, param: {"https://evil.example.com/"}}.Encode())
			require.Equal(t, http.StatusOK, r.StatusCode)
		})
	}
}

func getNoRedirect(t *testing.T, f *fixture, u string) *http.Response {
	t.Helper()
	resp, err := f.browser.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

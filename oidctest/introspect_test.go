package oidctest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

func TestIntrospection(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t)
	introspect := f.op.URL + "/introspect"
	f.op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
	apiToken := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "api"})

	t.Run("auth methods", func(t *testing.T) {
		for name, send := range map[string]func() response{
			"basic": func() response {
				return postForm(t, introspect, url.Values{"token": {tok.AccessToken}}, "api", "api-secret")
			},
			"post": func() response {
				return postForm(t, introspect, url.Values{"token": {tok.AccessToken}, "client_id": {"api"}, "client_secret": {"api-secret"}}, "", "")
			},
			"bearer": func() response {
				req, err := http.NewRequest(http.MethodPost, introspect, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+apiToken)
				return do(t, req)
			},
		} {
			r := send()
			require.Equal(t, http.StatusOK, r.status, "%s: %s", name, r.body)
			require.Equal(t, true, r.json["active"], name)
			require.Equal(t, "alice", r.json["sub"], name)
			require.Equal(t, clientID, r.json["aud"], name)
			require.InDelta(t, time.Now().Add(time.Hour).Unix(), r.json["exp"], 5, name)
			require.InDelta(t, time.Now().Unix(), r.json["iat"], 5, name)
		}
	})
	t.Run("auth failures", func(t *testing.T) {
		requireOAuthError(t, postForm(t, introspect, url.Values{"token": {tok.AccessToken}}, "", ""), 401, "invalid_client")
		requireOAuthError(t, postForm(t, introspect, url.Values{"token": {tok.AccessToken}}, "api", "wrong"), 401, "invalid_client")
		req, err := http.NewRequest(http.MethodPost, introspect, strings.NewReader("token=x"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer not-a-token")
		r := do(t, req)
		requireOAuthError(t, r, 401, "invalid_token")
		require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
	})
	t.Run("inactive", func(t *testing.T) {
		require.Equal(t, map[string]any{"active": false}, f.introspect(t, "unknown"))
		short := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", TTL: time.Minute})
		require.Equal(t, true, f.introspect(t, short)["active"])
		f.op.Advance(time.Minute)
		require.Equal(t, map[string]any{"active": false}, f.introspect(t, short), "expired by the server clock")
		f.op.Advance(-time.Minute)
	})
	t.Run("refresh token", func(t *testing.T) {
		in := f.introspect(t, tok.RefreshToken)
		require.Equal(t, true, in["active"])
		require.Equal(t, "refresh_token", in["token_type"])
		require.Equal(t, "alice", in["sub"])
	})
	t.Run("bad requests", func(t *testing.T) {
		requireOAuthError(t, postForm(t, introspect, url.Values{}, clientID, clientSecret), 400, "invalid_request")
		requireOAuthError(t, postForm(t, introspect, url.Values{"token": {"a", "b"}}, clientID, clientSecret), 400, "invalid_request")
		requireOAuthError(t, get(t, introspect), http.StatusMethodNotAllowed, "invalid_request")
	})
}

func TestRevocation(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
	revoke := func(t *testing.T, token, id, secret string) response {
		return postForm(t, f.op.URL+"/revoke", url.Values{"token": {token}, "token_type_hint": {"access_token"}}, id, secret)
	}
	tok := f.login(t)

	r := revoke(t, "never-issued", clientID, clientSecret)
	require.Equal(t, http.StatusOK, r.status, "RFC 7009: unknown tokens answer 200")

	r = revoke(t, tok.AccessToken, "other", "other-secret")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, true, f.introspect(t, tok.AccessToken)["active"], "another client cannot revoke the token")

	r = revoke(t, tok.RefreshToken, clientID, clientSecret)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, tok.RefreshToken))
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, tok.AccessToken), "the grant's access token goes with it")
	_, err := f.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	requireRetrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	requireOAuthError(t, revoke(t, "x", clientID, "wrong"), 401, "invalid_client")
	requireOAuthError(t, postForm(t, f.op.URL+"/revoke", url.Values{}, clientID, clientSecret), 400, "invalid_request")
	requireOAuthError(t, get(t, f.op.URL+"/revoke"), http.StatusMethodNotAllowed, "invalid_request")

	jwt := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Format: oidctest.JWT})
	require.Equal(t, http.StatusOK, revoke(t, jwt, clientID, clientSecret).status)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, jwt), "JWT access tokens are revocable too")
}

func TestIssueAccessToken(t *testing.T) {
	f := newFixture(t)
	t.Run("opaque", func(t *testing.T) {
		tok := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"openid", "email"}})
		require.NotContains(t, tok, ".")
		in := f.introspect(t, tok)
		require.Equal(t, true, in["active"])
		require.Equal(t, "openid email", in["scope"])
		require.Equal(t, clientID, in["aud"], "audience defaults to the client")
		r := get(t, f.op.URL+"/userinfo", "Authorization", "Bearer "+tok)
		require.Equal(t, "alice@example.com", r.json["email"])
	})
	t.Run("JWT", func(t *testing.T) {
		tok := f.op.IssueAccessToken(oidctest.TokenRequest{
			ClientID: clientID, Subject: "alice", Scopes: []string{"read", "write"},
			Audience: []string{"https://a.example.com", "https://b.example.com"}, Format: oidctest.JWT, TTL: 5 * time.Minute,
		})
		payload, err := verifyWithJWKS(t, f.op, tok, "RS256")
		require.NoError(t, err)
		require.NotEmpty(t, payload)
		header, claims := decodeJWT(t, tok)
		require.Equal(t, "at+jwt", header["typ"])
		require.Equal(t, fetchJWKS(t, f.op).Keys[0].KeyID, header["kid"])
		require.Equal(t, f.op.URL, claims["iss"])
		require.Equal(t, "alice", claims["sub"])
		require.Equal(t, []any{"https://a.example.com", "https://b.example.com"}, claims["aud"])
		require.Equal(t, "read write", claims["scope"])
		require.Equal(t, clientID, claims["client_id"])
		require.NotEmpty(t, claims["jti"])
		require.Equal(t, claims["iat"].(float64)+300, claims["exp"])
		in := f.introspect(t, tok)
		require.Equal(t, true, in["active"])
		require.Equal(t, claims["exp"], in["exp"])
	})
	t.Run("extra claims", func(t *testing.T) {
		extra := map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}, "groups": []any{"staff"}, "sub": "mallory", "scope": "root"}
		for _, format := range []oidctest.AccessTokenFormat{oidctest.Opaque, oidctest.JWT} {
			tok := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"read"}, Format: format, Claims: extra})
			in := f.introspect(t, tok)
			require.Equal(t, map[string]any{"roles": []any{"admin"}}, in["realm_access"])
			require.Equal(t, []any{"staff"}, in["groups"])
			require.Equal(t, "alice", in["sub"], "registered claims are not overridden")
			require.Equal(t, "read", in["scope"])
			if format == oidctest.JWT {
				_, claims := decodeJWT(t, tok)
				require.Equal(t, in["realm_access"], claims["realm_access"])
				require.Equal(t, "alice", claims["sub"])
			}
		}
	})
	t.Run("client format", func(t *testing.T) {
		f.op.AddClient(oidctest.Client{ID: "jwt-app", Secret: "s", RedirectURIs: []string{redirectURI}, AccessTokenFormat: oidctest.JWT})
		cfg := *f.cfg
		cfg.ClientID, cfg.ClientSecret = "jwt-app", "s"
		q := f.authorizeURL(t, cfg.AuthCodeURL("st"))
		tok, err := cfg.Exchange(t.Context(), q.Get("code"))
		require.NoError(t, err)
		header, claims := decodeJWT(t, tok.AccessToken)
		require.Equal(t, "at+jwt", header["typ"])
		require.Equal(t, "jwt-app", claims["aud"])
		require.Equal(t, "openid email profile groups", claims["scope"])
		idt, err := f.provider.Verifier(&oidc.Config{ClientID: "jwt-app"}).Verify(t.Context(), idToken(t, tok))
		require.NoError(t, err)
		require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
	})
}

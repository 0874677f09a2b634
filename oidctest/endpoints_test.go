package oidctest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/httpoidc/httpoidc/oidctest"
)

func postJSON(t *testing.T, u, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	r := get(t, f.op.URL+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, r.status)
	u := f.op.URL
	want := map[string]any{
		"issuer":                                         u,
		"authorization_endpoint":                         u + "/authorize",
		"token_endpoint":                                 u + "/token",
		"userinfo_endpoint":                              u + "/userinfo",
		"jwks_uri":                                       u + "/jwks",
		"registration_endpoint":                          u + "/register",
		"introspection_endpoint":                         u + "/introspect",
		"revocation_endpoint":                            u + "/revoke",
		"end_session_endpoint":                           u + "/end_session",
		"response_types_supported":                       []any{"code"},
		"grant_types_supported":                          []any{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":               []any{"S256", "plain"},
		"token_endpoint_auth_methods_supported":          []any{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported":  []any{"client_secret_basic", "client_secret_post", "bearer"},
		"id_token_signing_alg_values_supported":          []any{"RS256"},
		"scopes_supported":                               []any{"openid", "email", "profile", "groups", "offline_access"},
		"subject_types_supported":                        []any{"public"},
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		require.Equal(t, v, r.json[k], k)
	}
	require.Equal(t, f.op.URL+"/authorize", f.provider.Endpoint().AuthURL)
	require.Equal(t, f.op.URL+"/userinfo", f.provider.UserInfoEndpoint())

	require.Equal(t, http.StatusMethodNotAllowed, postForm(t, u+"/.well-known/openid-configuration", nil, "", "").status)
	require.Equal(t, http.StatusMethodNotAllowed, postForm(t, u+"/jwks", nil, "", "").status)
}

func TestOptionalEndpointsDisabled(t *testing.T) {
	f := newFixture(t, oidctest.WithoutRegistration(), oidctest.WithoutIntrospection())
	r := get(t, f.op.URL+"/.well-known/openid-configuration")
	for _, k := range []string{"registration_endpoint", "introspection_endpoint", "introspection_endpoint_auth_methods_supported"} {
		require.NotContains(t, r.json, k)
	}
	require.Equal(t, http.StatusNotFound, postJSON(t, f.op.URL+"/register", `{"redirect_uris":["https://a.example/cb"]}`).status)
	require.Equal(t, http.StatusNotFound, postForm(t, f.op.URL+"/introspect", url.Values{"token": {"x"}}, clientID, clientSecret).status)
}

func TestAuthorizeErrorPages(t *testing.T) {
	f := newFixture(t)
	base := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	tests := []struct {
		name   string
		modify func(v url.Values)
		want   string
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "nobody") }, "Unknown client_id nobody."},
		{"no client", func(v url.Values) { v.Del("client_id") }, "no client_id"},
		{"repeated client", func(v url.Values) { v.Add("client_id", clientID) }, "client_id repeated"},
		{"unregistered redirect", func(v url.Values) { v.Set("redirect_uri", "https://evil.example.com/cb") }, "not registered"},
		{"redirect differs by a slash", func(v url.Values) { v.Set("redirect_uri", redirectURI+"/") }, "not registered"},
		{"no redirect", func(v url.Values) { v.Del("redirect_uri") }, "no redirect_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range base {
				v[k] = append([]string(nil), vs...)
			}
			tc.modify(v)
			resp, err := f.browser.Get(f.op.URL + "/authorize?" + v.Encode())
			require.NoError(t, err)
			defer resp.Body.Close()
			body := readBody(t, resp)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "never a redirect")
			require.Empty(t, resp.Header.Get("Location"))
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, body, tc.want)
		})
	}
	t.Run("method", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPut, f.op.URL+"/authorize", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusMethodNotAllowed, do(t, req).status)
	})
}

func TestAuthorizeErrorRedirects(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "narrow", Secret: "x", RedirectURIs: []string{redirectURI}, Scopes: []string{"email"}})
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"unsupported response_type", url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{"missing response_type", url.Values{"response_type": nil}, "invalid_request"},
		{"repeated scope", url.Values{"scope": {"openid", "email"}}, "invalid_request"},
		{"scope not allowed", url.Values{"client_id": {"narrow"}, "scope": {"openid email profile"}}, "invalid_scope"},
		{"unknown challenge method", url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S512"}}, "invalid_request"},
		{"method without challenge", url.Values{"code_challenge_method": {"S256"}}, "invalid_request"},
		{"challenge too short", url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"S256"}}, "invalid_request"},
		{"resource not absolute", url.Values{"resource": {"/api"}}, "invalid_target"},
		{"response_mode fragment", url.Values{"response_mode": {"fragment"}}, "invalid_request"},
		{"prompt none without a login", url.Values{"prompt": {"none"}}, "login_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "login_required" {
				f.op.AutoLogin("")
				defer f.op.AutoLogin("alice")
			}
			v := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}, "state": {"xyz"}}
			for k, vs := range tc.query {
				if vs == nil {
					v.Del(k)
				} else {
					v[k] = vs
				}
			}
			q := f.authorizeURL(t, f.op.URL+"/authorize?"+v.Encode())
			require.Equal(t, tc.want, q.Get("error"), q.Get("error_description"))
			require.NotEmpty(t, q.Get("error_description"))
			require.Equal(t, "xyz", q.Get("state"))
			require.Equal(t, f.op.URL, q.Get("iss"))
			require.Empty(t, q.Get("code"))
		})
	}
	t.Run("allowed scopes and openid", func(t *testing.T) {
		q := f.authorizeURL(t, f.op.URL+"/authorize?"+url.Values{"client_id": {"narrow"}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid email"}}.Encode())
		require.NotEmpty(t, q.Get("code"))
		require.NotContains(t, q, "state", "no state sent, none returned")
	})
	t.Run("redirect URI query is kept", func(t *testing.T) {
		withQuery := "https://rp.example.com/callback?tenant=a"
		f.op.AddClient(oidctest.Client{ID: "q", Secret: "x", RedirectURIs: []string{withQuery}})
		resp, err := f.browser.Get(f.op.URL + "/authorize?" + url.Values{"client_id": {"q"}, "redirect_uri": {withQuery}, "response_type": {"code"}, "scope": {"openid"}}.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "a", loc.Query().Get("tenant"))
		require.NotEmpty(t, loc.Query().Get("code"))
	})
	t.Run("POST", func(t *testing.T) {
		form := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}}
		resp, err := f.browser.PostForm(f.op.URL+"/authorize", form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Location"), "code=")
	})
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t)
	code := func(t *testing.T) string { return f.authorize(t).Get("code") }
	tokenURL := f.op.URL + "/token"
	tests := []struct {
		name       string
		form       func(t *testing.T) url.Values
		user, pass string
		status     int
		want       string
		basicChall bool
	}{
		{name: "wrong secret, basic", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code(t)}, "redirect_uri": {redirectURI}}
		}, user: clientID, pass: "wrong", status: 401, want: "invalid_client", basicChall: true},
		{name: "wrong secret, post", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"wrong"}}
		}, status: 401, want: "invalid_client"},
		{name: "unknown client", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}}
		}, user: "nobody", pass: "x", status: 401, want: "invalid_client", basicChall: true},
		{name: "no credentials", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}}
		}, status: 401, want: "invalid_client"},
		{name: "two auth methods", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_secret": {clientSecret}}
		}, user: clientID, pass: clientSecret, status: 400, want: "invalid_request"},
		{name: "missing grant_type", form: func(t *testing.T) url.Values {
			return url.Values{}
		}, user: clientID, pass: clientSecret, status: 400, want: "invalid_request"},
		{name: "unsupported grant_type", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}
		}, user: clientID, pass: clientSecret, status: 400, want: "unsupported_grant_type"},
		{name: "repeated grant_type", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials", "client_credentials"}}
		}, user: clientID, pass: clientSecret, status: 400, want: "invalid_request"},
		{name: "missing code", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {redirectURI}}
		}, user: clientID, pass: clientSecret, status: 400, want: "invalid_request"},
		{name: "bad resource", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "resource": {"https://api.example.com/#frag"}}
		}, user: clientID, pass: clientSecret, status: 400, want: "invalid_target"},
		{name: "scope not allowed", form: func(t *testing.T) url.Values {
			f.op.AddClient(oidctest.Client{ID: "narrow", Secret: "n", Scopes: []string{"read"}})
			return url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}
		}, user: "narrow", pass: "n", status: 400, want: "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postForm(t, tokenURL, tc.form(t), tc.user, tc.pass)
			requireOAuthError(t, r, tc.status, tc.want)
			if tc.basicChall {
				require.Equal(t, `Basic realm="oidctest"`, r.header.Get("WWW-Authenticate"))
			} else {
				require.Empty(t, r.header.Get("WWW-Authenticate"))
			}
			require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		})
	}
	t.Run("GET", func(t *testing.T) {
		requireOAuthError(t, get(t, tokenURL), http.StatusMethodNotAllowed, "invalid_request")
	})
	t.Run("query parameters are not body parameters", func(t *testing.T) {
		r := postForm(t, tokenURL+"?grant_type=client_credentials", nil, clientID, clientSecret)
		requireOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("client_secret_post works", func(t *testing.T) {
		r := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}, "", "")
		require.Equal(t, http.StatusOK, r.status, r.body)
	})
	t.Run("basic credentials are form-encoded", func(t *testing.T) {
		f.op.AddClient(oidctest.Client{ID: "a b", Secret: "p&ss:wörd", RedirectURIs: []string{redirectURI}})
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cfg := clientcredentials.Config{ClientID: "a b", ClientSecret: "p&ss:wörd", TokenURL: tokenURL, AuthStyle: style}
			_, err := cfg.Token(t.Context())
			require.NoError(t, err, "auth style %v", style)
		}
	})
}

func TestUserInfo(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t)
	userinfo := f.op.URL + "/userinfo"
	t.Run("claims by scope", func(t *testing.T) {
		r := get(t, userinfo, "Authorization", "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, "alice", r.json["sub"])
		require.Equal(t, "alice@example.com", r.json["email"])
		require.Equal(t, []any{"admins", "staff"}, r.json["groups"])
		require.NotContains(t, r.json, "iss", "registered claims are not taken from User.Claims")

		emailOnly := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"openid", "email"}})
		r = get(t, userinfo, "Authorization", "bearer "+emailOnly)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, "alice@example.com", r.json["email"])
		require.NotContains(t, r.json, "name")
		require.NotContains(t, r.json, "groups")
		require.Equal(t, []any{"editor"}, r.json["roles"], "custom claims are always released")
	})
	t.Run("POST", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, userinfo, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusOK, do(t, req).status)
	})
	tests := []struct {
		name, auth string
		status     int
		code       string
		challenge  string
	}{
		{"no token", "", 401, "invalid_token", `Bearer realm="oidctest"`},
		{"basic auth", "Basic YTpi", 401, "invalid_token", `Bearer realm="oidctest"`},
		{"unknown token", "Bearer nope", 401, "invalid_token", `error="invalid_token"`},
		{"empty bearer", "Bearer ", 401, "invalid_token", `Bearer realm="oidctest"`},
		{"refresh token", "Bearer " + tok.RefreshToken, 401, "invalid_token", `error="invalid_token"`},
		{"id token", "Bearer " + idToken(t, tok), 401, "invalid_token", `error="invalid_token"`},
		{"no openid scope", "Bearer " + f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"email"}}), 403, "insufficient_scope", `error="insufficient_scope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, userinfo, "Authorization", tc.auth)
			requireOAuthError(t, r, tc.status, tc.code)
			require.Contains(t, r.header.Get("WWW-Authenticate"), tc.challenge)
		})
	}
}

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

func TestEndSession(t *testing.T) {
	f := newFixture(t)
	rawID := idToken(t, f.login(t))
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "s", RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{"https://other.example.com/bye"}})
	tests := []struct {
		name     string
		query    url.Values
		status   int
		location string
		body     string
	}{
		{"no parameters", url.Values{}, 200, "", "You have been logged out."},
		{"hint and registered URI", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {postLogoutURI}, "state": {"st"}}, 302, postLogoutURI + "?state=st", ""},
		{"no state", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {postLogoutURI}}, 302, postLogoutURI, ""},
		{"client_id instead of hint", url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {postLogoutURI}}, 302, postLogoutURI, ""},
		{"unregistered URI", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"https://evil.example.com/"}}, 200, "", "logged out"},
		{"URI of another client", url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {"https://other.example.com/bye"}}, 200, "", "logged out"},
		{"URI without client", url.Values{"post_logout_redirect_uri": {postLogoutURI}}, 200, "", "logged out"},
		{"invalid hint", url.Values{"id_token_hint": {"not.a.jwt"}, "post_logout_redirect_uri": {postLogoutURI}}, 400, "", "Invalid id_token_hint"},
		{"tampered hint", url.Values{"id_token_hint": {rawID[:len(rawID)-4] + "AAAA"}}, 400, "", "Invalid id_token_hint"},
		{"hint for another client", url.Values{"id_token_hint": {rawID}, "client_id": {"other"}}, 400, "", "does not match"},
		{"repeated state", url.Values{"state": {"a", "b"}}, 400, "", "repeated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.browser.Get(f.op.URL + "/end_session?" + tc.query.Encode())
			require.NoError(t, err)
			defer resp.Body.Close()
			body := readBody(t, resp)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Equal(t, tc.location, resp.Header.Get("Location"))
			require.Contains(t, body, tc.body)
		})
	}
	t.Run("expired hint is accepted", func(t *testing.T) {
		f.op.Advance(2 * time.Hour)
		defer f.op.Advance(-2 * time.Hour)
		resp, err := f.browser.PostForm(f.op.URL+"/end_session", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {postLogoutURI}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
	})
	t.Run("hint from a faulty token is refused", func(t *testing.T) {
		f.op.SetFault(oidctest.FaultWrongIssuer, true)
		bad := idToken(t, f.login(t))
		f.op.ClearFaults()
		r := get(t, f.op.URL+"/end_session?"+url.Values{"id_token_hint": {bad}}.Encode())
		require.Equal(t, http.StatusBadRequest, r.status)
	})
}

func TestBackchannelLogout(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"receiver accepts", func(w http.ResponseWriter, r *http.Request) {}},
		{"receiver fails", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan *http.Request, 1)
			rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, r.ParseForm())
				got <- r
				tc.handler(w, r)
			}))
			defer rp.Close()
			f.op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI},
				PostLogoutRedirectURIs: []string{postLogoutURI}, BackchannelLogoutURI: rp.URL + "/bc"})
			rawID := idToken(t, f.login(t))
			resp, err := f.browser.Get(f.op.URL + "/end_session?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {postLogoutURI}}.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode, "the logout completes whatever the receiver says")
			r := <-got
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/bc", r.URL.Path)
			require.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			lt, err := f.verifier.VerifyLogout(t.Context(), r.PostForm.Get("logout_token"))
			require.NoError(t, err)
			require.Equal(t, "alice", lt.Subject)
			header, _ := decodeJWT(t, r.PostForm.Get("logout_token"))
			require.Equal(t, "logout+jwt", header["typ"])
		})
	}
	t.Run("no hint, no back-channel call", func(t *testing.T) {
		called := make(chan struct{}, 1)
		rp := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }))
		defer rp.Close()
		f.op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}, BackchannelLogoutURI: rp.URL})
		r := get(t, f.op.URL+"/end_session?client_id="+clientID)
		require.Equal(t, http.StatusOK, r.status)
		select {
		case <-called:
			t.Fatal("a logout token needs a sub or sid, which only the hint provides")
		default:
		}
	})
}

func TestLogoutToken(t *testing.T) {
	f := newFixture(t)
	raw := f.op.LogoutToken(clientID, "alice", "sid-1")
	lt, err := f.verifier.VerifyLogout(t.Context(), raw)
	require.NoError(t, err)
	require.Equal(t, "alice", lt.Subject)
	require.Equal(t, "sid-1", lt.SessionID)
	require.NotEmpty(t, lt.TokenID)
	require.Equal(t, []string{clientID}, lt.Audience)
	_, claims := decodeJWT(t, raw)
	require.NotContains(t, claims, "nonce")
	require.Contains(t, claims["events"], "http://schemas.openid.net/event/backchannel-logout")

	sidOnly := f.op.LogoutToken(clientID, "", "sid-2")
	_, claims = decodeJWT(t, sidOnly)
	require.NotContains(t, claims, "sub")
	lt, err = f.verifier.VerifyLogout(t.Context(), sidOnly)
	require.NoError(t, err)
	require.Equal(t, "sid-2", lt.SessionID)

	f.op.SetFault(oidctest.FaultBadSignature, true)
	_, err = f.verifier.VerifyLogout(t.Context(), f.op.LogoutToken(clientID, "alice", "sid-1"))
	require.Error(t, err, "signature faults reach logout tokens")
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

func TestRegistration(t *testing.T) {
	f := newFixture(t)
	register := f.op.URL + "/register"
	r := postJSON(t, register, `{
		"redirect_uris": ["https://dyn.example.com/cb"],
		"post_logout_redirect_uris": ["https://dyn.example.com/bye"],
		"client_name": "Dynamic", "token_endpoint_auth_method": "client_secret_post",
		"scope": "openid email", "grant_types": ["authorization_code", "refresh_token"],
		"logo_uri": "https://dyn.example.com/logo.png"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	id, _ := r.json["client_id"].(string)
	secret, _ := r.json["client_secret"].(string)
	require.NotEmpty(t, id)
	require.NotEmpty(t, secret)
	require.InDelta(t, time.Now().Unix(), r.json["client_id_issued_at"], 5)
	require.Equal(t, float64(0), r.json["client_secret_expires_at"])
	require.Equal(t, []any{"https://dyn.example.com/cb"}, r.json["redirect_uris"])
	require.Equal(t, "client_secret_post", r.json["token_endpoint_auth_method"])
	require.Equal(t, []any{"code"}, r.json["response_types"])
	require.Equal(t, "Dynamic", r.json["client_name"])

	// The new client can log in.
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: f.provider.Endpoint(),
		RedirectURL: "https://dyn.example.com/cb", Scopes: []string{"openid", "email"}}
	resp, err := f.browser.Get(cfg.AuthCodeURL("st"))
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := cfg.Exchange(t.Context(), loc.Query().Get("code"))
	require.NoError(t, err)
	_, err = f.provider.Verifier(&oidc.Config{ClientID: id}).Verify(t.Context(), idToken(t, tok))
	require.NoError(t, err)

	r = postJSON(t, register, `{"redirect_uris": ["https://dyn.example.com/cb"]}`)
	require.Equal(t, http.StatusCreated, r.status)
	require.Equal(t, "client_secret_basic", r.json["token_endpoint_auth_method"])
	require.Equal(t, []any{"authorization_code"}, r.json["grant_types"])
	require.NotEqual(t, id, r.json["client_id"])

	tests := []struct{ name, body, code string }{
		{"no redirect_uris", `{"client_name":"x"}`, "invalid_redirect_uri"},
		{"empty redirect_uris", `{"redirect_uris":[]}`, "invalid_redirect_uri"},
		{"relative redirect", `{"redirect_uris":["/cb"]}`, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris":["https://a.example/cb#x"]}`, "invalid_redirect_uri"},
		{"redirect_uris not a list", `{"redirect_uris":"https://a.example/cb"}`, "invalid_client_metadata"},
		{"not JSON", `redirect_uris=x`, "invalid_client_metadata"},
		{"empty body", ``, "invalid_client_metadata"},
		{"auth method", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "invalid_client_metadata"},
		{"grant type", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, "invalid_client_metadata"},
		{"response type", `{"redirect_uris":["https://a.example/cb"],"response_types":["id_token"]}`, "invalid_client_metadata"},
		{"logout URI", `{"redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["bye"]}`, "invalid_client_metadata"},
		{"backchannel URI", `{"redirect_uris":["https://a.example/cb"],"backchannel_logout_uri":"bc"}`, "invalid_client_metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireOAuthError(t, postJSON(t, register, tc.body), http.StatusBadRequest, tc.code)
		})
	}
	t.Run("GET", func(t *testing.T) {
		requireOAuthError(t, get(t, register), http.StatusMethodNotAllowed, "invalid_request")
	})
}

func TestClientSecrets(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Web struct {
			ClientID     string   `json:"client_id"`
			ClientSecret string   `json:"client_secret"`
			AuthURI      string   `json:"auth_uri"`
			TokenURI     string   `json:"token_uri"`
			UserInfoURI  string   `json:"userinfo_uri"`
			Issuer       string   `json:"issuer"`
			RedirectURIs []string `json:"redirect_uris"`
		} `json:"web"`
	}
	require.NoError(t, json.Unmarshal(f.op.ClientSecrets(clientID), &doc))
	require.Equal(t, clientID, doc.Web.ClientID)
	require.Equal(t, clientSecret, doc.Web.ClientSecret)
	require.Equal(t, f.provider.Endpoint().AuthURL, doc.Web.AuthURI)
	require.Equal(t, f.provider.Endpoint().TokenURL, doc.Web.TokenURI)
	require.Equal(t, f.provider.UserInfoEndpoint(), doc.Web.UserInfoURI)
	require.Equal(t, f.op.URL, doc.Web.Issuer)
	require.Equal(t, []string{redirectURI}, doc.Web.RedirectURIs)
	require.Nil(t, f.op.ClientSecrets("nobody"))

	// AddClient replaces, so a redirect URI known later can be added.
	f.op.AddClient(oidctest.Client{ID: clientID, Secret: "new", RedirectURIs: []string{"https://late.example.com/cb"}})
	require.NoError(t, json.Unmarshal(f.op.ClientSecrets(clientID), &doc))
	require.Equal(t, "new", doc.Web.ClientSecret)
	require.Equal(t, []string{"https://late.example.com/cb"}, doc.Web.RedirectURIs)
}

func TestRequests(t *testing.T) {
	f := newFixture(t)
	f.op.ResetCounts()
	for _, e := range []oidctest.Endpoint{oidctest.EndpointDiscovery, oidctest.EndpointToken, oidctest.EndpointJWKS} {
		require.Zero(t, f.op.Requests(e))
	}
	tok := f.login(t)
	_, err := f.verifier.Verify(t.Context(), idToken(t, tok))
	require.NoError(t, err)
	f.introspect(t, tok.AccessToken)
	get(t, f.op.URL+"/userinfo", "Authorization", "Bearer "+tok.AccessToken)
	postForm(t, f.op.URL+"/revoke", url.Values{"token": {tok.AccessToken}}, clientID, clientSecret)
	get(t, f.op.URL+"/end_session")
	get(t, f.op.URL+"/.well-known/openid-configuration")
	postJSON(t, f.op.URL+"/register", `{}`)
	postForm(t, f.op.URL+"/login", nil, "", "")
	get(t, f.op.URL+"/no-such-endpoint")
	want := map[oidctest.Endpoint]int{
		oidctest.EndpointDiscovery: 1, oidctest.EndpointJWKS: 1, oidctest.EndpointAuthorize: 1,
		oidctest.EndpointLogin: 1, oidctest.EndpointToken: 1, oidctest.EndpointUserInfo: 1,
		oidctest.EndpointIntrospection: 1, oidctest.EndpointRevocation: 1, oidctest.EndpointEndSession: 1,
		oidctest.EndpointRegistration: 1,
	}
	for e, n := range want {
		require.Equal(t, n, f.op.Requests(e), e)
	}
	require.Zero(t, f.op.Requests("bogus"))
	f.op.ResetCounts()
	require.Zero(t, f.op.Requests(oidctest.EndpointToken))
}

// TestNewHandler mounts the provider on the test's own server, at the root
// and below a path, with and without http.StripPrefix.
func TestNewHandler(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		strip        bool
	}{
		{"root", "", false},
		{"below a path", "/oidc", false},
		{"below a path, stripped", "/oidc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			ts := httptest.NewServer(mux)
			defer ts.Close()
			op := oidctest.NewHandler(ts.URL+tc.prefix+"/", oidctest.WithSigningAlgorithm("ES256"))
			defer op.Close()
			require.Equal(t, ts.URL+tc.prefix, op.URL, "no trailing slash")
			var h http.Handler = op
			if tc.strip {
				h = http.StripPrefix(tc.prefix, op)
			}
			mux.Handle(tc.prefix+"/", h)
			op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}})
			op.AutoLogin("alice")

			provider, err := oidc.NewProvider(t.Context(), op.URL)
			require.NoError(t, err)
			f := &fixture{op: op, provider: provider, verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
				cfg:     &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI, Scopes: []string{"openid"}},
				browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
			}
			idt, err := f.verifier.Verify(t.Context(), idToken(t, f.login(t)))
			require.NoError(t, err)
			require.Equal(t, "alice", idt.Subject)
			require.Equal(t, op.URL, idt.Issuer)
		})
	}
}

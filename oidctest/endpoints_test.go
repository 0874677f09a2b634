package oidctest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
		"token_endpoint_auth_methods_supported":          []any{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"introspection_endpoint_auth_methods_supported":  []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "bearer"},
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

func TestWithoutEndSession(t *testing.T) {
	f := newFixture(t, oidctest.WithoutEndSession())
	require.NotContains(t, get(t, f.op.URL+"/.well-known/openid-configuration").json, "end_session_endpoint")
	require.Equal(t, http.StatusNotFound, get(t, f.op.URL+"/end_session").status)
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
		{name: "client_id differs from basic", form: func(t *testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {"other"}}
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

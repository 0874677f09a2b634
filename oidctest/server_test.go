package oidctest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

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

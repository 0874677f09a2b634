package oidctest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

const (
	clientID      = "app"
	clientSecret  = "app-secret"
	redirectURI   = "https://rp.example.com/callback"
	postLogoutURI = "https://rp.example.com/logged-out"
)

func testUsers() []oidctest.User {
	return []oidctest.User{
		{Subject: "alice", Claims: map[string]any{
			"email": "alice@example.com", "email_verified": true,
			"name": "Alice Liddell", "preferred_username": "al",
			"groups": []string{"admins", "staff"}, "roles": []string{"editor"},
			"iss": "https://must-not-override.example.com",
		}},
		{Subject: "bob", Claims: map[string]any{"email": "Bob@Example.com", "name": "Bob"}},
	}
}

// fixture is a running provider with one client and two users, plus the
// go-oidc and oauth2 client side pointed at it.
type fixture struct {
	op       *oidctest.Server
	cfg      *oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	// browser does not follow redirects, so tests can look at each hop.
	browser *http.Client
}

func newFixture(t *testing.T, opts ...oidctest.Option) *fixture {
	t.Helper()
	op := oidctest.NewServer(opts...)
	t.Cleanup(op.Close)
	for _, u := range testUsers() {
		op.AddUser(u)
	}
	op.AddClient(oidctest.Client{
		ID:                     clientID,
		Secret:                 clientSecret,
		RedirectURIs:           []string{redirectURI},
		PostLogoutRedirectURIs: []string{postLogoutURI},
	})
	op.AutoLogin("alice")
	provider, err := oidc.NewProvider(t.Context(), op.URL)
	require.NoError(t, err)
	return &fixture{
		op:       op,
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		cfg: &oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirectURI,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile", "groups"},
		},
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// authorize sends the browser to the authorization endpoint and returns the
// query of the redirect back to the client.
func (f *fixture) authorize(t *testing.T, opts ...oauth2.AuthCodeOption) url.Values {
	t.Helper()
	return f.authorizeURL(t, f.cfg.AuthCodeURL("state-123", opts...))
}

func (f *fixture) authorizeURL(t *testing.T, u string) url.Values {
	t.Helper()
	resp, err := f.browser.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	return loc.Query()
}

// login runs a complete PKCE + nonce code flow and returns the token
// response.
func (f *fixture) login(t *testing.T) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-123"))
	require.NotEmpty(t, q.Get("code"), "authorization error: %s %s", q.Get("error"), q.Get("error_description"))
	tok, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	return tok
}

func idToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	require.True(t, ok, "no id_token in the token response")
	return raw
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(b, &r.json), "body: %s", b)
	}
	return r
}

// postForm posts form to u, with HTTP Basic credentials when user is set.
func postForm(t *testing.T, u string, form url.Values, user, pass string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return do(t, req)
}

func get(t *testing.T, u string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

// requireOAuthError checks an RFC 6749 §5.2 error response.
func requireOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, code, r.json["error"], "body: %s", r.body)
	require.NotEmpty(t, r.json["error_description"])
}

func (f *fixture) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	r := postForm(t, f.op.URL+"/introspect", url.Values{"token": {token}}, clientID, clientSecret)
	require.Equal(t, http.StatusOK, r.status, r.body)
	return r.json
}

// decodeJWT returns a JWT's header and claims without verifying anything.
func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "not a compact JWS: %q", raw)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}

// fetchJWKS reads the provider's published keys.
func fetchJWKS(t *testing.T, op *oidctest.Server) jose.JSONWebKeySet {
	t.Helper()
	r := get(t, op.URL+"/jwks")
	require.Equal(t, http.StatusOK, r.status, r.body)
	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal([]byte(r.body), &set))
	return set
}

// verifyWithJWKS checks a JWT's signature against the published keys and
// returns its payload.
func verifyWithJWKS(t *testing.T, op *oidctest.Server, raw string, alg jose.SignatureAlgorithm) ([]byte, error) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, k := range fetchJWKS(t, op).Keys {
		payload, err := jws.Verify(k)
		if err == nil {
			return payload, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

package testenv_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

// app is a relying party's loopback side: the redirect_uri, the
// post-logout page and the back-channel logout endpoint.
type app struct {
	*httptest.Server
	logoutTokens chan string
}

func startApp(t *testing.T) *app {
	t.Helper()
	a := &app{logoutTokens: make(chan string, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<p id="callback">signed in</p>`))
	})
	mux.HandleFunc("GET /bye", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("bye"))
	})
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		a.logoutTokens <- r.PostFormValue("logout_token")
	})
	a.Server = httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(a.Close)
	return a
}

// rp is everything a test relying party needs for one client.
type rp struct {
	p        *testenv.Provider
	op       *oidc.Provider
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client // a plain http.Client with cookies, as a browser
	// issParam: the provider sends RFC 9207 iss with the code; Hydra and
	// zitadel do not.
	issParam bool
}

func newRP(t *testing.T, ctx context.Context, p *testenv.Provider, a *app, client testenv.Client, scopes ...string) *rp {
	t.Helper()
	op, err := oidc.NewProvider(ctx, p.Issuer)
	require.NoError(t, err)
	endpoint := op.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if client.AuthMethod == testenv.ClientSecretPost {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &rp{
		p:  p,
		op: op,
		oauth: &oauth2.Config{
			ClientID: client.ID, ClientSecret: client.Secret, Endpoint: endpoint,
			RedirectURL: a.URL + "/cb", Scopes: append([]string{oidc.ScopeOpenID}, scopes...),
		},
		verifier: op.Verifier(&oidc.Config{ClientID: client.ID}),
		browser:  &http.Client{Jar: jar, Timeout: 10 * time.Second},
		issParam: true,
	}
}

// login runs an authorization-code flow with PKCE and returns the tokens
// and the verified ID token.
func (r *rp) login(t *testing.T, ctx context.Context, user string, authParams, tokenParams url.Values) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)}
	for k := range authParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, authParams.Get(k)))
	}
	resp, err := r.p.Login(ctx, r.browser, r.oauth.AuthCodeURL(state, opts...), user, user+"-password")
	require.NoError(t, err)
	resp.Body.Close()
	q := resp.Request.URL.Query()
	require.Equal(t, "/cb", resp.Request.URL.Path)
	require.Equal(t, state, q.Get("state"))
	if r.issParam {
		require.Equal(t, r.p.Issuer, q.Get("iss"), "RFC 9207 iss on the authorization response")
	}
	require.NotEmpty(t, q.Get("code"))

	exOpts := []oauth2.AuthCodeOption{oauth2.VerifierOption(pkce)}
	for k := range tokenParams {
		exOpts = append(exOpts, oauth2.SetAuthURLParam(k, tokenParams.Get(k)))
	}
	tok, err := r.oauth.Exchange(ctx, q.Get("code"), exOpts...)
	require.NoError(t, err)
	raw, ok := tok.Extra("id_token").(string)
	require.True(t, ok, "no id_token in the token response")
	idt, err := r.verifier.Verify(ctx, raw)
	require.NoError(t, err)
	require.Equal(t, nonce, idt.Nonce)
	require.Equal(t, user, idt.Subject)
	return tok, idt
}

// endpointPost POSTs a form to a provider endpoint with client_secret_basic.
func (r *rp) endpointPost(t *testing.T, ctx context.Context, endpoint string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.oauth.ClientID), url.QueryEscape(r.oauth.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	if resp.ContentLength != 0 {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	}
	return out
}

func (r *rp) discovered(t *testing.T, name string) string {
	t.Helper()
	var meta map[string]any
	require.NoError(t, r.op.Claims(&meta))
	s, _ := meta[name].(string)
	require.NotEmpty(t, s, "discovery has no %s", name)
	return s
}

// requireAliceUserInfo wants the userinfo endpoint to give alice's whole
// profile for tok.
func (r *rp) requireAliceUserInfo(t *testing.T, ctx context.Context, tok *oauth2.Token) {
	t.Helper()
	info, err := r.op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	var claims struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	require.NoError(t, info.Claims(&claims))
	require.Equal(t, "alice", info.Subject)
	require.Equal(t, "alice@example.com", info.Email)
	require.True(t, info.EmailVerified)
	require.Equal(t, "Alice Example", claims.Name)
	require.Equal(t, []string{"admins", "staff"}, claims.Groups)
}

// logoutURL is the end_session_endpoint request (RP-Initiated Logout 1.0
// §2) for tok's session, back to a's /bye with state "after-logout".
func (r *rp) logoutURL(t *testing.T, tok *oauth2.Token, a *app) string {
	t.Helper()
	end, err := url.Parse(r.discovered(t, "end_session_endpoint"))
	require.NoError(t, err)
	end.RawQuery = url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {a.URL + "/bye"},
		"state":                    {"after-logout"},
	}.Encode()
	return end.String()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProviderCodeFlowRefreshIntrospectRevoke(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "web", RedirectURIs: []string{a.URL + "/cb"}}},
		// Below oauth2's 10 s expiry margin, so every Token() call refreshes.
		AccessTokenTTL: 5 * time.Second,
	})
	r := newRP(t, ctx, p, a, p.Client(t, "web"), "email", "profile", "groups", oidc.ScopeOfflineAccess)

	tok, idt := r.login(t, ctx, "alice", url.Values{"prompt": {"consent"}}, nil)
	require.NotEmpty(t, tok.RefreshToken, "offline_access with prompt=consent")
	require.Len(t, strings.Split(tok.AccessToken, "."), 1, "without a resource the access token is opaque")
	require.WithinDuration(t, time.Now().Add(5*time.Second), tok.Expiry, 3*time.Second)
	var idClaims map[string]any
	require.NoError(t, idt.Claims(&idClaims))
	require.NotContains(t, idClaims, "email", "conform ID token: scope claims come from userinfo")
	require.NotContains(t, idClaims, "sid", "sid only for clients with back-channel logout")

	r.requireAliceUserInfo(t, ctx, tok)

	refreshed, err := r.oauth.TokenSource(ctx, tok).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	rawID, ok := refreshed.Extra("id_token").(string)
	require.True(t, ok, "a refresh returns a new ID token")
	_, err = r.verifier.Verify(ctx, rawID)
	require.NoError(t, err)

	introspect := r.discovered(t, "introspection_endpoint")
	got := r.endpointPost(t, ctx, introspect, url.Values{"token": {refreshed.AccessToken}})
	require.Equal(t, true, got["active"])
	require.Equal(t, "alice", got["sub"])
	require.Equal(t, "web", got["client_id"])
	r.endpointPost(t, ctx, r.discovered(t, "revocation_endpoint"), url.Values{"token": {refreshed.AccessToken}})
	got = r.endpointPost(t, ctx, introspect, url.Values{"token": {refreshed.AccessToken}})
	require.Equal(t, false, got["active"])
}

func TestProviderOfflineAccessNeedsPromptConsent(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "web", RedirectURIs: []string{a.URL + "/cb"}}},
	})
	r := newRP(t, ctx, p, a, p.Client(t, "web"), oidc.ScopeOfflineAccess)
	tok, _ := r.login(t, ctx, "bob", nil, nil)
	require.Empty(t, tok.RefreshToken, "OpenID Connect Core 11: offline_access is dropped without prompt=consent")
}

func TestProviderClientSecretPostAndIDTokenClaims(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "post", RedirectURIs: []string{a.URL + "/cb"},
			AuthMethod: testenv.ClientSecretPost}},
		IDTokenClaims: true,
	})
	r := newRP(t, ctx, p, a, p.Client(t, "post"), "email", "groups")
	_, idt := r.login(t, ctx, "bob", nil, nil)
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Groups        []string `json:"groups"`
	}
	require.NoError(t, idt.Claims(&claims))
	require.Equal(t, "bob@example.com", claims.Email)
	require.False(t, claims.EmailVerified)
	require.Equal(t, []string{"staff"}, claims.Groups)
}

func TestProviderResourceIndicatorJWTAccessToken(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	api := a.URL + "/api"
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients:   []testenv.Client{{ID: "web", RedirectURIs: []string{a.URL + "/cb"}}},
		Resources: []testenv.Resource{{Indicator: api, Scopes: []string{"api:read", "api:write"}}},
	})
	r := newRP(t, ctx, p, a, p.Client(t, "web"), "email", "api:read")
	resource := url.Values{"resource": {api}}
	tok, _ := r.login(t, ctx, "alice", resource, resource)

	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[0])
	require.NoError(t, err)
	require.JSONEq(t, `"at+jwt"`, mustField(t, header, "typ"))
	payload, err := oidc.NewRemoteKeySet(ctx, r.discovered(t, "jwks_uri")).VerifySignature(ctx, tok.AccessToken)
	require.NoError(t, err)
	var at struct {
		Iss      string `json:"iss"`
		Sub      string `json:"sub"`
		Aud      string `json:"aud"`
		Scope    string `json:"scope"`
		ClientID string `json:"client_id"`
		Exp      int64  `json:"exp"`
	}
	require.NoError(t, json.Unmarshal(payload, &at))
	require.Equal(t, p.Issuer, at.Iss)
	require.Equal(t, "alice", at.Sub)
	require.Equal(t, api, at.Aud)
	require.Equal(t, "api:read", at.Scope, "only the requested resource scopes")
	require.Equal(t, "web", at.ClientID)
	require.Greater(t, at.Exp, time.Now().Unix())

	// The same grant still yields an opaque token for userinfo when the
	// token request names no resource.
	tok2, _ := r.login(t, ctx, "alice", resource, nil)
	require.Len(t, strings.Split(tok2.AccessToken, "."), 1)
	_, err = r.op.UserInfo(ctx, oauth2.StaticTokenSource(tok2))
	require.NoError(t, err)
}

func mustField(t *testing.T, object []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(object, &m))
	return string(m[name])
}

func TestProviderRPInitiatedAndBackchannelLogout(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "web", RedirectURIs: []string{a.URL + "/cb"},
			PostLogoutRedirectURIs: []string{a.URL + "/bye"}, BackchannelLogoutURI: a.URL + "/backchannel"}},
	})
	r := newRP(t, ctx, p, a, p.Client(t, "web"))
	tok, idt := r.login(t, ctx, "alice", nil, nil)
	var sid struct {
		SID string `json:"sid"`
	}
	require.NoError(t, idt.Claims(&sid))
	require.NotEmpty(t, sid.SID)

	resp, err := p.ConfirmLogout(ctx, r.browser, r.logoutURL(t, tok, a))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, a.URL+"/bye?state=after-logout", resp.Request.URL.String())

	select {
	case raw := <-a.logoutTokens:
		lt, err := r.verifier.VerifyLogout(ctx, raw)
		require.NoError(t, err)
		require.Equal(t, "alice", lt.Subject)
		require.Equal(t, sid.SID, lt.SessionID)
	case <-ctx.Done():
		t.Fatal("no back-channel logout token")
	}

	// The provider session is gone: the next login asks for the password again.
	_, err = p.Login(ctx, r.browser, r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		"alice", "wrong")
	require.ErrorContains(t, err, "login rejected")
}

func TestProviderDynamicRegistration(t *testing.T) {
	ctx := testContext(t)
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{})
	op, err := oidc.NewProvider(ctx, p.Issuer)
	require.NoError(t, err)
	var meta struct {
		Registration string `json:"registration_endpoint"`
	}
	require.NoError(t, op.Claims(&meta))

	body, err := json.Marshal(map[string]any{
		"redirect_uris":              []string{a.URL + "/cb"},
		"token_endpoint_auth_method": "client_secret_post",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
	})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.Registration, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	require.NotEmpty(t, reg.ClientID)
	require.NotEmpty(t, reg.ClientSecret)

	r := newRP(t, ctx, p, a, testenv.Client{ID: reg.ClientID, Secret: reg.ClientSecret,
		AuthMethod: testenv.ClientSecretPost}, "email")
	r.login(t, ctx, "bob", nil, nil)
}

func TestProviderLoginWithoutFollowingRedirects(t *testing.T) {
	ctx := testContext(t)
	// No server behind the redirect_uri: the code is read off the redirect.
	redirect := "http://127.0.0.1:9/cb"
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "web", RedirectURIs: []string{redirect}}},
	})
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	op, err := oidc.NewProvider(ctx, p.Issuer)
	require.NoError(t, err)
	cfg := &oauth2.Config{ClientID: "web", RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID},
		Endpoint: op.Endpoint()}
	resp, err := p.Login(ctx, browser, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		"alice", "alice-password")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), redirect+"?code="), loc.String())
}

package oidctest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

func requireRetrieveError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, status, re.Response.StatusCode, "body: %s", re.Body)
	require.Equal(t, code, re.ErrorCode, "body: %s", re.Body)
}

// TestCodeFlowEndToEnd drives the whole life of a login with the client
// libraries the core package uses: PKCE code flow, ID token and userinfo
// verification, replay protection, refresh rotation, introspection,
// revocation, RP-initiated logout and back-channel logout.
func TestCodeFlowEndToEnd(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	logoutTokens := make(chan string, 1)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logoutTokens <- r.PostFormValue("logout_token")
	}))
	defer rp.Close()
	f.op.AddClient(oidctest.Client{
		ID: clientID, Secret: clientSecret,
		RedirectURIs:           []string{redirectURI},
		PostLogoutRedirectURIs: []string{postLogoutURI},
		BackchannelLogoutURI:   rp.URL,
	})

	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-123"))
	require.Equal(t, "state-123", q.Get("state"))
	require.Equal(t, f.op.URL, q.Get("iss"), "RFC 9207 iss parameter")
	code := q.Get("code")
	tok, err := f.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	require.Equal(t, "Bearer", tok.TokenType)
	require.NotEmpty(t, tok.RefreshToken)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)

	rawID := idToken(t, tok)
	idt, err := f.verifier.Verify(ctx, rawID)
	require.NoError(t, err)
	require.Equal(t, f.op.URL, idt.Issuer)
	require.Equal(t, "alice", idt.Subject)
	require.Equal(t, "nonce-123", idt.Nonce)
	require.NoError(t, idt.VerifyAccessToken(tok.AccessToken), "at_hash")
	var claims struct {
		Email             string   `json:"email"`
		EmailVerified     bool     `json:"email_verified"`
		Name              string   `json:"name"`
		PreferredUsername string   `json:"preferred_username"`
		Groups            []string `json:"groups"`
		Roles             []string `json:"roles"`
		AZP               string   `json:"azp"`
		SID               string   `json:"sid"`
		AuthTime          int64    `json:"auth_time"`
	}
	require.NoError(t, idt.Claims(&claims))
	require.Equal(t, "alice@example.com", claims.Email)
	require.True(t, claims.EmailVerified)
	require.Equal(t, "Alice Liddell", claims.Name)
	require.Equal(t, "al", claims.PreferredUsername)
	require.Equal(t, []string{"admins", "staff"}, claims.Groups)
	require.Equal(t, []string{"editor"}, claims.Roles)
	require.Equal(t, clientID, claims.AZP)
	require.NotEmpty(t, claims.SID)
	require.InDelta(t, time.Now().Unix(), claims.AuthTime, 60)
	header, _ := decodeJWT(t, rawID)
	require.Equal(t, fetchJWKS(t, f.op).Keys[0].KeyID, header["kid"])
	require.Equal(t, "JWT", header["typ"])

	ui, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, "alice", ui.Subject)
	require.Equal(t, "alice@example.com", ui.Email)

	in := f.introspect(t, tok.AccessToken)
	require.Equal(t, true, in["active"])
	require.Equal(t, "alice", in["sub"])
	require.Equal(t, clientID, in["client_id"])
	require.Equal(t, "openid email profile groups", in["scope"])
	require.Equal(t, "Bearer", in["token_type"])
	require.Equal(t, f.op.URL, in["iss"])

	_, err = f.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	requireRetrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := f.cfg.TokenSource(ctx, &stale).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	require.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken, "refresh tokens rotate")
	idt2, err := f.verifier.Verify(ctx, idToken(t, refreshed))
	require.NoError(t, err)
	require.Empty(t, idt2.Nonce, "no nonce after refresh")
	var claims2 struct {
		SID      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
	}
	require.NoError(t, idt2.Claims(&claims2))
	require.Equal(t, claims.SID, claims2.SID)
	require.Equal(t, claims.AuthTime, claims2.AuthTime)
	require.NoError(t, idt2.VerifyAccessToken(refreshed.AccessToken))
	_, err = f.cfg.TokenSource(ctx, &stale).Token()
	requireRetrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	r := postForm(t, f.op.URL+"/revoke", url.Values{"token": {refreshed.AccessToken}}, clientID, clientSecret)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, refreshed.AccessToken))
	_, err = f.provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed))
	require.Error(t, err)

	logout := f.op.URL + "/end_session?" + url.Values{
		"id_token_hint":            {rawID},
		"post_logout_redirect_uri": {postLogoutURI},
		"state":                    {"bye"},
	}.Encode()
	resp, err := f.browser.Get(logout)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, postLogoutURI+"?state=bye", resp.Header.Get("Location"))
	select {
	case raw := <-logoutTokens:
		lt, err := f.verifier.VerifyLogout(ctx, raw)
		require.NoError(t, err)
		require.Equal(t, "alice", lt.Subject)
		require.Equal(t, claims.SID, lt.SessionID)
	default:
		t.Fatal("no back-channel logout token was posted before the redirect")
	}
}

// relyingParty is a minimal web application using oauth2 and go-oidc, so
// that a browser-like client can log in through real redirects.
func relyingParty(t *testing.T, op *oidctest.Server) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	rp := httptest.NewServer(mux)
	t.Cleanup(rp.Close)
	op.AddClient(oidctest.Client{ID: "web", Secret: "web-secret", RedirectURIs: []string{rp.URL + "/callback"}})
	provider, err := oidc.NewProvider(t.Context(), op.URL)
	require.NoError(t, err)
	cfg := oauth2.Config{
		ClientID: "web", ClientSecret: "web-secret", Endpoint: provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "email"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "web"})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		state := oauth2.GenerateVerifier()
		http.SetCookie(w, &http.Cookie{Name: "state", Value: state, Path: "/"})
		http.Redirect(w, r, cfg.AuthCodeURL(state), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("state")
		if err != nil || c.Value != r.URL.Query().Get("state") {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		if e := r.URL.Query().Get("error"); e != "" {
			http.Error(w, "login failed: "+e, http.StatusForbidden)
			return
		}
		tok, err := cfg.Exchange(r.Context(), r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s", idt.Subject)
	})
	return rp
}

func browserWithJar(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	requestID  = regexp.MustCompile(`<input type="hidden" name="request_id" value="([^"]+)">`)
)

// TestLoginPage logs in through the HTML form the way a browser would.
func TestLoginPage(t *testing.T) {
	tests := []struct {
		name     string
		username string
		action   string
		want     string // body of the final page
	}{
		{name: "subject", username: "alice", want: "hello alice"},
		{name: "preferred_username", username: "al", want: "hello alice"},
		{name: "email, any case", username: "bob@example.com", want: "hello bob"},
		{name: "deny", username: "", action: "deny", want: "login failed: access_denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := oidctest.NewServer()
			defer op.Close()
			for _, u := range testUsers() {
				op.AddUser(u)
			}
			rp := relyingParty(t, op)
			browser := browserWithJar(t)

			page := getPage(t, browser, rp.URL)
			require.Contains(t, page, `<input id="username" name="username"`)
			require.Contains(t, page, `<button type="submit" name="action" value="login">Sign in</button>`)
			action := formAction.FindStringSubmatch(page)
			id := requestID.FindStringSubmatch(page)
			require.NotNil(t, action, page)
			require.NotNil(t, id, page)
			require.Equal(t, op.URL+"/login", action[1])

			form := url.Values{"request_id": {id[1]}, "username": {tc.username}}
			if tc.action != "" {
				form.Set("action", tc.action)
			}
			resp, err := browser.PostForm(action[1], form)
			require.NoError(t, err)
			defer resp.Body.Close()
			body := readBody(t, resp)
			require.Contains(t, body, tc.want)
		})
	}
}

func TestLoginPageErrors(t *testing.T) {
	op := oidctest.NewServer()
	defer op.Close()
	op.AddUser(oidctest.User{Subject: "alice"})
	rp := relyingParty(t, op)
	browser := browserWithJar(t)
	page := getPage(t, browser, rp.URL)
	id := requestID.FindStringSubmatch(page)[1]

	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"unknown user", url.Values{"request_id": {id}, "username": {"mallory<script>"}}, http.StatusOK, "Unknown user mallory&lt;script&gt;."},
		{"empty username", url.Values{"request_id": {id}}, http.StatusOK, "Enter a username."},
		{"unknown request", url.Values{"request_id": {"nope"}, "username": {"alice"}}, http.StatusBadRequest, "unknown or has expired"},
		{"no request", url.Values{"username": {"alice"}}, http.StatusBadRequest, "unknown or has expired"},
		{"deny unknown request", url.Values{"request_id": {"nope"}, "action": {"deny"}}, http.StatusBadRequest, "unknown or has expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := browser.PostForm(op.URL+"/login", tc.form)
			require.NoError(t, err)
			defer resp.Body.Close()
			body := readBody(t, resp)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.want)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		})
	}
	t.Run("the re-rendered form still works", func(t *testing.T) {
		resp, err := browser.PostForm(op.URL+"/login", url.Values{"request_id": {id}, "username": {"alice"}})
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Contains(t, readBody(t, resp), "hello alice")
	})
	t.Run("a used request cannot be replayed", func(t *testing.T) {
		resp, err := browser.PostForm(op.URL+"/login", url.Values{"request_id": {id}, "username": {"alice"}})
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("expired request", func(t *testing.T) {
		page := getPage(t, browser, rp.URL)
		id := requestID.FindStringSubmatch(page)[1]
		op.Advance(11 * time.Minute)
		resp, err := browser.PostForm(op.URL+"/login", url.Values{"request_id": {id}, "username": {"alice"}})
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("GET", func(t *testing.T) {
		r := get(t, op.URL+"/login")
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
	})
}

func getPage(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	return body
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestAutoLoginFollowsRedirects is the flow the Example shows, as a test:
// a plain http.Client with a cookie jar ends up on the application.
func TestAutoLoginFollowsRedirects(t *testing.T) {
	op := oidctest.NewServer()
	defer op.Close()
	op.AutoLogin("carol")
	rp := relyingParty(t, op)
	require.Equal(t, "hello carol", getPage(t, browserWithJar(t), rp.URL))

	op.AutoLogin("")
	require.Contains(t, getPage(t, browserWithJar(t), rp.URL), "<form", "AutoLogin(\"\") restores the login page")
}

func TestPlainPKCE(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t,
		oauth2.SetAuthURLParam("code_challenge", verifier),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	_, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)

	// Without a method, RFC 7636 §4.3 defaults to plain.
	q = f.authorize(t, oauth2.SetAuthURLParam("code_challenge", verifier))
	_, err = f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
}

func TestCodeGrantChecks(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name string
		// pkce adds a S256 challenge to the authorization request.
		pkce     bool
		exchange func(t *testing.T, code string) error
	}{
		{"missing verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code)
			return err
		}},
		{"wrong verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}},
		{"malformed verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption("short"))
			return err
		}},
		{"verifier without challenge", false, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			return err
		}},
		{"other client", false, func(t *testing.T, code string) error {
			other := *f.cfg
			other.ClientID, other.ClientSecret = "other", "other-secret"
			_, err := other.Exchange(t.Context(), code)
			return err
		}},
		{"other redirect_uri", false, func(t *testing.T, code string) error {
			other := *f.cfg
			other.RedirectURL = redirectURI + "/x"
			_, err := other.Exchange(t.Context(), code)
			return err
		}},
		{"expired", false, func(t *testing.T, code string) error {
			f.op.Advance(61 * time.Second)
			_, err := f.cfg.Exchange(t.Context(), code)
			return err
		}},
		{"unknown", false, func(t *testing.T, _ string) error {
			_, err := f.cfg.Exchange(t.Context(), "no-such-code")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q url.Values
			if tc.pkce {
				q = f.authorize(t, oauth2.S256ChallengeOption(verifier))
			} else {
				q = f.authorize(t)
			}
			requireRetrieveError(t, tc.exchange(t, q.Get("code")), http.StatusBadRequest, "invalid_grant")
			// A presented code is spent even when the exchange failed.
			_, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			requireRetrieveError(t, err, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestRefreshGrant(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
	refresh := func(t *testing.T, id, secret, rt string, extra url.Values) response {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, v := range extra {
			form[k] = v
		}
		return postForm(t, f.op.URL+"/token", form, id, secret)
	}

	t.Run("another client's token", func(t *testing.T) {
		tok := f.login(t)
		requireOAuthError(t, refresh(t, "other", "other-secret", tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
		// The attempt did not spend the owner's token.
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
	})
	t.Run("narrower scope", func(t *testing.T) {
		tok := f.login(t)
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"scope": {"openid email"}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, "openid email", r.json["scope"])
		_, claims := decodeJWT(t, r.json["id_token"].(string))
		require.Equal(t, "alice@example.com", claims["email"])
		require.NotContains(t, claims, "name", "profile was not requested")
		// The new refresh token keeps the original grant.
		r = refresh(t, clientID, clientSecret, r.json["refresh_token"].(string), nil)
		require.Equal(t, "openid email profile groups", r.json["scope"])
	})
	t.Run("wider scope", func(t *testing.T) {
		tok := f.login(t)
		requireOAuthError(t, refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"scope": {"openid admin"}}), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("missing", func(t *testing.T) {
		requireOAuthError(t, refresh(t, clientID, clientSecret, "", nil), http.StatusBadRequest, "invalid_request")
	})
	t.Run("revoked with its access tokens", func(t *testing.T) {
		tok := f.login(t)
		f.op.Revoke(tok.RefreshToken)
		requireOAuthError(t, refresh(t, clientID, clientSecret, tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
		require.Equal(t, false, f.introspect(t, tok.AccessToken)["active"], "RFC 7009 §2.1: access tokens of the grant go too")
	})
	t.Run("resource makes a JWT", func(t *testing.T) {
		tok := f.login(t)
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"resource": {"https://api.example.com"}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		header, claims := decodeJWT(t, r.json["access_token"].(string))
		require.Equal(t, "at+jwt", header["typ"])
		require.Equal(t, "https://api.example.com", claims["aud"])
	})
}

func TestClientCredentials(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "svc", Secret: "svc-secret", Scopes: []string{"read", "write"}})
	grant := func(t *testing.T, scope string) response {
		return postForm(t, f.op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "svc", "svc-secret")
	}
	r := grant(t, "read")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "Bearer", r.json["token_type"])
	require.Equal(t, "read", r.json["scope"])
	require.NotContains(t, r.json, "id_token")
	require.NotContains(t, r.json, "refresh_token")
	in := f.introspect(t, r.json["access_token"].(string))
	require.Equal(t, true, in["active"])
	require.Equal(t, "svc", in["sub"])
	require.Equal(t, "svc", in["client_id"])

	requireOAuthError(t, grant(t, "read admin"), http.StatusBadRequest, "invalid_scope")

	r = postForm(t, f.op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://api.example.com/"}}, "svc", "svc-secret")
	require.Equal(t, http.StatusOK, r.status, r.body)
	header, claims := decodeJWT(t, r.json["access_token"].(string))
	require.Equal(t, "at+jwt", header["typ"])
	require.Equal(t, "svc", claims["sub"])
	require.Equal(t, "https://api.example.com/", claims["aud"])
}

// TestSigningAlgorithms checks that go-oidc accepts every supported key
// type, with the algorithms discovery advertises.
func TestSigningAlgorithms(t *testing.T) {
	for _, tc := range []struct{ alg, kty string }{
		{oidc.RS256, "RSA"}, {oidc.ES256, "EC"}, {oidc.EdDSA, "OKP"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			f := newFixture(t, oidctest.WithSigningAlgorithm(tc.alg))
			var meta struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			require.NoError(t, f.provider.Claims(&meta))
			require.Equal(t, []string{tc.alg}, meta.Algs)
			tok := f.login(t)
			v := f.provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{tc.alg}})
			idt, err := v.Verify(t.Context(), idToken(t, tok))
			require.NoError(t, err)
			require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
			keys := fetchJWKS(t, f.op).Keys
			require.Len(t, keys, 1)
			require.Equal(t, tc.alg, keys[0].Algorithm)
			require.Equal(t, "sig", keys[0].Use)
			require.True(t, keys[0].IsPublic())
			require.Contains(t, get(t, f.op.URL+"/jwks").body, `"kty":"`+tc.kty+`"`)

			// Only the advertised algorithm is accepted.
			other := oidc.RS256
			if tc.alg == oidc.RS256 {
				other = oidc.ES256
			}
			_, err = f.provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{other}}).Verify(t.Context(), idToken(t, tok))
			require.Error(t, err)
		})
	}
	t.Run("unsupported", func(t *testing.T) {
		require.PanicsWithValue(t,
			`oidctest: unsupported signing algorithm "HS256" (want RS256, ES256 or EdDSA)`,
			func() { oidctest.NewHandler("http://127.0.0.1:1", oidctest.WithSigningAlgorithm("HS256")) })
	})
}

// TestKeyRotation mirrors rp-key-rotation-op-sign-key: a relying party with
// cached keys must pick up a new kid from the JWKS.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	before := idToken(t, f.login(t))
	_, err := f.verifier.Verify(ctx, before)
	require.NoError(t, err)
	oldKID := fetchJWKS(t, f.op).Keys[0].KeyID

	f.op.RotateKey(true)
	after := idToken(t, f.login(t))
	header, _ := decodeJWT(t, after)
	require.NotEqual(t, oldKID, header["kid"])
	_, err = f.verifier.Verify(ctx, after)
	require.NoError(t, err, "the cached verifier must refetch the JWKS for the new kid")
	_, err = f.verifier.Verify(ctx, before)
	require.NoError(t, err, "the old key is kept")
	require.Len(t, fetchJWKS(t, f.op).Keys, 2)

	f.op.RotateKey(false)
	keys := fetchJWKS(t, f.op).Keys
	require.Len(t, keys, 1)
	// VerifierContext gets its own key cache, unlike Verifier.
	fresh := f.provider.VerifierContext(ctx, &oidc.Config{ClientID: clientID})
	_, err = fresh.Verify(ctx, before)
	require.Error(t, err, "the old key was dropped")
	_, err = fresh.Verify(ctx, idToken(t, f.login(t)))
	require.NoError(t, err)

	// An id_token_hint signed by a dropped key is no longer accepted.
	r := get(t, f.op.URL+"/end_session?"+url.Values{"id_token_hint": {before}}.Encode())
	require.Equal(t, http.StatusBadRequest, r.status)
}

// TestClock checks that Advance drives every iat, exp and expiry check.
func TestClock(t *testing.T) {
	f := newFixture(t, oidctest.WithAccessTokenTTL(10*time.Minute), oidctest.WithIDTokenTTL(5*time.Minute))
	require.WithinDuration(t, time.Now(), f.op.Now(), time.Second)
	f.op.Advance(24 * time.Hour)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), f.op.Now(), time.Second)

	tok := f.login(t)
	rawID := idToken(t, tok)
	_, claims := decodeJWT(t, rawID)
	iat := int64(claims["iat"].(float64))
	require.InDelta(t, f.op.Now().Unix(), iat, 2, "iat uses the server clock")
	require.Equal(t, iat+300, int64(claims["exp"].(float64)))
	require.InDelta(t, 600, time.Until(tok.Expiry).Seconds(), 5, "expires_in is the access token TTL")

	verifier := f.provider.Verifier(&oidc.Config{ClientID: clientID, Now: f.op.Now})
	_, err := verifier.Verify(t.Context(), rawID)
	require.NoError(t, err)

	f.op.Advance(6 * time.Minute)
	_, err = verifier.Verify(t.Context(), rawID)
	var expired *oidc.TokenExpiredError
	require.ErrorAs(t, err, &expired)
	require.Equal(t, true, f.introspect(t, tok.AccessToken)["active"])

	f.op.Advance(5 * time.Minute)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, tok.AccessToken))
	r := get(t, f.op.URL+"/userinfo", "Authorization", "Bearer "+tok.AccessToken)
	requireOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
	// The refresh token outlives its access token.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Second)
	refreshed, err := f.cfg.TokenSource(t.Context(), &stale).Token()
	require.NoError(t, err)
	require.Equal(t, true, f.introspect(t, refreshed.AccessToken)["active"])
}

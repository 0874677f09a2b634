package oidctest_test

import (
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

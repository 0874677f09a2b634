package oidctest_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

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
			var r *http.Request
			select {
			case r = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("no back-channel logout request")
			}
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

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

// loginForm extracts the form's action and hidden request reference from
// the login page, as a browser would submit them.
func loginForm(t *testing.T, page string) (action, requestID string) {
	t.Helper()
	a := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindStringSubmatch(page)
	id := regexp.MustCompile(`<input type="hidden" name="request_id" value="([^"]+)">`).FindStringSubmatch(page)
	require.NotNil(t, a, page)
	require.NotNil(t, id, page)
	return a[1], id[1]
}

// TestLoginPage logs in through the HTML form the way a browser would.
func TestLoginPage(t *testing.T) {
	tests := []struct {
		name     string
		username string
		user     string // a demo user clicked in the list
		action   string
		want     string // body of the final page
	}{
		{name: "subject", username: "alice", want: "hello alice"},
		{name: "demo user clicked", user: "bob", want: "hello bob"},
		{name: "demo user clicked, another typed", username: "alice", user: "bob", want: "hello bob"},
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
			require.Contains(t, page, `<button type="submit" name="user" value="bob" formnovalidate aria-label="Sign in as bob">`)
			action, id := loginForm(t, page)
			require.Equal(t, op.URL+"/login", action)

			form := url.Values{"request_id": {id}, "username": {tc.username}}
			if tc.user != "" {
				form.Set("user", tc.user)
			}
			if tc.action != "" {
				form.Set("action", tc.action)
			}
			resp, err := browser.PostForm(action, form)
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
	_, id := loginForm(t, page)

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
		_, id := loginForm(t, page)
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

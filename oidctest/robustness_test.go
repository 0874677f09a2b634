package oidctest_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// TestBadInput sends malformed requests to every endpoint: each must get a
// 4xx answer in the endpoint's error format, never a 5xx or a dropped
// connection (which is what a recovered handler panic looks like).
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	u := f.op.URL
	huge := strings.Repeat("a", 70<<10)
	noneJWT := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+u+`","aud":"app","sub":"alice"}`)) + "."
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, method, path, contentType, body, auth string
		status                                      int
	}{
		{"token: huge body", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=" + huge, basic("app:app-secret"), 400},
		{"token: bad escape", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=%zz", basic("app:app-secret"), 400},
		{"token: JSON body", "POST", "/token", "application/json", `{"grant_type":"client_credentials"}`, basic("app:app-secret"), 400},
		{"token: garbage basic", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic !!!", 401},
		{"token: bad escape in basic", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", basic("%zz:%zz"), 401},
		{"token: no body", "POST", "/token", "", "", basic("app:app-secret"), 400},
		{"token: binary", "POST", "/token", "application/x-www-form-urlencoded", "\x00\xff\xfe=\x01", basic("app:app-secret"), 400},
		{"token: code of garbage", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=%00%01&redirect_uri=%00", basic("app:app-secret"), 400},
		{"token: refresh garbage", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + huge[:1000], basic("app:app-secret"), 400},
		{"authorize: bad escape", "GET", "/authorize?client_id=%zz&redirect_uri=%zz", "", "", "", 400},
		{"authorize: huge POST", "POST", "/authorize", "application/x-www-form-urlencoded", "client_id=" + huge, "", 400},
		{"authorize: binary client", "GET", "/authorize?client_id=%00%ff&redirect_uri=%00", "", "", "", 400},
		{"login: huge", "POST", "/login", "application/x-www-form-urlencoded", "request_id=" + huge, "", 400},
		{"login: bad escape", "POST", "/login", "application/x-www-form-urlencoded", "request_id=%zz", "", 400},
		{"userinfo: odd header", "GET", "/userinfo", "", "", "Bearer    ", 401},
		{"userinfo: scheme only", "GET", "/userinfo", "", "", "Bearer", 401},
		{"userinfo: DELETE", "DELETE", "/userinfo", "", "", "", 405},
		{"introspect: huge", "POST", "/introspect", "application/x-www-form-urlencoded", "token=" + huge, basic("app:app-secret"), 400},
		{"revoke: bad escape", "POST", "/revoke", "application/x-www-form-urlencoded", "token=%zz", basic("app:app-secret"), 400},
		{"register: huge", "POST", "/register", "application/json", `{"client_name":"` + huge + `"}`, "", 400},
		{"register: array", "POST", "/register", "application/json", `[]`, "", 400},
		{"register: wrong types", "POST", "/register", "application/json", `{"redirect_uris":[1,2]}`, "", 400},
		{"register: truncated", "POST", "/register", "application/json", `{"redirect_uris":["https://a`, "", 400},
		{"end_session: alg none hint", "GET", "/end_session?id_token_hint=" + noneJWT, "", "", "", 400},
		{"end_session: garbage hint", "GET", "/end_session?id_token_hint=a.b.c", "", "", "", 400},
		{"end_session: huge POST", "POST", "/end_session", "application/x-www-form-urlencoded", "state=" + huge, "", 400},
		{"end_session: PUT", "PUT", "/end_session", "", "", "", 405},
		{"jwks: DELETE", "DELETE", "/jwks", "", "", "", 405},
		{"unknown path", "GET", "/admin", "", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, u+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			r := do(t, req)
			require.Equal(t, tc.status, r.status, r.body)
			if r.json != nil {
				require.NotEmpty(t, r.json["error"], r.body)
			}
		})
	}
	// The provider still works after all that.
	_, err := f.verifier.Verify(t.Context(), idToken(t, f.login(t)))
	require.NoError(t, err)
}

// TestConcurrentLogins runs complete flows in parallel while the test
// reconfigures the provider, for the race detector.
func TestConcurrentLogins(t *testing.T) {
	f := newFixture(t)
	const workers = 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Faults that relying parties must accept, so the flows still pass.
			f.op.SetFault(oidctest.FaultMultipleAudiences, i%2 == 0)
			f.op.SetFault(oidctest.FaultNoKIDMultipleKeys, i%3 == 0)
			f.op.AddUser(oidctest.User{Subject: "carol", Claims: map[string]any{"n": i}})
			f.op.AddClient(oidctest.Client{ID: "churn", Secret: "x"})
			f.op.Requests(oidctest.EndpointToken)
			f.op.Now()
			if i == 10 {
				f.op.RotateKey(true)
			}
			time.Sleep(time.Millisecond)
		}
	})
	ctx := t.Context()
	for range workers {
		wg.Go(func() {
			errs <- oneLogin(ctx, f)
		})
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, workers*2, f.op.Requests(oidctest.EndpointToken), "one exchange and one refresh per worker")
}

// oneLogin returns an error instead of failing, as it runs off the test
// goroutine.
func oneLogin(ctx context.Context, f *fixture) error {
	verifier := oauth2.GenerateVerifier()
	resp, err := f.browser.Get(f.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	tok, err := f.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return err
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := f.verifier.Verify(ctx, raw); err != nil {
		return err
	}
	if _, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		return err
	}
	tok.Expiry = time.Now().Add(-time.Second)
	_, err = f.cfg.TokenSource(ctx, tok).Token()
	return err
}

// TestCloseLeavesNothingRunning checks that Close stops every goroutine the
// provider started, including a hanging token request and a back-channel
// logout.
func TestCloseLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	op := oidctest.NewServer()
	op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}})
	op.AutoLogin("alice")
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID},
		Endpoint: oauth2.Endpoint{AuthURL: op.URL + "/authorize", TokenURL: op.URL + "/token"}}
	ctx := oidc.ClientContext(t.Context(), client)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(cfg.AuthCodeURL("s"))
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)

	op.SetFault(oidctest.FaultTokenEndpointHang, true)
	done := make(chan error, 1)
	go func() {
		_, err := cfg.Exchange(ctx, loc.Query().Get("code"))
		done <- err
	}()
	require.Eventually(t, func() bool { return op.Requests(oidctest.EndpointToken) == 1 }, 5*time.Second, 5*time.Millisecond)
	op.Close()
	require.Error(t, <-done)
}

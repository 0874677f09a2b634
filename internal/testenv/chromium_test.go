package testenv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

// browse gives one browser step sequence its own deadline, leaving the
// browser's context alone.
func browse(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestChromiumReadsLocalPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<!DOCTYPE html><title>local</title><p id="msg">hello from loopback</p>`))
	}))
	t.Cleanup(srv.Close)
	ctx := browse(t, testenv.StartChromium(t))

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL)))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("msg")))
	require.NoError(t, err)
	require.Equal(t, "hello from loopback", text)
}

func TestChromiumSignsInAtProvider(t *testing.T) {
	a := startApp(t)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{{ID: "web", RedirectURIs: []string{a.URL + "/cb"}}},
	})
	ctx := browse(t, testenv.StartChromium(t))
	r := newRP(t, testContext(t), p, a, p.Client(t, "web"), "email")
	pkce := oauth2.GenerateVerifier()

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(r.oauth.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(pkce))),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("callback")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	require.Equal(t, "browser-state", u.Query().Get("state"))

	httpCtx := testContext(t)
	tok, err := r.oauth.Exchange(httpCtx, u.Query().Get("code"), oauth2.VerifierOption(pkce))
	require.NoError(t, err)
	info, err := r.op.UserInfo(httpCtx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", info.Email)
	_, err = r.verifier.Verify(httpCtx, tok.Extra("id_token").(string))
	require.NoError(t, err)
}

package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestQuickstartInBrowser walks through the quickstart in headless Chromium
// the way a newcomer does: the anonymous page, the provider's login page,
// a click on a demo user, the welcome page, logout, a refused login and its
// "Log in again" link. It leaves a screenshot of every page in
// testenv.ArtifactsDir (quickstart-*.png), for a person to check that they
// look like one product.
func TestQuickstartInBrowser(t *testing.T) {
	tab := testenv.StartChromium(t)
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	providerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serving, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(serving, appLn, providerLn, &bytes.Buffer{}) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	appURL := "http://" + appLn.Addr().String()
	providerURL := "http://" + providerLn.Addr().String()

	ctx, cancel := context.WithTimeout(tab, time.Minute)
	defer cancel()
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, actions...))
	}
	// click follows a link or submits a form and waits for the page it
	// leads to, through any redirects.
	click := func(selector string) {
		t.Helper()
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
		require.NoError(t, err, "click %s", selector)
	}
	at := func(prefix string) {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(loc, prefix), "the browser is at %s, want %s…", loc, prefix)
	}
	text := func(selector string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
		require.NoError(t, err)
		return strings.TrimSpace(s)
	}
	shot := func(name string) { testenv.Screenshot(t, ctx, "quickstart-"+name+".png") }

	do(chromedp.EmulateViewport(1024, 768), chromedp.Navigate(appURL+"/"))
	require.Equal(t, "Not logged in", text("#welcome"))
	shot("1-anonymous")

	click(`a[href="/login"]`)
	at(providerURL + "/")
	do(chromedp.WaitVisible(chromedp.CSS(`#users`)))
	require.Contains(t, text(`label[for=username]`), "Username")
	shot("2-provider-login")

	click(`button[name=user][value=alice]`)
	at(appURL + "/")
	require.Equal(t, "Welcome Alice Liddell", text("#welcome"))
	require.Contains(t, text("#curl"), appURL+"/api")
	shot("3-welcome")

	click(`a[href^="/logout"]`)
	at(appURL + "/")
	require.Equal(t, "You have been logged out.", text("#notice"))
	require.Equal(t, "Not logged in", text("#welcome"))
	shot("4-logged-out")

	// Refusing at the provider ends on the library's error page, whose
	// link starts the login again.
	click(`a[href="/login"]`)
	at(providerURL + "/")
	click(`button[value=deny]`)
	at(appURL + "/authorize")
	require.Equal(t, "Login refused", text("h1"))
	require.Equal(t, "Log in again", text("#retry"))
	shot("5-error")
	click("#retry")
	at(providerURL + "/")
	do(chromedp.WaitVisible(chromedp.CSS(`#username`)))

	// The provider's own pages, which the quickstart's flow does not show.
	do(chromedp.Navigate(providerURL + "/authorize?client_id=unknown"))
	require.Contains(t, text("#error"), "unknown")
	shot("6-provider-error")
	do(chromedp.Navigate(providerURL + "/end_session"))
	require.Equal(t, "Logged out", text("h1"))
	shot("7-provider-logged-out")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	requestID  = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	curlLine   = regexp.MustCompile(`curl -H 'Authorization: Bearer ([^']+)' (\S+)</pre>`)
)

// TestQuickstart logs in through the embedded provider's HTML login page,
// as a newcomer would, and calls the API with the token the page shows.
func TestQuickstart(t *testing.T) {
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	providerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, appLn, providerLn, &out) }()
	appURL := "http://" + appLn.Addr().String()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	_, page := read(client.Get(appURL + "/"))
	require.Contains(t, page, "Not logged in")

	resp, page := read(client.Get(appURL + "/login"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "Sign in", "the provider's login page")
	action := formAction.FindStringSubmatch(page)
	id := requestID.FindStringSubmatch(page)
	require.NotNil(t, action, page)
	require.NotNil(t, id, page)
	loginURL, err := resp.Request.URL.Parse(html.UnescapeString(action[1]))
	require.NoError(t, err)

	resp, page = read(client.PostForm(loginURL.String(), url.Values{
		"request_id": {html.UnescapeString(id[1])}, "username": {"alice"}, "action": {"login"},
	}))
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.Equal(t, appURL+"/", resp.Request.URL.String())
	require.Contains(t, page, "Welcome Alice Liddell")
	require.Contains(t, page, "<dd>alice@example.com</dd>")

	curl := curlLine.FindStringSubmatch(page)
	require.NotNil(t, curl, page)
	require.Equal(t, appURL+"/api", curl[2])
	req, _ := http.NewRequest(http.MethodGet, curl[2], nil)
	req.Header.Set("Authorization", "Bearer "+curl[1])
	resp, body := read(http.DefaultClient.Do(req))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var api map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &api))
	require.Equal(t, "Welcome alice", api["message"])

	resp, _ = read(http.Get(appURL + "/api"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// The page's own logout link ends with a notice, shown once. Clicking
	// it, the browser says the request comes from the site itself, which a
	// link on another site cannot.
	require.Contains(t, page, `href="/logout?next=/logged-out"`)
	req, _ = http.NewRequest(http.MethodGet, appURL+"/logout?next=/logged-out", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	_, page = read(client.Do(req))
	require.Contains(t, page, "Not logged in")
	require.Contains(t, page, "You have been logged out.")
	_, page = read(client.Get(appURL + "/"))
	require.Contains(t, page, "Not logged in")
	require.NotContains(t, page, "You have been logged out.")
	_, page = read(client.Get(appURL + "/logged-out"))
	require.Contains(t, page, "You have been logged out.", "the notice needs no session")

	cancel()
	require.NoError(t, <-done)
	require.True(t, strings.HasPrefix(out.String(), "httpoidc quickstart: open "+appURL+"/"), out.String())
}

package httpoidc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestSafeRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, target, want string
	}{
		{"", "/page?x=1#top", "/page?x=1#top"},
		{"", "/", "/"},
		{"", "", "/"},
		{"", "page", "/"},
		{"", "../../test", "/"},
		{"", "//evil.example/x", "/"},
		{"", "///evil.example", "/"},
		{"", "/\\evil.example", "/"},
		{"", "/%2F%2Fevil.example", "/"},
		{"", "https://evil.example/", "/"},
		{"", "http://localhost@evil.example/", "/"},
		{"", "javascript:alert(1)", "/"},
		{"", "/a\tb", "/"},
		{"", "/..//evil.com", "/"},
		{"", "/%2e%2e//evil.com", "/"},
		{"", "/a/../..//evil.com", "/"},
		{"/app", "/app/page", "/app/page"},
		{"/app", "/app", "/app"},
		{"/app", "/app?x=1", "/app?x=1"},
		{"/app", "/", "/app/"},
		{"/app", "", "/app/"},
		{"/app", "/other", "/app/"},
		{"/app", "/application", "/app/"},
		{"/app", "/app/../admin", "/app/"},
		{"/app", "/app/%2e%2e/admin", "/app/"},
		{"/app", "//evil.example/app/", "/app/"},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.target, func(t *testing.T) {
			oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, BasePath: tt.base})
			require.NoError(t, err)
			require.Equal(t, tt.want, oc.SafeRedirect(tt.target))
		})
	}
}

// mountedHarness runs the test app under /app/, stripped or not before
// Handler, with the redirect URI registered under /app/.
func mountedHarness(t *testing.T, strip bool) *harness {
	h := startHarness(t)
	redirect := h.app.URL + "/app/authorize"
	h.op.AddClient(oidctest.Client{
		ID: "app", Secret: "app-secret",
		RedirectURIs:           []string{redirect},
		PostLogoutRedirectURIs: []string{h.app.URL + "/app/logout"},
	})
	secrets, err := httpoidc.ParseClientSecrets(h.op.ClientSecrets("app"))
	require.NoError(t, err)
	require.NoError(t, h.start(secrets, func(c *httpoidc.Config) {
		c.ClientSecrets.RedirectURIs = nil
		c.RedirectURL = redirect
		c.BasePath = "/app/"
	}))
	oc := h.oc
	inner := http.NewServeMux()
	inner.Handle("/signin", oc.LoginHandler())
	inner.Handle("/", testApp(oc))
	if strip {
		h.handler.Store(http.HandlerFunc(http.StripPrefix("/app", oc.Handler(inner)).ServeHTTP))
	} else {
		outer := http.NewServeMux()
		outer.Handle("/app/", oc.Handler(http.StripPrefix("/app", inner)))
		h.handler.Store(http.HandlerFunc(outer.ServeHTTP))
	}
	return h
}

func TestBasePathKeepsUsersInsideTheApp(t *testing.T) {
	t.Parallel()
	for _, strip := range []bool{true, false} {
		t.Run(fmt.Sprintf("prefix stripped before Handler: %t", strip), func(t *testing.T) {
			h := mountedHarness(t, strip)

			resp, body := h.get(h.client, "/app/me?x=1", "Accept", "text/html")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, "/app/me?x=1", resp.Request.URL.RequestURI(), "login comes back inside the app")

			resp, err := clickGet(noRedirects(h.client), h.app.URL+"/app/logout")
			require.NoError(t, err)
			resp.Body.Close()
			endSession, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, h.app.URL+"/app/logout", endSession.Query().Get("post_logout_redirect_uri"))
			resp, err = h.client.Get(endSession.String())
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, "/app/", resp.Request.URL.Path, "logout ends at the app's home")

			resp, body = h.get(h.client, "/app/signin?next="+url.QueryEscape("/elsewhere"))
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, "/app/", resp.Request.URL.Path, "a next outside the app is refused")
			require.Equal(t, "Welcome alice@example.com", body)
		})
	}
}

func TestLoginHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/signin", h.oc.LoginHandler())
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)

	authorizations := h.op.Requests(oidctest.EndpointAuthorize)
	resp, body := h.get(h.client, "/signin?next="+url.QueryEscape("/me?tab=2"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "/me?tab=2", resp.Request.URL.RequestURI())
	require.Equal(t, authorizations+1, h.op.Requests(oidctest.EndpointAuthorize))

	// Logged in: straight to next, without the provider.
	resp, err := noRedirects(h.client).Get(h.app.URL + "/signin?next=/me")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/me", resp.Header.Get("Location"))

	resp, err = noRedirects(newBrowser(t)).Get(h.app.URL + "/signin?next=" + url.QueryEscape("//evil.example/"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, resp.Header.Get("Location"), h.op.URL+"/authorize", "an unsafe next still logs in")
	browser := newBrowser(t)
	resp, _ = h.get(browser, "/signin?next="+url.QueryEscape("//evil.example/"))
	require.Equal(t, "/", resp.Request.URL.Path)
	require.Equal(t, h.app.URL, "http://"+resp.Request.URL.Host)

	resp, err = http.Post(h.app.URL+"/signin", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestEndSessionURLForProvidersWithoutOne(t *testing.T) {
	t.Parallel()
	t.Run("none: local logout", func(t *testing.T) {
		h := newHarness(t, nil, oidctest.WithoutEndSession())
		h.login(h.client)
		resp, err := clickGet(noRedirects(h.client), h.app.URL+"/logout?next=/bye")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "/bye", resp.Header.Get("Location"))
		require.False(t, h.loggedIn(h.client))
	})
	t.Run("Auth0 /v2/logout", func(t *testing.T) {
		h := newHarness(t, func(c *httpoidc.Config) {
			c.EndSessionURL = "https://tenant.example.auth0.com/v2/logout"
			c.LogoutParams = map[string]string{"returnTo": "{post_logout_redirect_uri}", "client_id": "{client_id}"}
		}, oidctest.WithoutEndSession())
		h.login(h.client)
		resp, err := clickGet(noRedirects(h.client), h.app.URL+"/logout")
		require.NoError(t, err)
		resp.Body.Close()
		target, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "https://tenant.example.auth0.com/v2/logout", target.Scheme+"://"+target.Host+target.Path)
		require.Equal(t, h.app.URL+"/logout", target.Query().Get("returnTo"))
		require.Equal(t, "app", target.Query().Get("client_id"))
		require.False(t, h.loggedIn(h.client))
	})
	t.Run("bad URL", func(t *testing.T) {
		_, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, EndSessionURL: "/v2/logout"})
		require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
		require.ErrorContains(t, err, "EndSessionURL")
	})
}

func TestRedirectURIMustEndInCallbackPath(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "app", Secret: "s", RedirectURIs: []string{"https://app.example/oidc_callback"}})
	path := filepath.Join(t.TempDir(), "client_secrets.json")
	require.NoError(t, os.WriteFile(path, op.ClientSecrets("app"), 0o600))

	_, err := httpoidc.New(context.Background(), httpoidc.Config{ClientSecretsFile: path})
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	for _, want := range []string{path, "https://app.example/oidc_callback", `"/authorize"`, "OIDC_CALLBACK_PATH=/oidc_callback", "OIDC_OVERWRITE_REDIRECT_URI"} {
		require.ErrorContains(t, err, want)
	}

	for _, cfg := range []httpoidc.Config{
		{ClientSecretsFile: path, CallbackPath: "/oidc_callback"},
		{ClientSecretsFile: path, RedirectURL: "https://app.example/authorize"},
	} {
		_, err = httpoidc.New(context.Background(), cfg)
		require.NoError(t, err)
	}
}

func TestRedirectURIUnderBasePath(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "app", Secret: "s", RedirectURIs: []string{"https://app.example/authorize", "https://app.example/app/authorize"}})
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("app"))
	require.NoError(t, err)

	// The registered URI under BasePath is chosen, not the first one.
	_, err = httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, BasePath: "/app"})
	require.NoError(t, err)
	only := *secrets
	only.RedirectURIs = []string{"https://app.example/authorize"}
	_, err = httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: &only, BasePath: "/app"})
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	require.ErrorContains(t, err, `"/app/authorize"`)
	_, err = httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, BasePath: "/app", RedirectURL: "https://app.example/authorize"})
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	require.ErrorContains(t, err, "not BasePath + CallbackPath")
}

package httpoidc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestRequireLoginRedirectsOnlyNavigations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		name     string
		method   string
		header   map[string]string
		redirect bool
	}{
		{"plain GET", http.MethodGet, nil, true},
		{"browser navigation", http.MethodGet, map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"}, true},
		{"HEAD", http.MethodHead, nil, true},
		{"curl", http.MethodGet, map[string]string{"Accept": "*/*"}, true},
		{"fetch", http.MethodGet, map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{"JSON API", http.MethodGet, map[string]string{"Accept": "application/json"}, false},
		{"XHR", http.MethodGet, map[string]string{"X-Requested-With": "XMLHttpRequest"}, false},
		{"image", http.MethodGet, map[string]string{"Accept": "image/png"}, false},
		{"POST form", http.MethodPost, map[string]string{"Accept": "text/html"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.app.URL+"/login", nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := noRedirects(h.client).Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if tt.redirect {
				require.Equal(t, http.StatusFound, resp.StatusCode)
				require.Contains(t, resp.Header.Get("Location"), h.op.URL+"/authorize?")
				return
			}
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, `Bearer realm="httpoidc"`, resp.Header.Get("WWW-Authenticate"))
			require.Empty(t, resp.Header.Get("Location"))
		})
	}
}

func TestRequireLoginLetsPreflightThrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	req, err := http.NewRequest(http.MethodOptions, h.app.URL+"/login", nil)
	require.NoError(t, err)
	resp, err := noRedirects(h.client).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRequireLoginWithoutHandlerIsAnError(t *testing.T) {
	t.Parallel()
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	rec := httptest.NewRecorder()
	oc.RequireLogin(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestCustomUserType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		newUser func(context.Context, *httpoidc.User) (any, error)
		login   bool
		status  int
		body    string
	}{
		{"built from the login", func(_ context.Context, u *httpoidc.User) (any, error) {
			return &account{ID: u.Subject, Admin: slices.Contains(u.Groups, "admins")}, nil
		}, true, http.StatusOK, "account alice admin=true"},
		{"anonymous", func(_ context.Context, u *httpoidc.User) (any, error) {
			return &account{ID: u.Subject}, nil
		}, false, http.StatusOK, "account  admin=false"},
		{"constructor error", func(context.Context, *httpoidc.User) (any, error) {
			return nil, errors.New("database down")
		}, false, http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.NewUser = tt.newUser })
			if tt.login {
				h.login(h.client)
			}
			resp, body := h.get(h.client, "/account")
			require.Equal(t, tt.status, resp.StatusCode, body)
			if tt.body != "" {
				require.Equal(t, tt.body, body)
			}
		})
	}
}

func TestUserNeverPrintsTokens(t *testing.T) {
	t.Parallel()
	u := &httpoidc.User{Subject: "alice", Email: "a@example.com", AccessToken: "secret-access", RefreshToken: "secret-refresh", IDToken: "secret-id"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "user", u)
	for _, out := range []string{u.String(), fmt.Sprint(u), logs.String()} {
		require.Contains(t, out, "alice")
		require.NotContains(t, out, "secret")
	}
	require.Equal(t, "anonymous", (&httpoidc.User{}).String())
}

func TestUserFromWithoutHandlerIsAnonymous(t *testing.T) {
	t.Parallel()
	u := httpoidc.UserFrom(context.Background())
	require.NotNil(t, u)
	require.False(t, u.LoggedIn())
}

var retryLink = regexp.MustCompile(`<a class="button" id="retry" href="([^"]*)">([^<]*)</a>`)

// TestErrorPagesOfferRetry: every error page a browser sees has one link
// on, back to where the user started, on this site only.
func TestErrorPagesOfferRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		configure func(*httpoidc.Config)
		faults    []oidctest.Fault
		path      string
		status    int
		title     string
		link      string
		text      string
		// follow: the link, followed once the faults are gone, logs in.
		follow bool
	}{
		{"login refused at the provider", nil, []oidctest.Fault{oidctest.FaultAccessDenied}, "/login?from=start", http.StatusForbidden, "Login refused", "/login?from=start", "Log in again", true},
		{"callback without a login under way", nil, nil, "/authorize?code=c&state=s", http.StatusBadRequest, "Login failed", "/", "Log in again", false},
		{"provider down", func(c *httpoidc.Config) { c.LazyDiscovery = true }, []oidctest.Fault{oidctest.FaultDiscoveryDown}, "/login?from=start",
			http.StatusServiceUnavailable, "Login is temporarily unavailable", "/login?from=start", "Try again", false},
		{"refused by Config.Authorize", func(c *httpoidc.Config) {
			c.Authorize = func(context.Context, *httpoidc.User) error { return errors.New("not today") }
		}, nil, "/login?from=start", http.StatusForbidden, "Access denied", "/", "Go to the home page", false},
		{"RequireLogin in testing mode", func(c *httpoidc.Config) { c.Disabled, c.Testing = true, true }, nil, "/login", http.StatusUnauthorized, "Login required", "/login", "Try again", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.configure)
			for _, f := range tt.faults {
				h.op.SetFault(f, true)
			}
			resp, body := h.get(h.client, tt.path)
			require.Equal(t, tt.status, resp.StatusCode, body)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, body, "<h1>"+tt.title+"</h1>")
			link := retryLink.FindStringSubmatch(body)
			require.NotNil(t, link, body)
			require.Equal(t, tt.link, html.UnescapeString(link[1]))
			require.Equal(t, tt.text, link[2])
			if !tt.follow {
				return
			}
			for _, f := range tt.faults {
				h.op.SetFault(f, false)
			}
			resp, body = h.get(h.client, html.UnescapeString(link[1]))
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, h.app.URL+tt.link, resp.Request.URL.String())
			require.Equal(t, "Welcome alice@example.com", body)
		})
	}
}

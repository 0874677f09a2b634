package httpoidc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

func TestRequireLoginRedirectsOnlyNavigations(t *testing.T) {
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
	h := newHarness(t, nil)
	req, err := http.NewRequest(http.MethodOptions, h.app.URL+"/login", nil)
	require.NoError(t, err)
	resp, err := noRedirects(h.client).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRequireLoginWithoutHandlerIsAnError(t *testing.T) {
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	rec := httptest.NewRecorder()
	oc.RequireLogin(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestCustomUserType(t *testing.T) {
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
	u := httpoidc.UserFrom(context.Background())
	require.NotNil(t, u)
	require.False(t, u.LoggedIn())
}

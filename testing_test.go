package httpoidc_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

func TestDisabled(t *testing.T) {
	t.Parallel()
	profile := map[string]any{"sub": "tester", "email": "tester@example.com", "groups": []any{"g1"}}
	tests := []struct {
		name    string
		profile map[string]any
		path    string
		status  int
		body    string
	}{
		{"anonymous home", nil, "/", http.StatusOK, "Not logged in"},
		{"anonymous protected page is 401, not a redirect", nil, "/login", http.StatusUnauthorized, ""},
		{"testing user home", profile, "/", http.StatusOK, "Welcome tester@example.com"},
		{"testing user protected page", profile, "/login", http.StatusOK, "Welcome tester@example.com"},
		{"testing user custom type", profile, "/account", http.StatusOK, "account tester admin=false"},
		{"logout goes home", profile, "/logout", http.StatusFound, ""},
		{"callback goes home", profile, "/authorize?code=x&state=y", http.StatusFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No client secrets and no provider: nothing may be contacted.
			oc, err := httpoidc.New(context.Background(), httpoidc.Config{
				Disabled:       true,
				TestingProfile: tt.profile,
				NewUser: func(_ context.Context, u *httpoidc.User) (any, error) {
					return &account{ID: u.Subject}, nil
				},
			})
			require.NoError(t, err)
			t.Cleanup(oc.Close)
			rec := httptest.NewRecorder()
			oc.Handler(testApp(oc)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.body != "" {
				require.Equal(t, tt.body, rec.Body.String())
			}
		})
	}
}

func TestDisabledProfileIsNotShared(t *testing.T) {
	t.Parallel()
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, TestingProfile: map[string]any{"sub": "t", "email": "t@example.com"}})
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	handler := oc.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		fmt.Fprint(w, u.Profile["email"])
		u.Profile["email"] = "changed@example.com"
	}))
	for range 2 {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		body, _ := io.ReadAll(rec.Body)
		require.Equal(t, "t@example.com", string(body))
	}
}

// TestDisabledOnlyWhereItCannotBeAnAccident: authentication switched off
// next to a real deployment's settings (client secrets, a redirect URL on
// another host) needs Testing as well, and is always logged at error
// level.
func TestDisabledOnlyWhereItCannotBeAnAccident(t *testing.T) {
	secrets := &httpoidc.ClientSecrets{ClientID: "prod", ClientSecret: "prod-secret", Issuer: "https://op.example"}
	file := filepath.Join(t.TempDir(), "client_secrets.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"web":{"client_id":"prod","client_secret":"prod-secret","issuer":"https://op.example"}}`), 0o600))
	tests := []struct {
		name   string
		cfg    httpoidc.Config
		refuse string // what the error names; empty: accepted
	}{
		{"nothing else configured", httpoidc.Config{}, ""},
		{"client secrets", httpoidc.Config{ClientSecrets: secrets}, "client secrets"},
		{"client secrets file", httpoidc.Config{ClientSecretsFile: file}, "client secrets"},
		{"public redirect URL", httpoidc.Config{RedirectURL: "https://app.example/authorize"}, "RedirectURL"},
		{"loopback redirect URL", httpoidc.Config{RedirectURL: "http://127.0.0.1:8080/authorize"}, ""},
		{"localhost redirect URL", httpoidc.Config{RedirectURL: "http://localhost:8080/authorize"}, ""},
		{"client secrets, Testing", httpoidc.Config{ClientSecrets: secrets, Testing: true}, ""},
		{"public redirect URL, Testing", httpoidc.Config{RedirectURL: "https://app.example/authorize", Testing: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Disabled = true
			tt.cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			oc, err := httpoidc.New(context.Background(), tt.cfg)
			if tt.refuse != "" {
				require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
				require.ErrorContains(t, err, tt.refuse)
				require.ErrorContains(t, err, "OIDC_TESTING")
				require.NotContains(t, err.Error(), "prod-secret")
				return
			}
			require.NoError(t, err)
			oc.Close()
			require.Contains(t, logs.String(), `"level":"ERROR","msg":"httpoidc: authentication is DISABLED`)
		})
	}

	t.Run("from the environment", func(t *testing.T) {
		t.Setenv("OIDC_ENABLED", "false")
		t.Setenv("OIDC_CLIENT_SECRETS", file)
		cfg, err := httpoidc.ConfigFromEnv()
		require.NoError(t, err)
		cfg.Logger = slog.New(slog.DiscardHandler)
		_, err = httpoidc.New(context.Background(), cfg)
		require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)

		t.Setenv("OIDC_TESTING", "true")
		cfg, err = httpoidc.ConfigFromEnv()
		require.NoError(t, err)
		cfg.Logger = slog.New(slog.DiscardHandler)
		oc, err := httpoidc.New(context.Background(), cfg)
		require.NoError(t, err)
		oc.Close()
	})
}

// Example_testing shows how to unit-test a handler behind RequireLogin:
// Disabled turns the provider off and TestingProfile is who is logged in.
func Example_testing() {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello %s", httpoidc.UserFrom(r.Context()).Email)
	})

	oc, _ := httpoidc.New(context.Background(), httpoidc.Config{
		Disabled:       true,
		TestingProfile: map[string]any{"sub": "u1", "email": "tester@example.com"},
	})
	defer oc.Close()
	rec := httptest.NewRecorder()
	oc.Handler(oc.RequireLogin(hello)).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))

	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 Hello tester@example.com
}

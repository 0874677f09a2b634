package httpoidc_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

func TestDisabled(t *testing.T) {
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

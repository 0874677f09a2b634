package httpoidc

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLogoutTokenWithoutExp reproduces Ory Hydra's back-channel logout
// tokens, which lack exp: refused by default, accepted with
// InsecureAcceptLogoutTokensWithoutExp only while recent and only once.
func TestLogoutTokenWithoutExp(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	app := func(t *testing.T, optIn bool) http.Handler {
		oc, err := New(context.Background(), Config{
			ClientSecrets: &ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: sp.op.URL,
				RedirectURIs: []string{"http://127.0.0.1:1/authorize"}},
			InsecureAcceptLogoutTokensWithoutExp: optIn,
			Now:                                  sp.op.Now,
			Logger:                               slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		t.Cleanup(oc.Close)
		return oc.Handler(http.NotFoundHandler())
	}
	post := func(h http.Handler, token string) int {
		req := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	jti := 0
	hydra := func(typ string, change map[string]any) string {
		jti++
		claims := sp.claims(map[string]any{"exp": nil, "sid": "s1", "jti": strings.Repeat("j", jti),
			"events": map[string]any{backchannelLogoutEvent: map[string]any{}}})
		for k, v := range change {
			if v == nil {
				delete(claims, k)
				continue
			}
			claims[k] = v
		}
		return sp.sign(t, typ, claims)
	}
	now := sp.op.Now()

	t.Run("refused by default", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, post(app(t, false), hydra("JWT", nil)))
	})
	t.Run("accepted once with the opt-in", func(t *testing.T) {
		h := app(t, true)
		token := hydra("JWT", nil)
		require.Equal(t, http.StatusOK, post(h, token))
		require.Equal(t, http.StatusBadRequest, post(h, token), "a replayed logout token is refused")
	})
	t.Run("tokens with exp still go through the standard checks", func(t *testing.T) {
		h := app(t, true)
		require.Equal(t, http.StatusOK, post(h, hydra("logout+jwt", map[string]any{"exp": now.Add(time.Minute).Unix()})))
		require.Equal(t, http.StatusBadRequest, post(h, hydra("logout+jwt", map[string]any{"exp": now.Add(-time.Hour).Unix()})))
	})
	bad := []struct {
		name   string
		typ    string
		change map[string]any
	}{
		{"issued too long ago", "JWT", map[string]any{"iat": now.Add(-logoutTokenMaxAge - 2*time.Minute).Unix()}},
		{"issued in the future", "JWT", map[string]any{"iat": now.Add(2 * time.Minute).Unix()}},
		{"no iat", "JWT", map[string]any{"iat": nil}},
		{"a nonce: an ID token", "JWT", map[string]any{"nonce": "n"}},
		{"no events", "JWT", map[string]any{"events": nil}},
		{"another event", "JWT", map[string]any{"events": map[string]any{"urn:other": map[string]any{}}}},
		{"no jti", "JWT", map[string]any{"jti": nil}},
		{"neither sub nor sid", "JWT", map[string]any{"sub": nil, "sid": nil}},
		{"another client", "JWT", map[string]any{"aud": "web"}},
		{"another issuer", "JWT", map[string]any{"iss": "https://evil.example"}},
		{"an access token type", "at+jwt", nil},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, http.StatusBadRequest, post(app(t, true), hydra(tt.typ, tt.change)))
		})
	}
	t.Run("a forged signature", func(t *testing.T) {
		token := hydra("JWT", nil)
		require.Equal(t, http.StatusBadRequest, post(app(t, true), token[:len(token)-4]+"AAAA"))
	})
}

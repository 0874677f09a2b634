package httpoidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

func TestAcceptTokenContext(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	for _, format := range []oidctest.AccessTokenFormat{oidctest.JWT, oidctest.Opaque} {
		raw := a.issue(format, "openid", "read")
		var got *Token
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		a.oc.AcceptToken("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = TokenFrom(r.Context())
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotNil(t, got)
		require.Equal(t, "alice", got.Subject)
		require.Equal(t, "api", got.ClientID)
		require.Equal(t, a.op.URL, got.Issuer)
		require.Equal(t, []string{"openid", "read"}, got.Scopes)
		require.Equal(t, []string{"api"}, got.Audience)
		require.WithinDuration(t, a.op.Now().Add(time.Hour), got.Expiry, 2*time.Second)
		require.WithinDuration(t, a.op.Now(), got.IssuedAt, 2*time.Second)
		var claims map[string]any
		require.NoError(t, got.Claims(&claims))
		require.Equal(t, "openid read", claims["scope"])
		var typed struct {
			Subject string `json:"sub"`
			Scope   string `json:"scope"`
		}
		require.NoError(t, got.Claims(&typed))
		require.Equal(t, "alice", typed.Subject)
		require.Equal(t, "openid read", typed.Scope)
		require.Equal(t, raw, got.raw)
	}
	_, ok := TokenFrom(context.Background())
	require.False(t, ok)
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	tok := &Token{Subject: "alice", ClientID: "api", Scopes: []string{"read"}, raw: "secret-token-value"}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("token", "tok", tok, "value", *tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), fmt.Sprintf("%v %+v %#v", *tok, *tok, *tok), logs.String()} {
		require.NotContains(t, s, "secret-token-value")
		require.Contains(t, s, "alice")
	}
}

func TestScopeClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims string
		scopes []string
		err    bool
	}{
		{"scope string", `{"scope":"a b  c"}`, []string{"a", "b", "c"}, false},
		{"scp array", `{"scp":["a","b"]}`, []string{"a", "b"}, false},
		{"scp string", `{"scp":"a b"}`, []string{"a", "b"}, false},
		{"scope and scp merged", `{"scope":"a b","scp":["b","c"]}`, []string{"a", "b", "c"}, false},
		{"no scope", `{}`, nil, false},
		{"scope not a string", `{"scope":["a"]}`, nil, true},
		{"scp with a number", `{"scp":["a",1]}`, nil, true},
		{"scp an object", `{"scp":{"a":true}}`, nil, true},
		{"aud a number", `{"aud":1}`, nil, true},
		{"exp a string", `{"exp":"1"}`, nil, true},
		{"exp negative", `{"exp":-1}`, nil, true},
		{"sub a number", `{"sub":1}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var claims claimValues
			require.NoError(t, readClaims(tt.claims, &claims))
			tok, err := newToken(tt.claims, &claims)
			if tt.err {
				require.ErrorIs(t, err, ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			if tt.scopes == nil {
				require.Empty(t, tok.Scopes)
				return
			}
			require.Equal(t, tt.scopes, tok.Scopes)
		})
	}
}

package httpoidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

func TestUserInfo(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	tokenFor := func(raw string) *Token {
		var tok *Token
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		rec := httptest.NewRecorder()
		a.oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ = TokenFrom(r.Context())
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		return tok
	}
	ctx := context.Background()
	for _, format := range []oidctest.AccessTokenFormat{oidctest.JWT, oidctest.Opaque} {
		info, err := a.oc.UserInfo(ctx, tokenFor(a.issue(format, "openid", "email", "profile")))
		require.NoError(t, err)
		require.Equal(t, "alice", info["sub"])
		require.Equal(t, "alice@example.com", info["email"])
	}

	_, err := a.oc.UserInfo(ctx, tokenFor(a.issue(oidctest.JWT, "email")))
	require.ErrorIs(t, err, ErrInvalidToken, "no openid scope: 403 at the provider")

	revoked := tokenFor(a.issue(oidctest.JWT, "openid"))
	a.op.Revoke(revoked.raw)
	_, err = a.oc.UserInfo(ctx, revoked)
	require.ErrorIs(t, err, ErrInvalidToken)

	a.op.SetFault(oidctest.FaultUserInfoSubMismatch, true)
	_, err = a.oc.UserInfo(ctx, tokenFor(a.issue(oidctest.JWT, "openid")))
	require.ErrorIs(t, err, ErrInvalidToken)
	a.op.SetFault(oidctest.FaultUserInfoSubMismatch, false)

	_, err = a.oc.UserInfo(ctx, nil)
	require.ErrorIs(t, err, ErrInvalidToken)

	live := tokenFor(a.issue(oidctest.JWT, "openid"))
	a.op.Close()
	_, err = a.oc.UserInfo(ctx, live)
	require.ErrorIs(t, err, ErrProviderUnavailable)

	disabled, err := New(ctx, Config{Disabled: true, TestingProfile: map[string]any{"sub": "tester"}, HTTPClient: &http.Client{Transport: noNetwork{t}}})
	require.NoError(t, err)
	info, err := disabled.UserInfo(ctx, &Token{Subject: "tester", raw: "x"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sub": "tester"}, info)
}

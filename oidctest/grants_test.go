package oidctest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

func TestPlainPKCE(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t,
		oauth2.SetAuthURLParam("code_challenge", verifier),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	_, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)

	// Without a method, RFC 7636 §4.3 defaults to plain.
	q = f.authorize(t, oauth2.SetAuthURLParam("code_challenge", verifier))
	_, err = f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
}

func TestCodeGrantChecks(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name string
		// pkce adds a S256 challenge to the authorization request.
		pkce     bool
		exchange func(t *testing.T, code string) error
	}{
		{"missing verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code)
			return err
		}},
		{"wrong verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}},
		{"malformed verifier", true, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption("short"))
			return err
		}},
		{"verifier without challenge", false, func(t *testing.T, code string) error {
			_, err := f.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			return err
		}},
		{"other client", false, func(t *testing.T, code string) error {
			other := *f.cfg
			other.ClientID, other.ClientSecret = "other", "other-secret"
			_, err := other.Exchange(t.Context(), code)
			return err
		}},
		{"other redirect_uri", false, func(t *testing.T, code string) error {
			other := *f.cfg
			other.RedirectURL = redirectURI + "/x"
			_, err := other.Exchange(t.Context(), code)
			return err
		}},
		{"expired", false, func(t *testing.T, code string) error {
			f.op.Advance(61 * time.Second)
			_, err := f.cfg.Exchange(t.Context(), code)
			return err
		}},
		{"unknown", false, func(t *testing.T, _ string) error {
			_, err := f.cfg.Exchange(t.Context(), "no-such-code")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q url.Values
			if tc.pkce {
				q = f.authorize(t, oauth2.S256ChallengeOption(verifier))
			} else {
				q = f.authorize(t)
			}
			requireRetrieveError(t, tc.exchange(t, q.Get("code")), http.StatusBadRequest, "invalid_grant")
			// A presented code is spent even when the exchange failed.
			_, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			requireRetrieveError(t, err, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestRefreshGrant(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
	refresh := func(t *testing.T, id, secret, rt string, extra url.Values) response {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, v := range extra {
			form[k] = v
		}
		return postForm(t, f.op.URL+"/token", form, id, secret)
	}

	t.Run("another client's token", func(t *testing.T) {
		tok := f.login(t)
		requireOAuthError(t, refresh(t, "other", "other-secret", tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
		// The attempt did not spend the owner's token.
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
	})
	t.Run("narrower scope", func(t *testing.T) {
		tok := f.login(t)
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"scope": {"openid email"}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, "openid email", r.json["scope"])
		_, claims := decodeJWT(t, r.json["id_token"].(string))
		require.Equal(t, "alice@example.com", claims["email"])
		require.NotContains(t, claims, "name", "profile was not requested")
		// The new refresh token keeps the original grant.
		r = refresh(t, clientID, clientSecret, r.json["refresh_token"].(string), nil)
		require.Equal(t, "openid email profile groups", r.json["scope"])
	})
	t.Run("wider scope", func(t *testing.T) {
		tok := f.login(t)
		requireOAuthError(t, refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"scope": {"openid admin"}}), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("missing", func(t *testing.T) {
		requireOAuthError(t, refresh(t, clientID, clientSecret, "", nil), http.StatusBadRequest, "invalid_request")
	})
	t.Run("revoked with its access tokens", func(t *testing.T) {
		tok := f.login(t)
		f.op.Revoke(tok.RefreshToken)
		requireOAuthError(t, refresh(t, clientID, clientSecret, tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
		require.Equal(t, false, f.introspect(t, tok.AccessToken)["active"], "RFC 7009 §2.1: access tokens of the grant go too")
	})
	t.Run("resource makes a JWT", func(t *testing.T) {
		tok := f.login(t)
		r := refresh(t, clientID, clientSecret, tok.RefreshToken, url.Values{"resource": {"https://api.example.com"}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		header, claims := decodeJWT(t, r.json["access_token"].(string))
		require.Equal(t, "at+jwt", header["typ"])
		require.Equal(t, "https://api.example.com", claims["aud"])
	})
}

// TestRefreshGrantWithoutRotation: WithoutRefreshTokenRotation answers a
// refresh with new access and ID tokens and no refresh token, and the
// presented one stays valid.
func TestRefreshGrantWithoutRotation(t *testing.T) {
	f := newFixture(t, oidctest.WithoutRefreshTokenRotation())
	tok := f.login(t)
	var accessTokens []string
	for range 3 {
		r := postForm(t, f.op.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			clientID, clientSecret)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NotContains(t, r.json, "refresh_token")
		require.NotEmpty(t, r.json["id_token"])
		accessTokens = append(accessTokens, r.json["access_token"].(string))
	}
	require.NotEqual(t, accessTokens[0], accessTokens[1])
	require.Equal(t, true, f.introspect(t, tok.RefreshToken)["active"])
}

func TestClientCredentials(t *testing.T) {
	f := newFixture(t)
	f.op.AddClient(oidctest.Client{ID: "svc", Secret: "svc-secret", Scopes: []string{"read", "write"}})
	grant := func(t *testing.T, scope string) response {
		return postForm(t, f.op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "svc", "svc-secret")
	}
	r := grant(t, "read")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "Bearer", r.json["token_type"])
	require.Equal(t, "read", r.json["scope"])
	require.NotContains(t, r.json, "id_token")
	require.NotContains(t, r.json, "refresh_token")
	in := f.introspect(t, r.json["access_token"].(string))
	require.Equal(t, true, in["active"])
	require.Equal(t, "svc", in["sub"])
	require.Equal(t, "svc", in["client_id"])

	requireOAuthError(t, grant(t, "read admin"), http.StatusBadRequest, "invalid_scope")

	r = postForm(t, f.op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://api.example.com/"}}, "svc", "svc-secret")
	require.Equal(t, http.StatusOK, r.status, r.body)
	header, claims := decodeJWT(t, r.json["access_token"].(string))
	require.Equal(t, "at+jwt", header["typ"])
	require.Equal(t, "svc", claims["sub"])
	require.Equal(t, "https://api.example.com/", claims["aud"])
}

// TestSigningAlgorithms checks that go-oidc accepts every supported key
// type, with the algorithms discovery advertises.
func TestSigningAlgorithms(t *testing.T) {
	for _, tc := range []struct{ alg, kty string }{
		{oidc.RS256, "RSA"}, {oidc.ES256, "EC"}, {oidc.EdDSA, "OKP"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			f := newFixture(t, oidctest.WithSigningAlgorithm(tc.alg))
			var meta struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			require.NoError(t, f.provider.Claims(&meta))
			require.Equal(t, []string{tc.alg}, meta.Algs)
			tok := f.login(t)
			v := f.provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{tc.alg}})
			idt, err := v.Verify(t.Context(), idToken(t, tok))
			require.NoError(t, err)
			require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
			keys := fetchJWKS(t, f.op).Keys
			require.Len(t, keys, 1)
			require.Equal(t, tc.alg, keys[0].Algorithm)
			require.Equal(t, "sig", keys[0].Use)
			require.True(t, keys[0].IsPublic())
			require.Contains(t, get(t, f.op.URL+"/jwks").body, `"kty":"`+tc.kty+`"`)

			// Only the advertised algorithm is accepted.
			other := oidc.RS256
			if tc.alg == oidc.RS256 {
				other = oidc.ES256
			}
			_, err = f.provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{other}}).Verify(t.Context(), idToken(t, tok))
			require.Error(t, err)

			// rp-id_token-bad-sig-es256 and friends.
			f.op.SetFault(oidctest.FaultBadSignature, true)
			raw := idToken(t, f.login(t))
			header, _ := decodeJWT(t, raw)
			require.Equal(t, tc.alg, header["alg"])
			_, err = v.Verify(t.Context(), raw)
			require.Error(t, err)
			f.op.ClearFaults()

			f.op.SetFault(oidctest.FaultNoKIDMultipleKeys, true)
			raw = idToken(t, f.login(t))
			require.Len(t, fetchJWKS(t, f.op).Keys, 2)
			_, err = f.provider.VerifierContext(t.Context(), &oidc.Config{ClientID: clientID}).Verify(t.Context(), raw)
			require.NoError(t, err, "go-oidc tries every key when kid is absent")
		})
	}
	t.Run("unsupported", func(t *testing.T) {
		require.PanicsWithValue(t,
			`oidctest: unsupported signing algorithm "HS256" (want RS256, ES256 or EdDSA)`,
			func() { oidctest.NewHandler("http://127.0.0.1:1", oidctest.WithSigningAlgorithm("HS256")) })
	})
}

// TestKeyRotation mirrors rp-key-rotation-op-sign-key: a relying party with
// cached keys must pick up a new kid from the JWKS.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	before := idToken(t, f.login(t))
	_, err := f.verifier.Verify(ctx, before)
	require.NoError(t, err)
	oldKID := fetchJWKS(t, f.op).Keys[0].KeyID

	f.op.RotateKey(true)
	after := idToken(t, f.login(t))
	header, _ := decodeJWT(t, after)
	require.NotEqual(t, oldKID, header["kid"])
	_, err = f.verifier.Verify(ctx, after)
	require.NoError(t, err, "the cached verifier must refetch the JWKS for the new kid")
	_, err = f.verifier.Verify(ctx, before)
	require.NoError(t, err, "the old key is kept")
	require.Len(t, fetchJWKS(t, f.op).Keys, 2)

	f.op.RotateKey(false)
	keys := fetchJWKS(t, f.op).Keys
	require.Len(t, keys, 1)
	// VerifierContext gets its own key cache, unlike Verifier.
	fresh := f.provider.VerifierContext(ctx, &oidc.Config{ClientID: clientID})
	_, err = fresh.Verify(ctx, before)
	require.Error(t, err, "the old key was dropped")
	_, err = fresh.Verify(ctx, idToken(t, f.login(t)))
	require.NoError(t, err)

	// rp-id_token-kid-absent-single-jwks needs a single key even after a
	// rotation that kept the old one.
	f.op.RotateKey(true)
	require.Len(t, fetchJWKS(t, f.op).Keys, 2)
	f.op.SetFault(oidctest.FaultNoKID, true)
	require.Len(t, fetchJWKS(t, f.op).Keys, 1)
	f.op.SetFault(oidctest.FaultNoKIDMultipleKeys, true)
	require.Len(t, fetchJWKS(t, f.op).Keys, 3, "signing key, extra key, old key")
	f.op.ClearFaults()

	// An id_token_hint signed by a dropped key is no longer accepted.
	r := get(t, f.op.URL+"/end_session?"+url.Values{"id_token_hint": {before}}.Encode())
	require.Equal(t, http.StatusBadRequest, r.status)
}

// TestClock checks that Advance drives every iat, exp and expiry check.
func TestClock(t *testing.T) {
	f := newFixture(t, oidctest.WithAccessTokenTTL(10*time.Minute), oidctest.WithIDTokenTTL(5*time.Minute))
	require.WithinDuration(t, time.Now(), f.op.Now(), time.Second)
	f.op.Advance(24 * time.Hour)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), f.op.Now(), time.Second)

	tok := f.login(t)
	rawID := idToken(t, tok)
	_, claims := decodeJWT(t, rawID)
	iat := int64(claims["iat"].(float64))
	require.InDelta(t, f.op.Now().Unix(), iat, 2, "iat uses the server clock")
	require.Equal(t, iat+300, int64(claims["exp"].(float64)))
	require.InDelta(t, 600, time.Until(tok.Expiry).Seconds(), 5, "expires_in is the access token TTL")

	verifier := f.provider.Verifier(&oidc.Config{ClientID: clientID, Now: f.op.Now})
	_, err := verifier.Verify(t.Context(), rawID)
	require.NoError(t, err)

	f.op.Advance(6 * time.Minute)
	_, err = verifier.Verify(t.Context(), rawID)
	var expired *oidc.TokenExpiredError
	require.ErrorAs(t, err, &expired)
	require.Equal(t, true, f.introspect(t, tok.AccessToken)["active"])

	f.op.Advance(5 * time.Minute)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, tok.AccessToken))
	r := get(t, f.op.URL+"/userinfo", "Authorization", "Bearer "+tok.AccessToken)
	requireOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
	// The refresh token outlives its access token.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Second)
	refreshed, err := f.cfg.TokenSource(t.Context(), &stale).Token()
	require.NoError(t, err)
	require.Equal(t, true, f.introspect(t, refreshed.AccessToken)["active"])
}

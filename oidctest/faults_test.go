package oidctest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// requireHS256 checks that raw is HS256-signed with secret.
func requireHS256(t *testing.T, raw, secret string) {
	t.Helper()
	i := strings.LastIndexByte(raw, '.')
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(raw[:i]))
	require.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), raw[i+1:])
}

// jwtFaultChecks describes, per fault, what a JWT issued under it looks
// like. They hold for ID tokens and JWT access tokens alike.
func jwtFaultChecks() map[oidctest.Fault]func(t *testing.T, op *oidctest.Server, raw string, aud string) {
	type check = func(t *testing.T, op *oidctest.Server, raw string, aud string)
	claimIs := func(name string, want any) check {
		return func(t *testing.T, _ *oidctest.Server, raw string, _ string) {
			_, claims := decodeJWT(t, raw)
			require.Equal(t, want, claims[name])
		}
	}
	return map[oidctest.Fault]check{
		oidctest.FaultWrongIssuer:   claimIs("iss", oidctest.WrongIssuerURL),
		oidctest.FaultWrongAudience: claimIs("aud", oidctest.OtherClientID),
		oidctest.FaultMultipleAudiences: func(t *testing.T, _ *oidctest.Server, raw string, aud string) {
			_, claims := decodeJWT(t, raw)
			require.Equal(t, []any{aud, oidctest.OtherClientID}, claims["aud"])
		},
		oidctest.FaultExpired: func(t *testing.T, op *oidctest.Server, raw string, _ string) {
			_, claims := decodeJWT(t, raw)
			require.InDelta(t, op.Now().Add(-time.Hour).Unix(), claims["exp"], 5)
			require.Less(t, claims["iat"], claims["exp"])
		},
		oidctest.FaultIssuedInFuture: func(t *testing.T, op *oidctest.Server, raw string, _ string) {
			_, claims := decodeJWT(t, raw)
			require.InDelta(t, op.Now().Add(time.Hour).Unix(), claims["iat"], 5)
			require.Greater(t, claims["exp"], claims["iat"])
		},
		oidctest.FaultMissingSubject: func(t *testing.T, _ *oidctest.Server, raw string, _ string) {
			_, claims := decodeJWT(t, raw)
			require.NotContains(t, claims, "sub")
		},
		oidctest.FaultBadSignature: func(t *testing.T, op *oidctest.Server, raw string, _ string) {
			header, _ := decodeJWT(t, raw)
			require.Equal(t, "RS256", header["alg"])
			_, err := verifyWithJWKS(t, op, raw, jose.RS256)
			require.Error(t, err)
		},
		oidctest.FaultAlgNone: func(t *testing.T, _ *oidctest.Server, raw string, _ string) {
			header, _ := decodeJWT(t, raw)
			require.Equal(t, "none", header["alg"])
			require.True(t, strings.HasSuffix(raw, "."), "empty signature")
		},
		oidctest.FaultHS256ClientSecret: func(t *testing.T, _ *oidctest.Server, raw string, _ string) {
			header, _ := decodeJWT(t, raw)
			require.Equal(t, "HS256", header["alg"])
			requireHS256(t, raw, clientSecret)
		},
		oidctest.FaultNoKID: func(t *testing.T, op *oidctest.Server, raw string, _ string) {
			header, _ := decodeJWT(t, raw)
			require.NotContains(t, header, "kid")
			require.Len(t, fetchJWKS(t, op).Keys, 1)
			_, err := verifyWithJWKS(t, op, raw, jose.RS256)
			require.NoError(t, err)
		},
		oidctest.FaultNoKIDMultipleKeys: func(t *testing.T, op *oidctest.Server, raw string, _ string) {
			header, _ := decodeJWT(t, raw)
			require.NotContains(t, header, "kid")
			keys := fetchJWKS(t, op).Keys
			require.Len(t, keys, 2)
			require.Equal(t, keys[0].Algorithm, keys[1].Algorithm, "the extra key is of the same type")
			_, err := verifyWithJWKS(t, op, raw, jose.RS256)
			require.NoError(t, err)
		},
	}
}

// TestIDTokenFaults runs a login under each fault and checks go-oidc's
// verdict: it must reject what it checks itself, and for what it leaves to
// the caller the claim must be what the fault says.
func TestIDTokenFaults(t *testing.T) {
	f := newFixture(t)
	checks := jwtFaultChecks()
	tests := []struct {
		fault  oidctest.Fault
		reject bool
		check  func(t *testing.T, idt *oidc.IDToken)
	}{
		{fault: oidctest.FaultBadSignature, reject: true},
		{fault: oidctest.FaultAlgNone, reject: true},
		{fault: oidctest.FaultHS256ClientSecret, reject: true},
		{fault: oidctest.FaultWrongIssuer, reject: true},
		{fault: oidctest.FaultWrongAudience, reject: true},
		{fault: oidctest.FaultExpired, reject: true},
		{fault: oidctest.FaultMultipleAudiences, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Equal(t, []string{clientID, oidctest.OtherClientID}, idt.Audience)
			require.Equal(t, clientID, azp(t, idt))
		}},
		{fault: oidctest.FaultAZPMismatch, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Equal(t, []string{clientID, oidctest.OtherClientID}, idt.Audience)
			require.Equal(t, oidctest.OtherClientID, azp(t, idt))
		}},
		{fault: oidctest.FaultIssuedInFuture, check: func(t *testing.T, idt *oidc.IDToken) {
			require.WithinDuration(t, time.Now().Add(time.Hour), idt.IssuedAt, 5*time.Second)
		}},
		{fault: oidctest.FaultMissingNonce, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Empty(t, idt.Nonce)
		}},
		{fault: oidctest.FaultWrongNonce, check: func(t *testing.T, idt *oidc.IDToken) {
			require.NotEmpty(t, idt.Nonce)
			require.NotEqual(t, "nonce-123", idt.Nonce)
		}},
		{fault: oidctest.FaultMissingSubject, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Empty(t, idt.Subject)
		}},
		{fault: oidctest.FaultNoKID, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Equal(t, "alice", idt.Subject)
		}},
		{fault: oidctest.FaultNoKIDMultipleKeys, check: func(t *testing.T, idt *oidc.IDToken) {
			require.Equal(t, "alice", idt.Subject)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			f.op.ClearFaults()
			f.op.SetFault(tc.fault, true)
			defer f.op.ClearFaults()
			tok := f.login(t)
			raw := idToken(t, tok)
			if c, ok := checks[tc.fault]; ok {
				c(t, f.op, raw, clientID)
			}
			// A fresh key cache: a fault may change the JWKS.
			v := f.provider.VerifierContext(t.Context(), &oidc.Config{ClientID: clientID})
			idt, err := v.Verify(t.Context(), raw)
			if tc.reject {
				require.Error(t, err, "go-oidc accepted an ID token with %v", tc.fault)
				return
			}
			require.NoError(t, err)
			tc.check(t, idt)
			// Only the ID token is affected: the opaque access token works.
			require.Equal(t, true, f.introspect(t, tok.AccessToken)["active"])
		})
	}
}

func azp(t *testing.T, idt *oidc.IDToken) string {
	t.Helper()
	var c struct {
		AZP string `json:"azp"`
	}
	require.NoError(t, idt.Claims(&c))
	return c.AZP
}

func TestNonceFaultWithoutNonce(t *testing.T) {
	f := newFixture(t)
	f.op.SetFault(oidctest.FaultWrongNonce, true)
	q := f.authorize(t)
	tok, err := f.cfg.Exchange(t.Context(), q.Get("code"))
	require.NoError(t, err)
	_, claims := decodeJWT(t, idToken(t, tok))
	require.NotEmpty(t, claims["nonce"], "an unsolicited nonce is a mismatch too")
}

// TestJWTAccessTokenFaults checks that the claim and signature faults reach
// JWT access tokens, from IssueAccessToken and from the token endpoint.
func TestJWTAccessTokenFaults(t *testing.T) {
	f := newFixture(t)
	for fault, check := range jwtFaultChecks() {
		t.Run(fault.String(), func(t *testing.T) {
			f.op.ClearFaults()
			f.op.SetFault(fault, true)
			defer f.op.ClearFaults()
			raw := f.op.IssueAccessToken(oidctest.TokenRequest{
				ClientID: clientID, Subject: "alice", Scopes: []string{"openid"}, Audience: []string{"https://api.example.com"}, Format: oidctest.JWT,
			})
			require.NotEmpty(t, raw)
			header, _ := decodeJWT(t, raw)
			require.Equal(t, "at+jwt", header["typ"])
			check(t, f.op, raw, "https://api.example.com")

			verifier := oauth2.GenerateVerifier()
			q := f.authorize(t, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", "https://api.example.com"))
			tok, err := f.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			require.NoError(t, err)
			check(t, f.op, tok.AccessToken, "https://api.example.com")
		})
	}
	t.Run("nonce and azp faults leave access tokens alone", func(t *testing.T) {
		for _, fault := range []oidctest.Fault{oidctest.FaultMissingNonce, oidctest.FaultWrongNonce, oidctest.FaultAZPMismatch} {
			f.op.SetFault(fault, true)
		}
		defer f.op.ClearFaults()
		raw := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Format: oidctest.JWT})
		_, claims := decodeJWT(t, raw)
		require.NotContains(t, claims, "nonce")
		require.NotContains(t, claims, "azp")
		require.Equal(t, clientID, claims["aud"])
		_, err := verifyWithJWKS(t, f.op, raw, jose.RS256)
		require.NoError(t, err)
	})
	t.Run("an expired JWT is inactive", func(t *testing.T) {
		f.op.SetFault(oidctest.FaultExpired, true)
		defer f.op.ClearFaults()
		raw := f.op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Format: oidctest.JWT})
		require.Equal(t, map[string]any{"active": false}, f.introspect(t, raw))
	})
}

func TestSeveralFaultsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.op.SetFault(oidctest.FaultWrongIssuer, true)
	f.op.SetFault(oidctest.FaultNoKID, true)
	f.op.SetFault(oidctest.FaultMissingNonce, true)
	raw := idToken(t, f.login(t))
	header, claims := decodeJWT(t, raw)
	require.NotContains(t, header, "kid")
	require.Equal(t, oidctest.WrongIssuerURL, claims["iss"])
	require.NotContains(t, claims, "nonce")

	f.op.SetFault(oidctest.FaultWrongIssuer, false)
	_, claims = decodeJWT(t, idToken(t, f.login(t)))
	require.Equal(t, f.op.URL, claims["iss"], "SetFault(f, false) switches one fault off")
	require.NotContains(t, claims, "nonce", "the others stay on")

	f.op.ClearFaults()
	_, err := f.verifier.Verify(t.Context(), idToken(t, f.login(t)))
	require.NoError(t, err)
}

func TestEndpointFaults(t *testing.T) {
	tests := []struct {
		fault oidctest.Fault
		check func(t *testing.T, f *fixture)
	}{
		{oidctest.FaultUserInfoSubMismatch, func(t *testing.T, f *fixture) {
			tok := f.login(t)
			idt, err := f.verifier.Verify(t.Context(), idToken(t, tok))
			require.NoError(t, err)
			ui, err := f.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
			require.NoError(t, err)
			require.NotEqual(t, idt.Subject, ui.Subject)
		}},
		{oidctest.FaultTokenEndpointError, func(t *testing.T, f *fixture) {
			q := f.authorize(t)
			_, err := f.cfg.Exchange(t.Context(), q.Get("code"))
			requireRetrieveError(t, err, http.StatusInternalServerError, "server_error")
		}},
		{oidctest.FaultTokenEndpointHang, func(t *testing.T, f *fixture) {
			q := f.authorize(t)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			_, err := f.cfg.Exchange(ctx, q.Get("code"))
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
		{oidctest.FaultDiscoveryDown, func(t *testing.T, f *fixture) {
			_, err := oidc.NewProvider(t.Context(), f.op.URL)
			require.Error(t, err)
			requireOAuthError(t, get(t, f.op.URL+"/.well-known/openid-configuration"), http.StatusServiceUnavailable, "temporarily_unavailable")
		}},
		{oidctest.FaultJWKSDown, func(t *testing.T, f *fixture) {
			f.op.SetFault(oidctest.FaultJWKSDown, false)
			raw := idToken(t, f.login(t))
			f.op.SetFault(oidctest.FaultJWKSDown, true)
			_, err := f.provider.VerifierContext(t.Context(), &oidc.Config{ClientID: clientID}).Verify(t.Context(), raw)
			require.ErrorContains(t, err, "503")
		}},
		{oidctest.FaultIntrospectionDown, func(t *testing.T, f *fixture) {
			r := postForm(t, f.op.URL+"/introspect", url.Values{"token": {"x"}}, clientID, clientSecret)
			requireOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
		}},
		{oidctest.FaultAccessDenied, func(t *testing.T, f *fixture) {
			q := f.authorize(t)
			require.Equal(t, "access_denied", q.Get("error"))
			require.Equal(t, "state-123", q.Get("state"))
			require.Equal(t, f.op.URL, q.Get("iss"))
			require.Empty(t, q.Get("code"))
		}},
		{oidctest.FaultWrongAuthResponseIssuer, func(t *testing.T, f *fixture) {
			q := f.authorize(t)
			require.Equal(t, oidctest.WrongIssuerURL, q.Get("iss"))
			require.NotEmpty(t, q.Get("code"))
		}},
		{oidctest.FaultRegistrationRefused, func(t *testing.T, f *fixture) {
			r := postJSON(t, f.op.URL+"/register", `{"redirect_uris":["https://rp.example.com/cb"]}`)
			requireOAuthError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			f := newFixture(t)
			f.op.SetFault(tc.fault, true)
			tc.check(t, f)
			f.op.SetFault(tc.fault, false)
			// Switching the fault off restores normal service.
			_, err := f.verifier.Verify(t.Context(), idToken(t, f.login(t)))
			require.NoError(t, err)
		})
	}
}

// TestTokenEndpointHangReleasedByClose checks that Close neither deadlocks
// nor leaves the hanging request blocked.
func TestTokenEndpointHangReleasedByClose(t *testing.T) {
	f := newFixture(t)
	f.op.SetFault(oidctest.FaultTokenEndpointHang, true)
	q := f.authorize(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.cfg.Exchange(context.Background(), q.Get("code"))
		done <- err
	}()
	require.Eventually(t, func() bool { return f.op.Requests(oidctest.EndpointToken) == 1 }, 5*time.Second, 5*time.Millisecond)
	closed := make(chan struct{})
	go func() {
		f.op.Close()
		close(closed)
	}()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging request was not released by Close")
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close deadlocked")
	}
	f.op.Close() // idempotent
}

func TestFaultString(t *testing.T) {
	all := []oidctest.Fault{
		oidctest.FaultWrongIssuer, oidctest.FaultWrongAudience, oidctest.FaultMultipleAudiences,
		oidctest.FaultAZPMismatch, oidctest.FaultExpired, oidctest.FaultIssuedInFuture,
		oidctest.FaultMissingNonce, oidctest.FaultWrongNonce, oidctest.FaultMissingSubject,
		oidctest.FaultBadSignature, oidctest.FaultAlgNone, oidctest.FaultHS256ClientSecret,
		oidctest.FaultNoKID, oidctest.FaultNoKIDMultipleKeys, oidctest.FaultUserInfoSubMismatch,
		oidctest.FaultTokenEndpointError, oidctest.FaultTokenEndpointHang, oidctest.FaultDiscoveryDown,
		oidctest.FaultJWKSDown, oidctest.FaultIntrospectionDown, oidctest.FaultAccessDenied,
		oidctest.FaultWrongAuthResponseIssuer, oidctest.FaultRegistrationRefused,
	}
	seen := map[string]bool{}
	for _, fault := range all {
		name := fault.String()
		require.True(t, strings.HasPrefix(name, "Fault") && !strings.HasPrefix(name, "Fault("), name)
		require.False(t, seen[name], "duplicate name %s", name)
		seen[name] = true
	}
	require.Equal(t, "Fault(0)", oidctest.Fault(0).String())
	require.Equal(t, "Fault(99)", oidctest.Fault(99).String())

	// Unknown faults are ignored, not a panic.
	f := newFixture(t)
	f.op.SetFault(oidctest.Fault(0), true)
	f.op.SetFault(oidctest.Fault(-1), true)
	f.op.SetFault(oidctest.Fault(99), true)
	_, err := f.verifier.Verify(t.Context(), idToken(t, f.login(t)))
	require.NoError(t, err)
}

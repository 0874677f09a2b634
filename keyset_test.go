package httpoidc

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/httpoidc/httpoidc/oidctest"
)

// newTestKeySet returns a key set over op's JWKS, cold, with the package
// defaults and op's clock.
func newTestKeySet(op *oidctest.Server, client *http.Client) *keySet {
	cfg := Config{Now: op.Now, HTTPClient: client}
	cfg.withDefaults()
	return newKeySet(op.URL+"/jwks", cfg.HTTPClient, &cfg, asymmetricAlgorithms)
}

func TestKeySetAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			a := newAPI(t, nil, oidctest.WithSigningAlgorithm(alg))
			requireOK(t, "alice ", a.get(a.issue(oidctest.JWT)))
			keys := a.oc.provider.Load().keys
			for _, f := range []oidctest.Fault{oidctest.FaultAlgNone, oidctest.FaultHS256ClientSecret, oidctest.FaultBadSignature} {
				_, _, _, err := keys.verify(context.Background(), a.faulty(f, oidctest.JWT))
				require.ErrorIs(t, err, ErrInvalidToken, f.String())
			}
		})
	}
}

// TestKeySetVerifiesIDTokens checks the key set as go-oidc's KeySet, the
// way ID tokens are verified.
func TestKeySetVerifiesIDTokens(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret"})
	cc := clientcredentials.Config{ClientID: "app", ClientSecret: "app-secret", TokenURL: op.URL + "/token", Scopes: []string{"openid"}}
	tok, err := cc.Token(context.Background())
	require.NoError(t, err)
	idToken, _ := tok.Extra("id_token").(string)
	require.NotEmpty(t, idToken)

	keys := newTestKeySet(op, nil)
	verifier := oidc.NewVerifier(op.URL, keys, &oidc.Config{ClientID: "app", Now: op.Now})
	_, err = verifier.Verify(context.Background(), idToken)
	require.NoError(t, err)
	_, err = verifier.Verify(context.Background(), idToken[:strings.LastIndexByte(idToken, '.')+1]+"AAAA")
	require.Error(t, err)
}

// TestKeySetColdFetchOnce checks that concurrent first uses share one
// JWKS fetch.
func TestKeySetColdFetchOnce(t *testing.T) {
	a := newAPI(t, nil)
	jwt := a.issue(oidctest.JWT)
	keys := newTestKeySet(a.op, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, _, _, err := keys.verify(context.Background(), jwt)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, keys.fetches.Load())
}

// slowJWKS delays JWKS requests.
type slowJWKS struct{ delay time.Duration }

func (s slowJWKS) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/jwks") {
		time.Sleep(s.delay)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestKeySetCallerGivesUp checks that a caller whose context ends stops
// waiting for a JWKS fetch at once, without aborting the fetch for the
// others.
func TestKeySetCallerGivesUp(t *testing.T) {
	a := newAPI(t, nil)
	jwt := a.issue(oidctest.JWT)
	keys := newTestKeySet(a.op, &http.Client{Transport: slowJWKS{300 * time.Millisecond}})
	done := make(chan error, 1)
	go func() {
		_, _, _, err := keys.verify(context.Background(), jwt)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, _, _, err := keys.verify(ctx, jwt)
	require.ErrorIs(t, err, ErrProviderUnavailable)
	require.Less(t, time.Since(began), 250*time.Millisecond)
	require.NoError(t, <-done)
	require.EqualValues(t, 1, keys.fetches.Load())
}

// TestKeySetHas checks when a verified key may vouch for cached tokens:
// while the key set holds it and is fresh, or while the JWKS cannot be
// fetched.
func TestKeySetHas(t *testing.T) {
	a := newAPI(t, nil)
	keys := newTestKeySet(a.op, nil)
	_, _, thumbprint, err := keys.verify(context.Background(), a.issue(oidctest.JWT))
	require.NoError(t, err)
	now := a.op.Now()
	require.True(t, keys.has(thumbprint, now))
	require.False(t, keys.has("another key", now))
	require.False(t, keys.has(thumbprint, now.Add(time.Hour)), "a refresh is due")

	a.op.Advance(time.Hour)
	a.op.SetFault(oidctest.FaultJWKSDown, true)
	_, _, _, err = keys.verify(context.Background(), a.issue(oidctest.JWT))
	require.NoError(t, err, "the known key still verifies")
	require.EqualValues(t, 2, keys.fetches.Load())
	require.True(t, keys.has(thumbprint, a.op.Now()), "the fetch failed: the known keys keep vouching during the backoff")
	a.op.Advance(31 * time.Second)
	require.False(t, keys.has(thumbprint, a.op.Now()), "after the backoff, try again")
}

// TestAcceptTokenKeyRotation checks that a new key is picked up at once and
// that the tokens of a removed key, cached or not, are refused once the
// key set is refreshed.
func TestAcceptTokenKeyRotation(t *testing.T) {
	for _, keepOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepOld=%v", keepOld), func(t *testing.T) {
			a := newAPI(t, func(c *Config) { c.TokenCacheTTL = 24 * time.Hour })
			old := a.issueTTL(oidctest.JWT, 3*time.Hour)
			requireOK(t, "alice ", a.get(old))
			keys := a.oc.provider.Load().keys
			require.EqualValues(t, 1, keys.fetches.Load())

			a.op.RotateKey(keepOld)
			fresh := a.issueTTL(oidctest.JWT, 3*time.Hour)
			requireOK(t, "alice ", a.get(fresh))
			require.EqualValues(t, 2, keys.fetches.Load(), "an unknown kid fetches the JWKS")
			if keepOld {
				requireOK(t, "alice ", a.get(old))
			} else {
				requireAnswer(t, answerInvalidToken, a.get(old))
			}

			a.op.Advance(time.Hour + time.Second) // KeyRefreshInterval
			requireOK(t, "alice ", a.get(fresh))
			require.EqualValues(t, 3, keys.fetches.Load(), "the key set is refreshed hourly, cache hits included")
			if keepOld {
				requireOK(t, "alice ", a.get(old))
			} else {
				requireAnswer(t, answerInvalidToken, a.get(old))
			}
		})
	}
}

// TestAcceptTokenRemovedKeyLeavesCache checks that a cached token whose key
// the provider dropped is refused after the next key refresh, although its
// cache entry has not expired.
func TestAcceptTokenRemovedKeyLeavesCache(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.TokenCacheTTL = 24 * time.Hour })
	tok := a.issueTTL(oidctest.JWT, 3*time.Hour)
	requireOK(t, "alice ", a.get(tok))
	a.op.RotateKey(false)
	requireOK(t, "alice ", a.get(tok), "the key set does not know of the removal yet")
	a.op.Advance(time.Hour + time.Second)
	requireAnswer(t, answerInvalidToken, a.get(tok))
	require.EqualValues(t, 2, a.oc.provider.Load().keys.fetches.Load())
}

// TestAcceptTokenJWKSOutage checks that known keys keep working while the
// JWKS endpoint is down, that unknown keys are refused with 401, and that
// the endpoint is retried with backoff, not on every request.
func TestAcceptTokenJWKSOutage(t *testing.T) {
	a := newAPI(t, nil)
	requireOK(t, "alice ", a.get(a.issue(oidctest.JWT)))
	keys := a.oc.provider.Load().keys
	require.EqualValues(t, 1, keys.fetches.Load())

	a.op.SetFault(oidctest.FaultJWKSDown, true)
	requireOK(t, "alice ", a.get(a.issue(oidctest.JWT)), "a new token of a known key")
	a.op.RotateKey(true)
	unknown := a.issue(oidctest.JWT)
	for range 20 {
		requireAnswer(t, answerInvalidToken, a.get(unknown))
	}
	require.EqualValues(t, 2, keys.fetches.Load(), "one failed fetch, then the cooldown")
	a.op.Advance(31 * time.Second)
	for range 20 {
		requireAnswer(t, answerInvalidToken, a.get(unknown))
	}
	require.EqualValues(t, 3, keys.fetches.Load(), "one more after the cooldown")
	a.op.Advance(31 * time.Second)
	requireAnswer(t, answerInvalidToken, a.get(unknown))
	require.EqualValues(t, 3, keys.fetches.Load(), "the backoff doubles")

	a.op.SetFault(oidctest.FaultJWKSDown, false)
	a.op.Advance(30 * time.Second)
	requireOK(t, "alice ", a.get(unknown))
	require.EqualValues(t, 4, keys.fetches.Load())
}

// TestAcceptTokenKidFlood checks that tokens with random kids cost at most
// one JWKS fetch per cooldown.
func TestAcceptTokenKidFlood(t *testing.T) {
	a := newAPI(t, nil)
	jwt := a.issue(oidctest.JWT)
	requireOK(t, "alice ", a.get(jwt))
	keys := a.oc.provider.Load().keys
	flood := func(round int) {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				forged := withHeader(jwt, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": fmt.Sprintf("kid-%d-%d", round, i)})
				rec := a.get(forged)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("forged kid: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Wait()
	}
	flood(0)
	require.EqualValues(t, 2, keys.fetches.Load())
	a.op.Advance(10 * time.Second)
	flood(1)
	require.EqualValues(t, 2, keys.fetches.Load(), "within the cooldown")
	a.op.Advance(25 * time.Second)
	flood(2)
	require.EqualValues(t, 3, keys.fetches.Load(), "one per cooldown")
	requireOK(t, "alice ", a.get(jwt))
}

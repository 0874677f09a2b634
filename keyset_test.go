package httpoidc

import (
	"context"
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

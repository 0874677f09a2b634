package httpoidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// asymmetricAlgorithms are the only signature algorithms ever accepted: a
// JWT with alg none or an HMAC algorithm is refused before any key is
// looked at, so a public key can never be used as an HMAC secret.
var asymmetricAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

var errUnknownKey = errors.New("no key in the provider's JWKS matches the token")

// keySet is an oidc.KeySet over the provider's JWKS that, unlike go-oidc's
// RemoteKeySet, expires its keys (refreshInterval) and rate-limits the
// refetch an unknown kid causes (cooldown), so a flood of forged kids costs
// at most one fetch per cooldown. When the JWKS endpoint is down the known
// keys keep working and fetches back off.
type keySet struct {
	url             string
	client          *http.Client
	timeout         time.Duration
	refreshInterval time.Duration
	cooldown        time.Duration
	now             func() time.Time
	algorithms      []jose.SignatureAlgorithm

	keys atomic.Pointer[keyMap]
	// next is the time (Unix nanoseconds) before which no fetch starts. It
	// is written under mu but read without it by has, on the cache hit
	// path.
	next    atomic.Int64
	mu      sync.Mutex    // guards the fetch state below
	retries int           // consecutive failed fetches
	pending chan struct{} // closed when the fetch under way ends
	lastErr error         // result of the last fetch
	fetches atomic.Int64
}

type keyMap struct {
	byID map[string][]*verificationKey
	all  []*verificationKey
	// thumbprints holds the RFC 7638 thumbprint of every key, which names a
	// key by its content: a kid reused for a new key is another key.
	thumbprints map[string]struct{}
	fetchedAt   time.Time
}

type verificationKey struct {
	jwk        jose.JSONWebKey
	thumbprint string
}

func newKeySet(url string, client *http.Client, cfg *Config, algorithms []jose.SignatureAlgorithm) *keySet {
	return &keySet{
		url:             url,
		client:          client,
		timeout:         cfg.Timeout,
		refreshInterval: cfg.KeyRefreshInterval,
		cooldown:        cfg.KeyRefetchCooldown,
		now:             cfg.Now,
		algorithms:      algorithms,
	}
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, _, _, err := k.verify(ctx, jwt)
	return payload, err
}

// verify checks the JWS signature of jwt and returns its payload, its
// protected header and the thumbprint of the key that verified it, for has.
func (k *keySet) verify(ctx context.Context, jwt string) (payload []byte, header jwsHeader, thumbprint string, err error) {
	jws := splitJWS(jwt)
	if jws == nil {
		return nil, jwsHeader{}, "", fmt.Errorf("%w: malformed or disallowed JWS: %w", ErrInvalidToken, errMalformedJWS)
	}
	if thumbprint, err = k.verifyJWS(ctx, jws); err != nil {
		return nil, jws.header, "", err
	}
	return jws.payload, jws.header, thumbprint, nil
}

// verifyJWS is verify for a JWS that splitJWS returned.
func (k *keySet) verifyJWS(ctx context.Context, jws *compactJWS) (thumbprint string, err error) {
	if err := jws.check(k.algorithms); err != nil {
		return "", fmt.Errorf("%w: malformed or disallowed JWS: %w", ErrInvalidToken, err)
	}
	keys, err := k.current(ctx, jws.header.KeyID)
	if err != nil {
		return "", err
	}
	for _, key := range keys.candidates(jws.header.KeyID) {
		if jws.verify(key.jwk.Key) {
			return key.thumbprint, nil
		}
	}
	return "", fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
}

// has reports whether the key with this thumbprint may still vouch for a
// token verified earlier: the key set holds it and is not due for a
// refresh. A due refresh makes the caller verify again, which fetches the
// JWKS, so a key removed at the provider stops vouching for cached tokens
// within refreshInterval. While fetches are failing (the JWKS endpoint is
// down) the known keys keep vouching.
func (k *keySet) has(thumbprint string, now time.Time) bool {
	keys := k.keys.Load()
	if keys == nil {
		return false
	}
	if now.Sub(keys.fetchedAt) >= k.refreshInterval && now.UnixNano() >= k.next.Load() {
		return false
	}
	_, ok := keys.thumbprints[thumbprint]
	return ok
}

func (m *keyMap) candidates(kid string) []*verificationKey {
	if kid == "" {
		return m.all
	}
	return m.byID[kid]
}

// current returns the keys to verify a token signed with kid, fetching the
// JWKS when it was never fetched, is older than refreshInterval, or lacks
// kid and the cooldown allows a refetch.
func (k *keySet) current(ctx context.Context, kid string) (*keyMap, error) {
	keys := k.keys.Load()
	stale := keys == nil || k.now().Sub(keys.fetchedAt) >= k.refreshInterval
	missing := keys != nil && len(keys.candidates(kid)) == 0
	if !stale && !missing {
		return keys, nil
	}
	fresh, err := k.refresh(ctx, stale)
	switch {
	case err == nil:
		keys = fresh
	case keys == nil:
		return nil, err
	}
	if len(keys.candidates(kid)) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errUnknownKey)
	}
	return keys, nil
}

var errFetchDeferred = fmt.Errorf("%w: JWKS fetch deferred by cooldown", ErrProviderUnavailable)

// refresh fetches the JWKS, or waits for the fetch already under way. A
// fetch for an unknown kid (due false) is allowed once per cooldown; after
// a failure every fetch backs off exponentially up to refreshInterval.
func (k *keySet) refresh(ctx context.Context, due bool) (*keyMap, error) {
	k.mu.Lock()
	done := k.pending
	if done == nil {
		now := k.now()
		if now.UnixNano() < k.next.Load() {
			k.mu.Unlock()
			return nil, errFetchDeferred
		}
		if !due {
			k.next.Store(now.Add(k.cooldown).UnixNano())
		}
		done = make(chan struct{})
		k.pending = done
		// The fetch runs on its own so that a caller giving up does not
		// abort it for the others waiting.
		go k.fetchInto(done)
	}
	k.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: fetching JWKS: %w", ErrProviderUnavailable, ctx.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastErr != nil {
		return nil, k.lastErr
	}
	return k.keys.Load(), nil
}

func (k *keySet) fetchInto(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	keys, err := k.download(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending, k.lastErr = nil, err
	if err != nil {
		k.retries++
		k.next.Store(k.now().Add(min(k.cooldown<<min(k.retries-1, 10), k.refreshInterval)).UnixNano())
	} else {
		k.retries = 0
		k.keys.Store(keys)
	}
	close(done)
}

func (k *keySet) download(ctx context.Context) (*keyMap, error) {
	k.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS request: %w", ErrInvalidConfig, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching JWKS: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: reading JWKS: %w", ErrProviderUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: JWKS endpoint answered %s", ErrProviderUnavailable, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%w: JWKS is not JSON: %w", ErrProviderUnavailable, err)
	}
	keys := &keyMap{byID: make(map[string][]*verificationKey), thumbprints: make(map[string]struct{}), fetchedAt: k.now()}
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		// Keys of unknown types are skipped, as RFC 7517 §5 asks, rather
		// than failing the whole set.
		if err := jwk.UnmarshalJSON(raw); err != nil || !usableVerificationKey(jwk) {
			continue
		}
		thumbprint, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			continue
		}
		key := &verificationKey{jwk: jwk, thumbprint: string(thumbprint)}
		keys.all = append(keys.all, key)
		keys.thumbprints[key.thumbprint] = struct{}{}
		if jwk.KeyID != "" {
			keys.byID[jwk.KeyID] = append(keys.byID[jwk.KeyID], key)
		}
	}
	return keys, nil
}

// usableVerificationKey keeps only public signature keys: a symmetric key
// published in a JWKS must never verify anything.
func usableVerificationKey(key jose.JSONWebKey) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	switch key.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// signingAlgorithms intersects the provider's advertised ID token
// algorithms with the asymmetric ones; no advertisement means all of them.
func signingAlgorithms(advertised []string) []jose.SignatureAlgorithm {
	if len(advertised) == 0 {
		return asymmetricAlgorithms
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range asymmetricAlgorithms {
		for _, b := range advertised {
			if string(a) == b {
				algs = append(algs, a)
			}
		}
	}
	if len(algs) == 0 {
		return asymmetricAlgorithms
	}
	return algs
}

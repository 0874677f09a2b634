package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// DPoPKey is a client's DPoP key (RFC 9449), for tests of APIs that take
// DPoP-bound tokens: issue a bound token with TokenRequest's
// DPoPKeyThumbprint set to Thumbprint, and send it with a Proof. A replayed
// proof is the same Proof sent twice; a proof without the server's nonce
// is one made with nonce "".
type DPoPKey struct {
	key   *dpop.Key
	other *dpop.Key // for ProofSignedWithOtherKey
}

// ProofFault makes DPoPKey.FaultyProof wrong in one way.
type ProofFault int

const (
	// ProofWrongATH binds the proof to another access token (ath).
	ProofWrongATH ProofFault = iota + 1
	// ProofHTUMismatch makes the proof for another URL (htu).
	ProofHTUMismatch
	// ProofHTMMismatch makes the proof for another method (htm).
	ProofHTMMismatch
	// ProofSignedWithOtherKey signs the proof with a key other than the one
	// the token is bound to (with that other key in its jwk header).
	ProofSignedWithOtherKey
	// ProofExpired dates the proof (iat) ten minutes ago.
	ProofExpired
)

// NewDPoPKey returns a new P-256 DPoP key; it panics only if the system's
// random source fails.
func NewDPoPKey() *DPoPKey {
	return &DPoPKey{key: newDPoPSigner(), other: newDPoPSigner()}
}

func newDPoPSigner() *dpop.Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("oidctest: generating a DPoP key: %v", err))
	}
	k, err := dpop.NewKey(priv, "", nil)
	if err != nil {
		panic(fmt.Sprintf("oidctest: DPoP key: %v", err))
	}
	return k
}

// Thumbprint returns the key's RFC 7638 thumbprint, the cnf.jkt of tokens
// bound to it.
func (k *DPoPKey) Thumbprint() string { return k.key.Thumbprint() }

// Proof returns a fresh, valid proof for a request: method and absolute
// URL, the access token it is sent with ("" for none) and the server's
// nonce ("" for none).
func (k *DPoPKey) Proof(method, url, accessToken, nonce string) string {
	p, err := k.key.Proof(method, url, accessToken, nonce)
	if err != nil {
		panic(fmt.Sprintf("oidctest: DPoP proof: %v", err))
	}
	return p
}

// FaultyProof is Proof made wrong by f.
func (k *DPoPKey) FaultyProof(f ProofFault, method, url, accessToken, nonce string) string {
	signer := k.key
	claims := dpop.Claims{ID: dpop.NewID(), Method: method, URL: url, IssuedAt: jwt.NewNumericDate(time.Now()), Nonce: nonce}
	if accessToken != "" {
		claims.AccessTokenHash = dpop.AccessTokenHash(accessToken)
	}
	switch f {
	case ProofWrongATH:
		claims.AccessTokenHash = dpop.AccessTokenHash(accessToken + "-other")
	case ProofHTUMismatch:
		claims.URL = url + "/other"
	case ProofHTMMismatch:
		claims.Method = "PATCH"
		if method == "PATCH" {
			claims.Method = "PUT"
		}
	case ProofSignedWithOtherKey:
		signer = k.other
	case ProofExpired:
		claims.IssuedAt = jwt.NewNumericDate(time.Now().Add(-10 * time.Minute))
	default:
		panic(fmt.Sprintf("oidctest: unknown ProofFault %d", f))
	}
	p, err := signer.Sign(claims)
	if err != nil {
		panic(fmt.Sprintf("oidctest: DPoP proof: %v", err))
	}
	return p
}

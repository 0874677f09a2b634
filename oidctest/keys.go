package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is immutable once created, so requests may use a snapshot of
// it without holding the server lock.
type signingKey struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

func newSigningKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch jose.SignatureAlgorithm(alg) {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("oidctest: unsupported signing algorithm %q (want RS256, ES256 or EdDSA)", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oidctest: generating %s key: %w", alg, err)
	}
	k := &signingKey{alg: jose.SignatureAlgorithm(alg), priv: priv}
	// The RFC 7638 thumbprint makes the kid unique per key without any
	// counter state.
	jwk := jose.JSONWebKey{Key: priv.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oidctest: key thumbprint: %w", err)
	}
	k.kid = base64.RawURLEncoding.EncodeToString(tp)
	return k, nil
}

func (k *signingKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// halfHash computes at_hash (OpenID Connect Core §3.1.3.6). EdDSA follows
// the common (and go-oidc's) choice of SHA-512.
func (k *signingKey) halfHash(token string) string {
	var sum []byte
	if k.alg == jose.EdDSA {
		h := sha512.Sum512([]byte(token))
		sum = h[:]
	} else {
		h := sha256.Sum256([]byte(token))
		sum = h[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// RotateKey replaces the signing key with a new one with a new kid. With
// keepOld the previous public keys stay in the JWKS, so tokens signed
// before the rotation still verify; without it they are dropped.
func (s *Server) RotateKey(keepOld bool) {
	k, err := newSigningKey(s.opts.alg)
	if err != nil {
		s.log.Error("oidctest: key rotation failed, keeping the current key", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keepOld {
		s.oldKeys = append(s.oldKeys, s.key)
	} else {
		s.oldKeys = nil
	}
	s.key = k
}

// ensureDecoyKey creates the unrelated key FaultNoKIDMultipleKeys publishes.
// It is generated lazily because an RSA key costs tens of milliseconds and
// most servers never need it.
func (s *Server) ensureDecoyKey() {
	s.mu.Lock()
	have := s.decoy != nil
	s.mu.Unlock()
	if have {
		return
	}
	k, err := newSigningKey(s.opts.alg)
	if err != nil {
		s.log.Error("oidctest: generating the extra JWKS key failed", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decoy == nil {
		s.decoy = k
	}
}

// jwks returns the published key set, shaped by the kid faults.
func (s *Server) jwks() jose.JSONWebKeySet {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.key.publicJWK()}}
	switch {
	case s.faults.has(FaultNoKIDMultipleKeys) && s.decoy != nil:
		set.Keys = append(set.Keys, s.decoy.publicJWK())
	case s.faults.has(FaultNoKID):
		// The single-key variant must really publish a single key.
		return set
	}
	for _, k := range s.oldKeys {
		set.Keys = append(set.Keys, k.publicJWK())
	}
	return set
}

// verificationKeys are the keys a token this server issued may be signed
// with; used to check id_token_hint.
func (s *Server) verificationKeys() []*signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*signingKey{s.key}, s.oldKeys...)
}

// signJWT serializes claims as a compact JWS with the given typ header and
// applies the signature faults in fs. secret is the client secret used by
// FaultHS256ClientSecret.
func signJWT(k *signingKey, fs faultSet, typ string, claims map[string]any, secret string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encoding claims: %w", err)
	}
	var token string
	switch {
	case fs.has(FaultAlgNone):
		return unsignedJWT(typ, payload)
	case fs.has(FaultHS256ClientSecret):
		token, err = hmacJWT(typ, payload, secret)
	default:
		withKID := !fs.has(FaultNoKID) && !fs.has(FaultNoKIDMultipleKeys)
		token, err = k.sign(typ, payload, withKID)
	}
	if err != nil {
		return "", err
	}
	if fs.has(FaultBadSignature) {
		return corruptSignature(token)
	}
	return token, nil
}

func (k *signingKey) sign(typ string, payload []byte, withKID bool) (string, error) {
	var key any = k.priv
	if withKID {
		key = jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(k.alg)}
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		// Some providers (Dex, Okta, Cognito) send no typ at all.
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("oidctest: creating signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: signing: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oidctest: serializing JWS: %w", err)
	}
	return token, nil
}

func jwtHeader(alg, typ string) (string, error) {
	header := map[string]string{"alg": alg}
	if typ != "" {
		header["typ"] = typ
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("oidctest: encoding header: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}

// unsignedJWT is built by hand because go-jose deliberately cannot produce
// alg "none".
func unsignedJWT(typ string, payload []byte) (string, error) {
	h, err := jwtHeader("none", typ)
	if err != nil {
		return "", err
	}
	return h + "." + base64.RawURLEncoding.EncodeToString(payload) + ".", nil
}

// hmacJWT is built by hand because go-jose refuses HMAC keys shorter than
// 256 bits, and test client secrets usually are.
func hmacJWT(typ string, payload []byte, secret string) (string, error) {
	h, err := jwtHeader("HS256", typ)
	if err != nil {
		return "", err
	}
	input := h + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

func corruptSignature(token string) (string, error) {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return "", fmt.Errorf("oidctest: decoding signature: %w", err)
	}
	if len(sig) == 0 {
		return "", errors.New("oidctest: token has no signature to corrupt")
	}
	sig[0] ^= 0xff
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig), nil
}

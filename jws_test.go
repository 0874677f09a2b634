package httpoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// parseCompactJWS parses raw as the key set does (splitJWS, then check),
// accepting only an algorithm in allowed.
func parseCompactJWS(raw string, allowed []jose.SignatureAlgorithm) (*compactJWS, error) {
	jws := splitJWS(raw)
	if jws == nil {
		return nil, errMalformedJWS
	}
	return jws, jws.check(allowed)
}

// TestCompactJWS checks parseCompactJWS and verify against JWSs that
// go-jose signs, and the forgeries RFC 8725 warns of.
func TestCompactJWS(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sign := func(alg jose.SignatureAlgorithm, key any, extra map[jose.HeaderKey]any) string {
		opts := &jose.SignerOptions{ExtraHeaders: extra}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("at+jwt"))
		require.NoError(t, err)
		jws, err := signer.Sign([]byte(`{"sub":"alice"}`))
		require.NoError(t, err)
		s, err := jws.CompactSerialize()
		require.NoError(t, err)
		return s
	}
	b64 := base64.RawURLEncoding.EncodeToString
	hs256 := func(secret []byte) string {
		input := b64([]byte(`{"alg":"HS256"}`)) + "." + b64([]byte(`{"sub":"alice"}`))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + b64(mac.Sum(nil))
	}
	relabel := func(raw, header string) string { return b64([]byte(header)) + raw[strings.IndexByte(raw, '.'):] }
	rs256 := sign(jose.RS256, rsaKey, nil)
	der := rsaKey.PublicKey.N.Bytes()
	tests := []struct {
		name  string
		raw   string
		key   crypto.PublicKey
		parse bool // parses
		ok    bool // verifies
	}{
		{"RS256", rs256, &rsaKey.PublicKey, true, true},
		{"PS256", sign(jose.PS256, rsaKey, nil), &rsaKey.PublicKey, true, true},
		{"RS512", sign(jose.RS512, rsaKey, nil), &rsaKey.PublicKey, true, true},
		{"ES256", sign(jose.ES256, p256, nil), &p256.PublicKey, true, true},
		{"ES384", sign(jose.ES384, p384, nil), &p384.PublicKey, true, true},
		{"EdDSA", sign(jose.EdDSA, edKey, nil), edPub, true, true},
		{"RS256 with an EC key", rs256, &p256.PublicKey, true, false},
		{"ES256 with a P-384 key", sign(jose.ES256, p256, nil), &p384.PublicKey, true, false},
		{"ES256 header on a P-384 signature", relabel(sign(jose.ES384, p384, nil), `{"alg":"ES256"}`), &p384.PublicKey, true, false},
		{"EdDSA with an RSA key", sign(jose.EdDSA, edKey, nil), &rsaKey.PublicKey, true, false},
		{"another key", rs256, &p256.PublicKey, true, false},
		{"payload changed", strings.Replace(rs256, "."+b64([]byte(`{"sub":"alice"}`))+".", "."+b64([]byte(`{"sub":"admin"}`))+".", 1), &rsaKey.PublicKey, true, false},
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"sub":"alice"}`)) + ".", &rsaKey.PublicKey, false, false},
		{"HS256 keyed with the public key", hs256(der), &rsaKey.PublicKey, false, false},
		{"critical extension", sign(jose.RS256, rsaKey, map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}), &rsaKey.PublicKey, false, false},
		{"four parts", rs256 + ".x", &rsaKey.PublicKey, false, false},
		{"two parts", rs256[:strings.LastIndexByte(rs256, '.')], &rsaKey.PublicKey, false, false},
		{"header not base64url", "*" + rs256, &rsaKey.PublicKey, false, false},
		{"signature not base64url", rs256 + "*", &rsaKey.PublicKey, false, false},
		{"header not JSON", relabel(rs256, "alg"), &rsaKey.PublicKey, false, false},
		{"typ not a string", relabel(rs256, `{"alg":"RS256","typ":1}`), &rsaKey.PublicKey, false, false},
		{"crit null", relabel(rs256, `{"alg":"RS256","crit":null}`), &rsaKey.PublicKey, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jws, err := parseCompactJWS(tt.raw, asymmetricAlgorithms)
			if !tt.parse {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ok, jws.verify(tt.key))
			if tt.ok {
				require.JSONEq(t, `{"sub":"alice"}`, string(jws.payload))
				require.Equal(t, "at+jwt", jws.header.Type)
			}
		})
	}
	t.Run("an algorithm not allowed", func(t *testing.T) {
		_, err := parseCompactJWS(sign(jose.PS256, rsaKey, nil), []jose.SignatureAlgorithm{jose.RS256})
		require.Error(t, err)
	})
}

package httpoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// compactJWS is a JWS in the compact serialization (RFC 7515 §7.1), parsed
// once: the header read into the fields the checks need, the payload and
// signature decoded, and the signing input kept as it came. It replaces
// go-jose's parse, whose generic header map and JSON decoder cost more
// than everything but the signature check on a new token.
type compactJWS struct {
	header       jwsHeader
	signingInput string
	// encodedPayload and encodedSignature are decoded by check into
	// payload and signature.
	encodedPayload, encodedSignature string
	payload                          []byte
	signature                        []byte
}

// jwsHeader is the protected header, as far as anything here reads it.
type jwsHeader struct {
	Algorithm string
	KeyID     string
	Type      string
	// Critical lists extensions the recipient must understand (RFC 7515
	// §4.1.11); this package understands none, so any is refused.
	Critical jsonValue
}

var errMalformedJWS = errors.New("malformed JWS")

// splitJWS returns raw as a compact JWS with its header read, or nil if
// raw is not shaped as one: three dot-separated parts, the first a
// base64url JSON object with an alg. Its payload and signature are
// decoded by check.
func splitJWS(raw string) *compactJWS {
	header, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil
	}
	payload, signature, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(signature, '.') >= 0 {
		return nil
	}
	jws := &compactJWS{signingInput: raw[:len(header)+1+len(payload)], encodedPayload: payload, encodedSignature: signature}
	decoded, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil || jws.header.read(stringOf(decoded)) != nil || jws.header.Algorithm == "" {
		return nil
	}
	return jws
}

// read reads the header parameters from doc, a JSON object. RFC 7515 §4
// names are case-sensitive; a parameter of the wrong type makes the
// header malformed, and null is as good as absent.
func (h *jwsHeader) read(doc string) error {
	malformed := false
	text := func(v jsonValue) string {
		s, ok := v.str()
		malformed = malformed || (!ok && v != "null")
		return s
	}
	err := eachMember(doc, func(name string, v jsonValue) {
		switch name {
		case "alg":
			h.Algorithm = text(v)
		case "kid":
			h.KeyID = text(v)
		case "typ":
			h.Type = text(v)
		case "crit":
			h.Critical = v
		}
	})
	if err != nil || malformed {
		return errMalformedJWS
	}
	return nil
}

// check refuses an algorithm not in allowed and any critical extension,
// and decodes the payload and the signature.
func (jws *compactJWS) check(allowed []jose.SignatureAlgorithm) error {
	// RFC 7515 §4.1.11: an extension the recipient does not understand
	// makes the JWS invalid. "crit": null is as good as absent.
	if crit := jws.header.Critical; crit.present() && crit != "null" {
		return errors.New("unsupported critical header parameters")
	}
	// RFC 8725 §3.1: the algorithm is one of those allowed, which are all
	// asymmetric: never "none", never an HMAC keyed with a public key.
	if !slices.Contains(allowed, jose.SignatureAlgorithm(jws.header.Algorithm)) {
		return errors.New("disallowed signature algorithm")
	}
	var err error
	if jws.payload, err = base64.RawURLEncoding.DecodeString(jws.encodedPayload); err != nil {
		return errMalformedJWS
	}
	if jws.signature, err = base64.RawURLEncoding.DecodeString(jws.encodedSignature); err != nil {
		return errMalformedJWS
	}
	return nil
}

// verify checks the signature with key, which must be of the type the
// algorithm names (RFC 7518 §3): an RSA key for RS* and PS*, an EC key on
// the algorithm's curve for ES*, an Ed25519 key for EdDSA.
func (jws *compactJWS) verify(key crypto.PublicKey) bool {
	alg := jose.SignatureAlgorithm(jws.header.Algorithm)
	var hash crypto.Hash
	switch alg {
	case jose.RS256, jose.PS256, jose.ES256:
		hash = crypto.SHA256
	case jose.RS384, jose.PS384, jose.ES384:
		hash = crypto.SHA384
	case jose.RS512, jose.PS512, jose.ES512:
		hash = crypto.SHA512
	case jose.EdDSA:
		pub, ok := key.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, []byte(jws.signingInput), jws.signature)
	default:
		return false
	}
	h := hash.New()
	_, _ = h.Write([]byte(jws.signingInput))
	digest := h.Sum(nil)
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512:
		pub, ok := key.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(pub, hash, digest, jws.signature) == nil
	case jose.PS256, jose.PS384, jose.PS512:
		pub, ok := key.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(pub, hash, digest, jws.signature, nil) == nil
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	var curve elliptic.Curve
	var size int
	switch alg {
	case jose.ES256:
		curve, size = elliptic.P256(), 32
	case jose.ES384:
		curve, size = elliptic.P384(), 48
	default:
		curve, size = elliptic.P521(), 66
	}
	// RFC 7518 §3.4: the signature is R and S, each of the curve's size.
	if pub.Curve != curve || len(jws.signature) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(jws.signature[:size])
	s := new(big.Int).SetBytes(jws.signature[size:])
	return ecdsa.Verify(pub, digest, r, s)
}

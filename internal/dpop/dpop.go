// Package dpop creates and verifies DPoP proofs (RFC 9449): the JWTs a
// client signs with its own key for each HTTP request, binding access
// tokens to that key. The library uses it on both sides (its login client
// and AcceptToken), and so does oidctest, which cannot import the library.
//
// What a single proof can be checked for is checked here (RFC 9449 §4.3
// steps 1–11 except the nonce value and jti replay, which need state the
// caller holds).
package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Type is the typ header of every DPoP proof (RFC 9449 §4.2).
const Type = "dpop+jwt"

// MaxProofSize bounds the proofs Verify will parse: a proof is a handful
// of claims and one public key; an RSA-4096 proof is under 2 KiB.
const MaxProofSize = 8 << 10

// Algorithms are the asymmetric JWS algorithms a proof may be signed with
// (RFC 9449 §4.3 step 5: not none, not a MAC).
var Algorithms = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.RS384, jose.RS512,
}

var (
	// ErrInvalidProof is wrapped by every error Verify returns for a
	// proof that is malformed or fails a check (error code
	// invalid_dpop_proof, RFC 9449 §7.1).
	ErrInvalidProof = errors.New("invalid DPoP proof")
	// ErrUseNonce is returned by callers when a proof lacks the nonce the
	// server requires, or carries a stale one (error code use_dpop_nonce,
	// RFC 9449 §8 and §9).
	ErrUseNonce = errors.New("DPoP nonce required")
)

// Thumbprint returns the base64url SHA-256 JWK thumbprint (RFC 7638) of
// a public key, the value of cnf.jkt (RFC 9449 §6).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// AccessTokenHash returns the ath claim for an access token: the
// base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DefaultAlgorithm returns the algorithm a key of this type signs with
// unless told otherwise: ES256/384/512 by curve, EdDSA, or PS256 for RSA
// (FAPI 2.0 §5.4 allows PS256, ES256 and EdDSA, not RS256).
func DefaultAlgorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.PS256, nil
	}
	return "", fmt.Errorf("dpop: unsupported key type %T", pub)
}

// Key is a DPoP key: it signs proofs and knows its thumbprint. It is safe
// for concurrent use.
type Key struct {
	signer     jose.Signer
	alg        jose.SignatureAlgorithm
	thumbprint string
	now        func() time.Time
}

// NewKey returns a Key signing with priv using alg (DefaultAlgorithm when
// empty). priv may be any crypto.Signer with an ECDSA, Ed25519 or RSA
// public key, such as a key in a KMS. now is the clock for iat (time.Now
// when nil). NewKey returns an error for other key types or an alg the key
// cannot sign with.
func NewKey(priv crypto.Signer, alg jose.SignatureAlgorithm, now func() time.Time) (*Key, error) {
	if priv == nil {
		return nil, errors.New("dpop: no key")
	}
	if alg == "" {
		var err error
		if alg, err = DefaultAlgorithm(priv.Public()); err != nil {
			return nil, err
		}
	}
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("dpop: %s is not an asymmetric signature algorithm", alg)
	}
	thumbprint, err := Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	var key any = priv
	switch priv.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
	default:
		key = cryptosigner.Opaque(priv)
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(Type)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Key{signer: signer, alg: alg, thumbprint: thumbprint, now: now}, nil
}

// Algorithm returns the JWS algorithm the key signs proofs with.
func (k *Key) Algorithm() jose.SignatureAlgorithm { return k.alg }

// Thumbprint returns the key's RFC 7638 thumbprint, the jkt a token bound
// to it carries.
func (k *Key) Thumbprint() string { return k.thumbprint }

// Claims are the claims of a DPoP proof (RFC 9449 §4.2).
type Claims struct {
	ID              string           `json:"jti"`
	Method          string           `json:"htm"`
	URL             string           `json:"htu"`
	IssuedAt        *jwt.NumericDate `json:"iat"`
	AccessTokenHash string           `json:"ath,omitempty"`
	Nonce           string           `json:"nonce,omitempty"`
}

// Proof returns a fresh proof for a request with this method and URL
// (its query and fragment are left out of htu, RFC 9449 §4.2), with a
// new random jti and iat now. accessToken, when not empty, is bound by
// ath; nonce, when not empty, is the server's last DPoP-Nonce.
func (k *Key) Proof(method, target, accessToken, nonce string) (string, error) {
	htu, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("dpop: htu: %w", err)
	}
	htu.RawQuery, htu.ForceQuery, htu.Fragment, htu.RawFragment = "", false, "", ""
	claims := Claims{
		ID:       NewID(),
		Method:   method,
		URL:      htu.String(),
		IssuedAt: jwt.NewNumericDate(k.now()),
		Nonce:    nonce,
	}
	if accessToken != "" {
		claims.AccessTokenHash = AccessTokenHash(accessToken)
	}
	return k.Sign(claims)
}

// Sign signs arbitrary proof claims with the key. Tests use it to build
// proofs that are wrong on purpose; clients use Proof.
func (k *Key) Sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("dpop: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// NewID returns a random jti: 128 bits, base64url.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}

// Request is what a proof is checked against.
type Request struct {
	// Method and URL are the HTTP method and the absolute URL of the
	// request as the client sent it (behind a proxy, as the proxy
	// received it).
	Method string
	URL    string
	// AccessToken is the token presented with the proof; when not empty
	// the proof's ath must be its hash (RFC 9449 §4.3 step 11).
	AccessToken string
	// Now is the time of the check; MaxAge how old iat may be and Leeway
	// the clock skew allowed both ways (RFC 9449 §4.3 step 11, §11.1).
	Now    time.Time
	MaxAge time.Duration
	Leeway time.Duration
	// Algorithms are those accepted (all of Algorithms when nil).
	Algorithms []jose.SignatureAlgorithm
}

// Proof is a verified DPoP proof.
type Proof struct {
	Claims
	// Key is the public key the proof was signed with (its jwk header).
	Key jose.JSONWebKey
	// Thumbprint is Key's RFC 7638 thumbprint, to compare with a token's
	// cnf.jkt.
	Thumbprint string
}

// Verify parses a DPoP proof and checks it against the request: one
// well-formed JWT (RFC 9449 §4.3 steps 1–3), typ dpop+jwt (4), an
// asymmetric alg among those accepted (5), a signature by the public key
// in its jwk header (6, 7), htm and htu matching the request (8, 9),
// iat within the window (11) and, with an access token, ath (11). The
// nonce and jti replay are left to the caller, whose state they need.
// Every error wraps ErrInvalidProof.
func Verify(proof string, req Request) (*Proof, error) {
	p, err := verify(proof, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	return p, nil
}

func verify(proof string, req Request) (*Proof, error) {
	if proof == "" {
		return nil, errors.New("no proof")
	}
	if len(proof) > MaxProofSize {
		return nil, errors.New("proof too large")
	}
	algs := Algorithms
	if req.Algorithms != nil {
		// §4.3 step 5: only asymmetric algorithms, whatever the caller lists.
		algs = slices.DeleteFunc(slices.Clone(req.Algorithms), func(a jose.SignatureAlgorithm) bool { return !slices.Contains(Algorithms, a) })
	}
	tok, err := jwt.ParseSigned(proof, algs)
	if err != nil {
		return nil, err
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("not one signature")
	}
	h := tok.Headers[0]
	// §4.3 step 4: typ dpop+jwt, so that no other kind of JWT (an ID token
	// or client assertion) passes as a proof.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return nil, fmt.Errorf("typ %q is not %s", typ, Type)
	}
	// §4.3 step 7: the jwk header is a public key (go-jose refuses a
	// header jwk with private parameters); the signature is checked with
	// it, which is what binds the proof to that key.
	if h.JSONWebKey == nil || !h.JSONWebKey.Valid() {
		return nil, errors.New("no jwk header")
	}
	var claims Claims
	if err := tok.Claims(h.JSONWebKey.Key, &claims); err != nil {
		return nil, err
	}
	if claims.ID == "" || claims.IssuedAt == nil {
		return nil, errors.New("jti and iat are required")
	}
	// §4.3 step 8: htm is the request's method, compared as is.
	if claims.Method != req.Method {
		return nil, fmt.Errorf("htm %q is not the request method %s", claims.Method, req.Method)
	}
	// §4.3 step 9: htu is the request's URI without query and fragment,
	// after syntax- and scheme-based normalization (RFC 3986 §6.2.2–3).
	if !SameURL(claims.URL, req.URL) {
		return nil, fmt.Errorf("htu %q is not the request URL", claims.URL)
	}
	// §4.3 step 11, §11.1: a proof is short-lived; iat bounds its use.
	iat := claims.IssuedAt.Time()
	if iat.After(req.Now.Add(req.Leeway)) {
		return nil, errors.New("iat is in the future")
	}
	if iat.Before(req.Now.Add(-req.MaxAge - req.Leeway)) {
		return nil, errors.New("proof too old")
	}
	// §4.3 step 11 (§4.2 ath): the proof was made for this access token.
	if req.AccessToken != "" {
		if claims.AccessTokenHash == "" {
			return nil, errors.New("no ath for the access token")
		}
		if subtle.ConstantTimeCompare([]byte(claims.AccessTokenHash), []byte(AccessTokenHash(req.AccessToken))) != 1 {
			return nil, errors.New("ath does not match the access token")
		}
	}
	thumbprint, err := Thumbprint(h.JSONWebKey.Key)
	if err != nil {
		return nil, err
	}
	return &Proof{Claims: claims, Key: *h.JSONWebKey, Thumbprint: thumbprint}, nil
}

// SameURL reports whether two URLs are the same htu: equal without query
// and fragment after RFC 3986 §6.2.2 syntax-based normalization (case of
// scheme, host and percent-encodings; unreserved characters decoded; dot
// segments removed) and §6.2.3 scheme-based normalization (default port,
// empty path is /), as RFC 9449 §4.3 recommends.
func SameURL(a, b string) bool {
	na, ok := normalize(a)
	if !ok {
		return false
	}
	nb, ok := normalize(b)
	return ok && na == nb
}

func normalize(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	// EscapedPath re-encodes what needs encoding, with upper-case hex,
	// from the decoded path: unreserved characters come out decoded.
	path := (&url.URL{Path: u.Path}).EscapedPath()
	if u.RawPath != "" {
		// The path has encoded reserved characters (%2F) that must stay.
		path = normalizeEscapes(u.RawPath)
	}
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// normalizeEscapes upper-cases percent-encodings and decodes those of
// unreserved characters (RFC 3986 §6.2.2.1–2).
func normalizeEscapes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			hex := strings.ToUpper(p[i+1 : i+3])
			if n, err := strconv.ParseUint(hex, 16, 8); err == nil {
				if c := byte(n); isUnreserved(c) {
					b.WriteByte(c)
				} else {
					b.WriteString("%" + hex)
				}
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

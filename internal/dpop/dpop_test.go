package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return now }

func newKey(t *testing.T) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	k, err := NewKey(priv, "", clock)
	require.NoError(t, err)
	return k
}

func request(token string) Request {
	return Request{Method: "GET", URL: "https://api.example/v1/things?x=1", AccessToken: token, Now: now, MaxAge: time.Minute, Leeway: 5 * time.Second}
}

// RFC 7638 §3.1's example key and thumbprint.
func TestThumbprintRFC7638(t *testing.T) {
	var jwk jose.JSONWebKey
	require.NoError(t, jwk.UnmarshalJSON([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`)))
	got, err := Thumbprint(jwk.Key)
	require.NoError(t, err)
	require.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", got)
}

// RFC 9449 §4.2's ath is the base64url SHA-256 of the token.
func TestAccessTokenHash(t *testing.T) {
	require.Equal(t, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo", AccessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"))
}

func TestProofRoundTripEveryKeyType(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		priv crypto.Signer
		alg  jose.SignatureAlgorithm
		want jose.SignatureAlgorithm
	}{
		{"P-384", ec, "", jose.ES384},
		{"Ed25519", ed, "", jose.EdDSA},
		{"RSA", rs, "", jose.PS256},
		{"RSA RS256", rs, jose.RS256, jose.RS256},
		{"opaque signer", opaque{ec}, "", jose.ES384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKey(tc.priv, tc.alg, clock)
			require.NoError(t, err)
			require.Equal(t, tc.want, k.Algorithm())
			proof, err := k.Proof("GET", "https://api.example/v1/things?x=1#f", "tok", "n1")
			require.NoError(t, err)
			p, err := Verify(proof, request("tok"))
			require.NoError(t, err)
			require.Equal(t, k.Thumbprint(), p.Thumbprint)
			require.Equal(t, "https://api.example/v1/things", p.URL, "query and fragment are left out of htu")
			require.Equal(t, "n1", p.Nonce)
			require.NotEmpty(t, p.ID)
		})
	}
}

// opaque hides the key's concrete type, as a KMS signer would.
type opaque struct{ crypto.Signer }

func TestNewKeyRefuses(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = NewKey(nil, "", nil)
	require.Error(t, err)
	_, err = NewKey(ec, jose.HS256, nil)
	require.ErrorContains(t, err, "asymmetric")
	_, err = NewKey(ec, jose.PS256, nil)
	require.Error(t, err, "an EC key cannot sign PS256")
}

func TestProofsAreFresh(t *testing.T) {
	k := newKey(t)
	a, err := k.Proof("GET", "https://api.example/", "", "")
	require.NoError(t, err)
	b, err := k.Proof("GET", "https://api.example/", "", "")
	require.NoError(t, err)
	pa, err := Verify(a, Request{Method: "GET", URL: "https://api.example/", Now: now, MaxAge: time.Minute})
	require.NoError(t, err)
	pb, err := Verify(b, Request{Method: "GET", URL: "https://api.example/", Now: now, MaxAge: time.Minute})
	require.NoError(t, err)
	require.NotEqual(t, pa.ID, pb.ID, "each proof has its own jti")
}

// hsProof is a proof MACed with a shared secret, which §4.3 step 5 refuses.
func hsProof(t *testing.T, claims Claims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: make([]byte, 32)}, (&jose.SignerOptions{}).WithType(Type))
	require.NoError(t, err)
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	require.NoError(t, err)
	return out
}

// signWith signs claims with priv but embeds pub: a proof "signed with
// another key".
func signWith(t *testing.T, priv crypto.Signer, pub crypto.PublicKey, typ string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if pub != nil {
		opts = opts.WithHeader("jwk", jose.JSONWebKey{Key: pub})
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, opts)
	require.NoError(t, err)
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	require.NoError(t, err)
	return out
}

func TestVerifyRefuses(t *testing.T) {
	k := newKey(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	mine, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	good := Claims{ID: "j1", Method: "GET", URL: "https://api.example/v1/things", IssuedAt: jwt.NewNumericDate(now), AccessTokenHash: AccessTokenHash("tok")}
	with := func(f func(*Claims)) Claims { c := good; f(&c); return c }
	sign := func(c Claims) string { s, err := k.Sign(c); require.NoError(t, err); return s }

	for _, tc := range []struct {
		name  string
		proof string
		req   Request
		want  string
	}{
		{"empty", "", request("tok"), "no proof"},
		{"too large", string(make([]byte, MaxProofSize+1)), request("tok"), "too large"},
		{"not a JWT", "a.b.c", request("tok"), ""},
		{"MAC", hsProof(t, good), request("tok"), ""},
		{"typ JWT", signWith(t, mine, mine.Public(), "JWT", good), request("tok"), "typ"},
		{"signed with another key than its jwk", signWith(t, other, mine.Public(), Type, good), request("tok"), ""},
		{"private jwk", signWith(t, mine, mine, Type, good), request("tok"), "private"},
		{"no jwk", signWith(t, mine, nil, Type, good), request("tok"), ""},
		{"wrong htm", sign(with(func(c *Claims) { c.Method = "POST" })), request("tok"), "htm"},
		{"htm case", sign(with(func(c *Claims) { c.Method = "get" })), request("tok"), "htm"},
		{"htu other path", sign(with(func(c *Claims) { c.URL = "https://api.example/v1/other" })), request("tok"), "htu"},
		{"htu other host", sign(with(func(c *Claims) { c.URL = "https://evil.example/v1/things" })), request("tok"), "htu"},
		{"htu http", sign(with(func(c *Claims) { c.URL = "http://api.example/v1/things" })), request("tok"), "htu"},
		{"htu relative", sign(with(func(c *Claims) { c.URL = "/v1/things" })), request("tok"), "htu"},
		{"wrong ath", sign(with(func(c *Claims) { c.AccessTokenHash = AccessTokenHash("other") })), request("tok"), "ath"},
		{"no ath", sign(with(func(c *Claims) { c.AccessTokenHash = "" })), request("tok"), "ath"},
		{"no jti", sign(with(func(c *Claims) { c.ID = "" })), request("tok"), "jti"},
		{"no iat", sign(with(func(c *Claims) { c.IssuedAt = nil })), request("tok"), "iat"},
		{"iat in the future", sign(with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(10 * time.Second)) })), request("tok"), "future"},
		{"too old", sign(with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(-66 * time.Second)) })), request("tok"), "old"},
		{"alg not accepted", sign(good), Request{Method: "GET", URL: good.URL, Now: now, MaxAge: time.Minute, Algorithms: []jose.SignatureAlgorithm{jose.EdDSA}}, ""},
		{"HS256 listed by the caller", hsProof(t, good), Request{Method: "GET", URL: good.URL, Now: now, MaxAge: time.Minute, Algorithms: []jose.SignatureAlgorithm{jose.HS256}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.proof, tc.req)
			require.ErrorIs(t, err, ErrInvalidProof)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The same claims, within the window and leeway, pass.
	for _, iat := range []time.Time{now.Add(4 * time.Second), now.Add(-64 * time.Second)} {
		_, err := Verify(sign(with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(iat) })), request("tok"))
		require.NoError(t, err)
	}
	// Without an access token (the token endpoint), ath is not checked.
	_, err = Verify(sign(with(func(c *Claims) { c.AccessTokenHash = "" })), request(""))
	require.NoError(t, err)
}

func TestSameURL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://a.example/p", "https://a.example/p", true},
		{"https://a.example/p", "https://a.example/p?q=1#f", true},
		{"HTTPS://A.Example/p", "https://a.example/p", true},
		{"https://a.example:443/p", "https://a.example/p", true},
		{"http://a.example:80/p", "http://a.example/p", true},
		{"https://a.example", "https://a.example/", true},
		{"https://a.example/%7Euser", "https://a.example/~user", true},
		{"https://a.example/a%2fb", "https://a.example/a%2Fb", true},
		{"https://a.example/a/./b/../c", "https://a.example/a/c", true},
		{"https://[::1]:8443/p", "https://[::1]:8443/p", true},
		{"https://a.example/a%2Fb", "https://a.example/a/b", false},
		{"https://a.example/P", "https://a.example/p", false},
		{"https://a.example:8443/p", "https://a.example/p", false},
		{"http://a.example/p", "https://a.example/p", false},
		{"https://a.example/p/", "https://a.example/p", false},
		{"/p", "/p", false},
		{"https://a.example/p", "::bad", false},
	} {
		require.Equal(t, tc.same, SameURL(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
		require.Equal(t, tc.same, SameURL(tc.b, tc.a), "%s vs %s", tc.b, tc.a)
	}
}

func TestNewID(t *testing.T) {
	b, err := base64.RawURLEncoding.DecodeString(NewID())
	require.NoError(t, err)
	require.Len(t, b, 16)
}

// BenchmarkProof is what Config.DPoP adds to each request the app sends
// with a bound token: one ES256 proof.
func BenchmarkProof(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	k, err := NewKey(priv, "", nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Proof("GET", "https://api.example/v1/things?x=1", "tok", "n1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is one proof's check, as a server does it.
func BenchmarkVerify(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	k, err := NewKey(priv, "", clock)
	require.NoError(b, err)
	proof, err := k.Proof("GET", "https://api.example/v1/things", "tok", "")
	require.NoError(b, err)
	req := request("tok")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(proof, req); err != nil {
			b.Fatal(err)
		}
	}
}

package httpoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/dpop"
	"github.com/httpoidc/httpoidc/oidctest"
)

// The DPoP-bound tokens below are made the way providers make them (a JWT
// with cnf.jkt, an introspection answer with cnf), with shaped's key and
// introspection hook: oidctest does not issue DPoP-bound tokens yet.

const dpopTarget = "http://api.example/resource"

// dpopFixture is a resource server, a client key and a token bound to it.
type dpopFixture struct {
	sp    *shaped
	api   *api
	key   *dpop.Key
	token string // a JWT bound to key
}

func newProofKey(t *testing.T, now func() time.Time) *dpop.Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := dpop.NewKey(priv, "", now)
	require.NoError(t, err)
	return key
}

func newDPoPFixture(t *testing.T, configure func(*Config)) *dpopFixture {
	sp := newShaped(t)
	f := &dpopFixture{sp: sp, key: newProofKey(t, sp.op.Now)}
	f.api = sp.api(t, nil, configure)
	f.token = f.boundJWT(t, f.key.Thumbprint())
	return f
}

// boundJWT returns an RFC 9068 access token for the API bound to jkt.
func (f *dpopFixture) boundJWT(t *testing.T, jkt string) string {
	return f.sp.sign(t, "at+jwt", f.sp.claims(map[string]any{"client_id": "web", "scope": "read", "cnf": map[string]any{"jkt": jkt}}))
}

// proof returns a proof by key for a GET of dpopTarget with token.
func (f *dpopFixture) proof(t *testing.T, key *dpop.Key, token, nonce string) string {
	p, err := key.Proof(http.MethodGet, dpopTarget, token, nonce)
	require.NoError(t, err)
	return p
}

// send presents token with scheme and, unless empty, the DPoP proof.
func (f *dpopFixture) send(method, scheme, token, proof string) *httptest.ResponseRecorder {
	return f.api.serve(dpopRequest(method, scheme, token, proof))
}

// dpopRequest is a request for dpopTarget presenting token with scheme
// and, unless empty, the DPoP proof.
func dpopRequest(method, scheme, token, proof string) *http.Request {
	req := httptest.NewRequest(method, dpopTarget, nil)
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return req
}

// requireDPoPError checks a 401 with a DPoP challenge carrying code.
func requireDPoPError(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	challenge := rec.Header().Get("WWW-Authenticate")
	require.True(t, strings.HasPrefix(challenge, `DPoP realm="httpoidc", error="`+code+`"`), challenge)
	require.Contains(t, challenge, `algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`)
	var body struct{ Error string }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, code, body.Error)
}

// hs256Proof is a proof with a MAC instead of a signature, its jwk header
// a real public key.
func hs256Proof(t *testing.T, key *dpop.Key, claims dpop.Claims) string {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk, err := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey})
	require.NoError(t, err)
	header, err := json.Marshal(map[string]any{"typ": dpop.Type, "alg": "HS256", "jwk": json.RawMessage(jwk)})
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte("shared secret"))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestDPoPAttacks presents a DPoP-bound JWT with one thing wrong in each
// case; each is refused by its own check.
func TestDPoPAttacks(t *testing.T) {
	t.Parallel()
	for _, tt := range dpopAttackCases() {
		t.Run(tt.name, func(t *testing.T) {
			f := newDPoPFixture(t, tt.configure)
			rec := tt.attack(t, f)
			if tt.outcome == "accepted" {
				requireOK(t, "alice read", rec)
				return
			}
			requireDPoPError(t, rec, strings.TrimPrefix(tt.outcome, "401 "))
		})
	}
}

// dpopAttackCases are the cases of TestDPoPAttacks.
func dpopAttackCases() []dpopCase {
	claims := func(f *dpopFixture, change func(*dpop.Claims)) dpop.Claims {
		c := dpop.Claims{ID: dpop.NewID(), Method: http.MethodGet, URL: dpopTarget,
			IssuedAt: jwt.NewNumericDate(f.sp.op.Now()), AccessTokenHash: dpop.AccessTokenHash(f.token)}
		change(&c)
		return c
	}
	signed := func(t *testing.T, f *dpopFixture, change func(*dpop.Claims)) string {
		p, err := f.key.Sign(claims(f, change))
		require.NoError(t, err)
		return p
	}
	nonces := func(c *Config) { c.RequireDPoPNonce = true }
	// nonce asks the server for its nonce, as a client does first.
	nonce := func(t *testing.T, f *dpopFixture) string {
		rec := f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, ""))
		requireDPoPError(t, rec, "use_dpop_nonce")
		return rec.Header().Get("DPoP-Nonce")
	}
	tests := []dpopCase{
		{"a proof by the bound key", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, ""))
		}, "accepted", nil},
		{"scheme in lower case", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "dpop", f.token, f.proof(t, f.key, f.token, ""))
		}, "accepted", nil},
		{"wrong ath: a proof for another token", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.boundJWT(t, "other"), ""))
		}, "401 invalid_dpop_proof", nil},
		{"no ath", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, signed(t, f, func(c *dpop.Claims) { c.AccessTokenHash = "" }))
		}, "401 invalid_dpop_proof", nil},
		{"replayed jti", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			proof := f.proof(t, f.key, f.token, "")
			requireOK(t, "alice read", f.send(http.MethodGet, "DPoP", f.token, proof))
			return f.send(http.MethodGet, "DPoP", f.token, proof)
		}, "401 invalid_dpop_proof", nil},
		{"htu mismatch: a proof for another server", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, signed(t, f, func(c *dpop.Claims) { c.URL = "http://other.example/resource" }))
		}, "401 invalid_dpop_proof", nil},
		{"htu mismatch: a proof for another path", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, signed(t, f, func(c *dpop.Claims) { c.URL = "http://api.example/admin" }))
		}, "401 invalid_dpop_proof", nil},
		{"htm mismatch", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodDelete, "DPoP", f.token, f.proof(t, f.key, f.token, ""))
		}, "401 invalid_dpop_proof", nil},
		{"proof signed with another key than cnf.jkt", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			thief := newProofKey(t, f.sp.op.Now)
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, thief, f.token, ""))
		}, "401 invalid_token", nil},
		{"missing proof", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, "")
		}, "401 invalid_dpop_proof", nil},
		{"two proofs", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, dpopTarget, nil)
			req.Header.Set("Authorization", "DPoP "+f.token)
			req.Header.Add("DPoP", f.proof(t, f.key, f.token, ""))
			req.Header.Add("DPoP", f.proof(t, f.key, f.token, ""))
			return f.api.serve(req)
		}, "401 invalid_dpop_proof", nil},
		{"bound token as Bearer", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "Bearer", f.token, "")
		}, "401 invalid_token", nil},
		{"bound token as Bearer, with its proof", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "Bearer", f.token, f.proof(t, f.key, f.token, ""))
		}, "401 invalid_token", nil},
		{"stale iat", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, signed(t, f, func(c *dpop.Claims) {
				c.IssuedAt = jwt.NewNumericDate(f.sp.op.Now().Add(-dpopProofLifetime - time.Minute - time.Second))
			}))
		}, "401 invalid_dpop_proof", nil},
		{"iat in the future", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, signed(t, f, func(c *dpop.Claims) {
				c.IssuedAt = jwt.NewNumericDate(f.sp.op.Now().Add(time.Minute + time.Second))
			}))
		}, "401 invalid_dpop_proof", nil},
		{"symmetric alg", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, hs256Proof(t, f.key, claims(f, func(*dpop.Claims) {})))
		}, "401 invalid_dpop_proof", nil},
		{"unbound token with the DPoP scheme", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			unbound := f.sp.sign(t, "at+jwt", f.sp.claims(map[string]any{"client_id": "web", "scope": "read"}))
			return f.send(http.MethodGet, "DPoP", unbound, f.proof(t, f.key, unbound, ""))
		}, "401 invalid_token", nil},
		{"malformed cnf", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			bad := f.sp.sign(t, "at+jwt", f.sp.claims(map[string]any{"client_id": "web", "scope": "read", "cnf": map[string]any{"jkt": 7}}))
			return f.send(http.MethodGet, "Bearer", bad, "")
		}, "401 invalid_token", nil},
	}
	tests = append(tests,
		dpopCase{"bearer token with RequireDPoP", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			unbound := f.sp.sign(t, "at+jwt", f.sp.claims(map[string]any{"client_id": "web", "scope": "read"}))
			return f.send(http.MethodGet, "Bearer", unbound, "")
		}, "401 invalid_token", func(c *Config) { c.RequireDPoP = true }},
		dpopCase{"nonces on: the server's nonce", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, nonce(t, f)))
		}, "accepted", nonces},
		dpopCase{"nonces on: nonce missing", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, ""))
		}, "401 use_dpop_nonce", nonces},
		dpopCase{"nonces on: nonce forged", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			forged := []byte(nonce(t, f))
			forged[3] ^= 1
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, string(forged)))
		}, "401 use_dpop_nonce", nonces},
		dpopCase{"nonces on: nonce expired", func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder {
			old := nonce(t, f)
			f.sp.op.Advance(dpopNonceLifetime + time.Minute + time.Second)
			f.token = f.boundJWT(t, f.key.Thumbprint())
			return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, old))
		}, "401 use_dpop_nonce", nonces},
	)
	return tests
}

// TestDPoPTableInREADME keeps the README's table of DPoP cases true.
func TestDPoPTableInREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, tc := range dpopAttackCases() {
		require.Contains(t, string(readme), "| "+tc.name+" | "+tc.outcome+" |", "README.md lacks the row for %q", tc.name)
	}
}

// dpopCase is one request with a DPoP-bound token (or, where named, a
// plain one) that has one thing wrong, or nothing.
type dpopCase struct {
	name   string
	attack func(t *testing.T, f *dpopFixture) *httptest.ResponseRecorder
	// outcome is as the README's table says: accepted, or 401 and the
	// error code.
	outcome   string
	configure func(*Config)
}

// TestDPoPBearerStillWorks: plain bearer tokens are accepted beside DPoP,
// and their 401 answers offer DPoP too (RFC 9449 §7.2), until
// Config.RequireDPoP.
func TestDPoPBearerStillWorks(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, nil)
	unbound := f.sp.sign(t, "at+jwt", f.sp.claims(map[string]any{"client_id": "web", "scope": "read"}))
	requireOK(t, "alice read", f.send(http.MethodGet, "Bearer", unbound, ""))
	rec := f.api.serve(httptest.NewRequest(http.MethodGet, dpopTarget, nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, []string{`Bearer realm="httpoidc"`, `DPoP realm="httpoidc", algs="` + f.api.oc.resource.dpop.algs + `"`}, rec.Header().Values("WWW-Authenticate"))

	strict := newDPoPFixture(t, func(c *Config) { c.RequireDPoP = true })
	unbound = strict.sp.sign(t, "at+jwt", strict.sp.claims(map[string]any{"client_id": "web", "scope": "read"}))
	requireDPoPError(t, strict.send(http.MethodGet, "Bearer", unbound, ""), "invalid_token")
	requireOK(t, "alice read", strict.send(http.MethodGet, "DPoP", strict.token, strict.proof(t, strict.key, strict.token, "")))
	rec = strict.api.serve(httptest.NewRequest(http.MethodGet, dpopTarget, nil))
	require.Equal(t, []string{`DPoP realm="httpoidc", algs="` + strict.api.oc.resource.dpop.algs + `"`}, rec.Header().Values("WWW-Authenticate"))
}

// TestDPoPNonce runs the nonce dance of RFC 9449 §9 with
// Config.RequireDPoPNonce.
func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, func(c *Config) { c.RequireDPoPNonce = true })
	get := func(nonce string) *httptest.ResponseRecorder {
		return f.send(http.MethodGet, "DPoP", f.token, f.proof(t, f.key, f.token, nonce))
	}
	rec := get("")
	requireDPoPError(t, rec, "use_dpop_nonce")
	nonce := rec.Header().Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)

	requireDPoPError(t, get("forged-nonce"), "use_dpop_nonce")
	forged := []byte(nonce)
	forged[3] ^= 1
	requireDPoPError(t, get(string(forged)), "use_dpop_nonce")

	rec = get(nonce)
	requireOK(t, "alice read", rec)
	require.NotEmpty(t, rec.Header().Get("DPoP-Nonce"), "every DPoP answer carries the current nonce")

	f.sp.op.Advance(dpopNonceLifetime + time.Minute + time.Second)
	f.token = f.boundJWT(t, f.key.Thumbprint())
	rec = get(nonce)
	requireDPoPError(t, rec, "use_dpop_nonce")
	requireOK(t, "alice read", get(rec.Header().Get("DPoP-Nonce")))

	// Without RequireDPoPNonce, no nonce is asked for or given.
	plain := newDPoPFixture(t, nil)
	rec = plain.send(http.MethodGet, "DPoP", plain.token, plain.proof(t, plain.key, plain.token, ""))
	requireOK(t, "alice read", rec)
	require.Empty(t, rec.Header().Get("DPoP-Nonce"))
}

// TestDPoPIntrospection binds an opaque token through the introspection
// answer's cnf (RFC 9449 §6.2), added by shaped's hook.
func TestDPoPIntrospection(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, nil)
	opaque := f.sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"read"}})
	f.sp.introspection = func(token string, answer map[string]any) {
		if token == opaque {
			answer["cnf"] = map[string]any{"jkt": f.key.Thumbprint()}
			answer["token_type"] = "DPoP"
		}
	}
	requireOK(t, "alice read", f.send(http.MethodGet, "DPoP", opaque, f.proof(t, f.key, opaque, "")))
	requireDPoPError(t, f.send(http.MethodGet, "Bearer", opaque, ""), "invalid_token")
	requireDPoPError(t, f.send(http.MethodGet, "DPoP", opaque, f.proof(t, newProofKey(t, f.sp.op.Now), opaque, "")), "invalid_token")
}

// TestDPoPBehindProxy checks htu against the URL the client called: the
// scheme and host a trusted proxy forwards, the path before StripPrefix,
// under BasePath.
func TestDPoPBehindProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		trusted     []netip.Prefix
		remote      string
		forwarded   bool
		target      string // the request as the application receives it
		htu         string
		basePath    string
		stripPrefix string
		ok          bool
	}{
		{"direct", nil, "192.0.2.1:4000", false, "http://api.example/resource", "http://api.example/resource", "", "", true},
		{"TLS-terminating proxy on loopback", nil, "127.0.0.1:4000", true, "http://127.0.0.1:8080/resource", "https://api.example/resource", "", "", true},
		{"forwarded headers from anyone else", nil, "192.0.2.1:4000", true, "http://127.0.0.1:8080/resource", "https://api.example/resource", "", "", false},
		{"proxy in TrustedProxies", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.1.2.3:4000", true, "http://10.0.0.1/resource", "https://api.example/resource", "", "", true},
		{"loopback not trusted when TrustedProxies is empty", []netip.Prefix{}, "127.0.0.1:4000", true, "http://127.0.0.1:8080/resource", "https://api.example/resource", "", "", false},
		{"prefix stripped by the proxy", nil, "192.0.2.1:4000", false, "http://api.example/resource", "http://api.example/app/resource", "/app", "", true},
		{"prefix stripped by http.StripPrefix", nil, "192.0.2.1:4000", false, "http://api.example/app/resource", "http://api.example/app/resource", "/app", "/app", true},
		{"not under the prefix it claims", nil, "192.0.2.1:4000", false, "http://api.example/resource", "http://api.example/resource", "/app", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDPoPFixture(t, func(c *Config) { c.TrustedProxies, c.BasePath = tt.trusted, tt.basePath })
			proof, err := f.key.Proof(http.MethodGet, tt.htu, f.token, "")
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			req.RemoteAddr = tt.remote
			req.Header.Set("Authorization", "DPoP "+f.token)
			req.Header.Set("DPoP", proof)
			if tt.forwarded {
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("X-Forwarded-Host", "api.example")
			}
			var h http.Handler = f.api.oc.AcceptToken()(echo)
			if tt.stripPrefix != "" {
				h = http.StripPrefix(tt.stripPrefix, h)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tt.ok {
				requireOK(t, "alice read", rec)
			} else {
				requireDPoPError(t, rec, "invalid_dpop_proof")
			}
		})
	}
}

// TestDPoPReplayAcrossReplicas: two replicas sharing a session store
// refuse a proof the other accepted.
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	store := newMemoryStore(time.Minute)
	t.Cleanup(store.close)
	f := newDPoPFixture(t, func(c *Config) { c.SessionStore = store })
	other := f.sp.api(t, nil, func(c *Config) { c.SessionStore = store })
	proof := f.proof(t, f.key, f.token, "")
	requireOK(t, "alice read", f.send(http.MethodGet, "DPoP", f.token, proof))
	requireDPoPError(t, other.serve(dpopRequest(http.MethodGet, "DPoP", f.token, proof)), "invalid_dpop_proof")
}

// TestReplayCacheBound: a full cache forgets its oldest ID, and then
// refuses every proof as old as that one rather than miss its replay.
func TestReplayCacheBound(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	c := newReplayCache(2)
	id := func(s string) replayID { d := sha256.Sum256([]byte(s)); return replayID(d[:16]) }
	require.True(t, c.add(id("a"), now.Add(time.Minute), now))
	require.True(t, c.add(id("b"), now.Add(2*time.Minute), now))
	require.False(t, c.add(id("a"), now.Add(time.Minute), now), "replay")
	require.True(t, c.add(id("c"), now.Add(3*time.Minute), now), "a is forgotten")
	require.Len(t, c.seen, 2)
	require.False(t, c.add(id("a"), now.Add(time.Minute), now), "a's replay is refused by the floor")
	require.False(t, c.add(id("d"), now.Add(time.Minute), now), "as is any proof expiring as early")
	require.True(t, c.add(id("e"), now.Add(4*time.Minute), now))
}

// TestDPoPWithOidctestTokens presents oidctest's DPoP-bound tokens, a JWT
// and an opaque token it introspects, with its proofs and faulty proofs.
func TestDPoPWithOidctestTokens(t *testing.T) {
	t.Parallel()
	faults := map[oidctest.ProofFault]string{
		oidctest.ProofWrongATH:           "invalid_dpop_proof",
		oidctest.ProofHTUMismatch:        "invalid_dpop_proof",
		oidctest.ProofHTMMismatch:        "invalid_dpop_proof",
		oidctest.ProofExpired:            "invalid_dpop_proof",
		oidctest.ProofSignedWithOtherKey: "invalid_token",
	}
	for name, format := range map[string]oidctest.AccessTokenFormat{"JWT": oidctest.JWT, "opaque": oidctest.Opaque} {
		t.Run(name, func(t *testing.T) {
			a := newAPI(t, nil)
			key := oidctest.NewDPoPKey()
			token := a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"read"},
				Format: format, DPoPKeyThumbprint: key.Thumbprint()})
			send := func(scheme, proof string) *httptest.ResponseRecorder {
				return a.serve(dpopRequest(http.MethodGet, scheme, token, proof), "read")
			}
			proof := key.Proof(http.MethodGet, dpopTarget, token, "")
			requireOK(t, "alice read", send("DPoP", proof))
			requireDPoPError(t, send("DPoP", proof), "invalid_dpop_proof")
			requireDPoPError(t, send("Bearer", ""), "invalid_token")
			for fault, code := range faults {
				requireDPoPError(t, send("DPoP", key.FaultyProof(fault, http.MethodGet, dpopTarget, token, "")), code)
			}
		})
	}
}

func TestConfigFromEnvDPoPAtTheAPI(t *testing.T) {
	t.Setenv("OIDC_CLIENT_SECRETS", `{"web":{"client_id":"api","client_secret":"s","issuer":"https://op.example"}}`)
	t.Setenv("OIDC_REQUIRE_DPOP", "true")
	t.Setenv("OIDC_REQUIRE_DPOP_NONCE", "true")
	c, err := ConfigFromEnv()
	require.NoError(t, err)
	require.True(t, c.RequireDPoP)
	require.True(t, c.RequireDPoPNonce)
}

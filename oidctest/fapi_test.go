package oidctest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func sign(t *testing.T, key *ecdsa.PrivateKey, claims jwt.Claims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	require.NoError(t, err)
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	require.NoError(t, err)
	return out
}

// keyClient registers a client without secret that authenticates with
// private_key_jwt, and returns its key.
func keyClient(t *testing.T, op *oidctest.Server) *ecdsa.PrivateKey {
	key := newKey(t)
	op.AddClient(oidctest.Client{ID: "keyed", RedirectURIs: []string{redirectURI}, Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}})
	return key
}

func post(t *testing.T, target string, form url.Values, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp, body
}

func assertionClaims(op *oidctest.Server) jwt.Claims {
	now := time.Now()
	return jwt.Claims{Issuer: "keyed", Subject: "keyed", Audience: jwt.Audience{op.URL}, ID: rand.Text(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
}

func TestPrivateKeyJWT(t *testing.T) {
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	key := keyClient(t, op)
	replayed := sign(t, key, assertionClaims(op))
	with := func(f func(*jwt.Claims)) string { c := assertionClaims(op); f(&c); return sign(t, key, c) }
	for _, tc := range []struct {
		name      string
		assertion string
		extra     url.Values
		status    int
	}{
		{"valid", replayed, nil, http.StatusOK},
		{"replayed jti", replayed, nil, http.StatusUnauthorized},
		{"aud the token endpoint", with(func(c *jwt.Claims) { c.Audience = jwt.Audience{op.URL + "/token"} }), nil, http.StatusOK},
		{"aud another provider", with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://other.example"} }), nil, http.StatusUnauthorized},
		{"expired", with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Second)) }), nil, http.StatusUnauthorized},
		{"no exp", with(func(c *jwt.Claims) { c.Expiry = nil }), nil, http.StatusUnauthorized},
		{"lives too long", with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(time.Hour)) }), nil, http.StatusUnauthorized},
		{"no jti", with(func(c *jwt.Claims) { c.ID = "" }), nil, http.StatusUnauthorized},
		{"sub another client", with(func(c *jwt.Claims) { c.Subject = "app" }), nil, http.StatusUnauthorized},
		{"signed with another key", sign(t, newKey(t), assertionClaims(op)), nil, http.StatusUnauthorized},
		{"with a client_secret too", with(func(*jwt.Claims) {}), url.Values{"client_secret": {"x"}}, http.StatusBadRequest},
		{"client_id of another client", with(func(*jwt.Claims) {}), url.Values{"client_id": {"app"}}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {tc.assertion}}
			for k, v := range tc.extra {
				form[k] = v
			}
			resp, body := post(t, op.URL+"/token", form)
			require.Equal(t, tc.status, resp.StatusCode, body)
		})
	}
	// Introspection and revocation take the same authentication.
	token := op.IssueAccessToken(oidctest.TokenRequest{ClientID: "keyed", Subject: "alice"})
	resp, body := post(t, op.URL+"/introspect", url.Values{"token": {token}, "client_assertion_type": {assertionType}, "client_assertion": {sign(t, key, assertionClaims(op))}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, true, body["active"])
	resp, _ = post(t, op.URL+"/revoke", url.Values{"token": {token}, "client_assertion_type": {assertionType}, "client_assertion": {sign(t, key, assertionClaims(op))}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestPushedAuthorizationRequests(t *testing.T) {
	op := oidctest.NewServer(oidctest.WithRequiredPAR())
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}})
	op.AutoLogin("alice")
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(q url.Values) *http.Response {
		resp, err := browser.Get(op.URL + "/authorize?" + q.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	request := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"}}

	resp := authorize(request)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a request that was not pushed is refused")

	resp, _ = post(t, op.URL+"/par", request)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "pushing needs client authentication")

	withSecret := url.Values{"client_secret": {clientSecret}}
	for k, v := range request {
		withSecret[k] = v
	}
	resp, body := post(t, op.URL+"/par", withSecret)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	uri, _ := body["request_uri"].(string)
	require.True(t, strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:"))

	require.Equal(t, http.StatusBadRequest, authorize(url.Values{"client_id": {"other"}, "request_uri": {uri}}).StatusCode, "another client's request_uri")
	resp, body = post(t, op.URL+"/par", withSecret)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	uri, _ = body["request_uri"].(string)
	resp = authorize(url.Values{"client_id": {clientID}, "request_uri": {uri}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "s1", loc.Query().Get("state"), "the pushed parameters are used")
	require.NotEmpty(t, loc.Query().Get("code"))
	require.Equal(t, http.StatusBadRequest, authorize(url.Values{"client_id": {clientID}, "request_uri": {uri}}).StatusCode, "a request_uri is used once")

	bad := url.Values{}
	for k, v := range withSecret {
		bad[k] = v
	}
	bad.Set("redirect_uri", "https://evil.example/cb")
	resp, _ = post(t, op.URL+"/par", bad)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a pushed request is checked when pushed")
}

func userinfo(t *testing.T, op *oidctest.Server, scheme, token, proof string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, op.URL+"/userinfo", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestDPoPBoundTokens(t *testing.T) {
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}, AccessTokenFormat: oidctest.JWT})
	key := oidctest.NewDPoPKey()

	// The token endpoint binds the tokens to the proof's key.
	resp, body := post(t, op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"openid"}},
		"DPoP", key.Proof(http.MethodPost, op.URL+"/token", "", ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "DPoP", body["token_type"])
	token := body["access_token"].(string)
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&claims))
	require.Equal(t, key.Thumbprint(), claims.Cnf["jkt"])
	resp, body = post(t, op.URL+"/introspect", url.Values{"token": {token}, "client_id": {clientID}, "client_secret": {clientSecret}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, map[string]any{"jkt": key.Thumbprint()}, body["cnf"])
	require.Equal(t, "DPoP", body["token_type"])

	resp, body = post(t, op.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}},
		"DPoP", key.FaultyProof(oidctest.ProofHTUMismatch, http.MethodPost, op.URL+"/token", "", ""))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid_dpop_proof", body["error"])

	url := op.URL + "/userinfo"
	proof := key.Proof(http.MethodGet, url, token, "")
	require.Equal(t, http.StatusOK, userinfo(t, op, "DPoP", token, proof).StatusCode)
	for _, tc := range []struct {
		name          string
		scheme, proof string
	}{
		{"replayed jti", "DPoP", proof},
		{"wrong ath", "DPoP", key.FaultyProof(oidctest.ProofWrongATH, http.MethodGet, url, token, "")},
		{"htu mismatch", "DPoP", key.FaultyProof(oidctest.ProofHTUMismatch, http.MethodGet, url, token, "")},
		{"htm mismatch", "DPoP", key.FaultyProof(oidctest.ProofHTMMismatch, http.MethodGet, url, token, "")},
		{"signed with another key", "DPoP", key.FaultyProof(oidctest.ProofSignedWithOtherKey, http.MethodGet, url, token, "")},
		{"expired", "DPoP", key.FaultyProof(oidctest.ProofExpired, http.MethodGet, url, token, "")},
		{"no proof", "DPoP", ""},
		{"bound token as Bearer", "Bearer", ""},
		{"another key's token", "DPoP", oidctest.NewDPoPKey().Proof(http.MethodGet, url, token, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := userinfo(t, op, tc.scheme, token, tc.proof)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP "), resp.Header.Get("WWW-Authenticate"))
		})
	}

	// An unbound token is refused with the DPoP scheme, taken as Bearer.
	plain := op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"openid"}})
	require.Equal(t, http.StatusUnauthorized, userinfo(t, op, "DPoP", plain, key.Proof(http.MethodGet, url, plain, "")).StatusCode)
	require.Equal(t, http.StatusOK, userinfo(t, op, "Bearer", plain, "").StatusCode)
	// IssueAccessToken binds when asked.
	bound := op.IssueAccessToken(oidctest.TokenRequest{ClientID: clientID, Subject: "alice", Scopes: []string{"openid"}, DPoPKeyThumbprint: key.Thumbprint()})
	require.Equal(t, http.StatusUnauthorized, userinfo(t, op, "Bearer", bound, "").StatusCode)
	require.Equal(t, http.StatusOK, userinfo(t, op, "DPoP", bound, key.Proof(http.MethodGet, url, bound, "")).StatusCode)
}

func TestDPoPNonce(t *testing.T) {
	op := oidctest.NewServer(oidctest.WithDPoPNonce())
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}})
	key := oidctest.NewDPoPKey()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"openid"}}
	resp, body := post(t, op.URL+"/token", form, "DPoP", key.Proof(http.MethodPost, op.URL+"/token", "", ""))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "use_dpop_nonce", body["error"])
	nonce := resp.Header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	resp, body = post(t, op.URL+"/token", form, "DPoP", key.Proof(http.MethodPost, op.URL+"/token", "", nonce))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	token := body["access_token"].(string)

	resp = userinfo(t, op, "DPoP", token, key.Proof(http.MethodGet, op.URL+"/userinfo", token, ""))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "missing nonce")
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`)
	require.Equal(t, nonce, resp.Header.Get("DPoP-Nonce"))
	require.Equal(t, http.StatusOK, userinfo(t, op, "DPoP", token, key.Proof(http.MethodGet, op.URL+"/userinfo", token, nonce)).StatusCode)
}

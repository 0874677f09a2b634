package httpoidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/dpop"
	"github.com/httpoidc/httpoidc/oidctest"
)

// newFAPIHarness is newHarness for a client registered with a public key
// (private_key_jwt) and no secret when key is not nil.
func newFAPIHarness(t *testing.T, key *ecdsa.PrivateKey, configure func(*httpoidc.Config), opts ...oidctest.Option) (*harness, error) {
	t.Helper()
	h := startHarness(t, opts...)
	client := oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{h.app.URL + "/authorize"}, AccessTokenFormat: oidctest.JWT}
	secrets := &httpoidc.ClientSecrets{ClientID: "app", ClientSecret: "app-secret", Issuer: h.op.URL, RedirectURIs: client.RedirectURIs}
	if key != nil {
		client.Secret, secrets.ClientSecret = "", ""
		client.Keys = []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}
	}
	h.op.AddClient(client)
	withKey := func(c *httpoidc.Config) {
		if key != nil {
			c.ClientKey = &httpoidc.ClientKey{Signer: key, KeyID: "k1"}
		}
	}
	if err := h.start(secrets, withKey, configure); err != nil {
		return nil, err
	}
	return h, nil
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestPrivateKeyJWTLoginAndRefresh(t *testing.T) {
	t.Parallel()
	h, err := newFAPIHarness(t, newECKey(t), nil)
	require.NoError(t, err)
	h.login(h.client)
	before := h.me(h.client)["access_token"]
	h.op.Advance(59 * time.Minute)
	require.NotEqual(t, before, h.me(h.client)["access_token"], "refreshed with a client assertion")
}

func TestPrivateKeyJWTWithAnUnregisteredKeyFailsTheLogin(t *testing.T) {
	t.Parallel()
	h, err := newFAPIHarness(t, newECKey(t), func(c *httpoidc.Config) {
		c.ClientKey = &httpoidc.ClientKey{Signer: newECKey(t), KeyID: "k1"}
	})
	require.NoError(t, err)
	resp, _ := h.get(h.client, "/login")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.False(t, h.loggedIn(h.client))
}

func TestPrivateKeyJWTIntrospection(t *testing.T) {
	t.Parallel()
	key := newECKey(t)
	h, err := newFAPIHarness(t, key, func(c *httpoidc.Config) {
		c.AccessTokenValidation = httpoidc.ValidateIntrospection
	})
	require.NoError(t, err)
	token := h.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "app", Subject: "alice", Scopes: []string{"read"}})
	api := httptest.NewServer(h.oc.AcceptToken("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, httpoidc.UserFrom(r.Context()).Subject)
	})))
	t.Cleanup(api.Close)
	req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, h.op.Requests(oidctest.EndpointIntrospection))
}

func TestClientKeyFromFile(t *testing.T) {
	t.Parallel()
	key := newECKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "client.pem")
	require.NoError(t, os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	signer, kid, err := httpoidc.LoadPrivateKey(pemFile)
	require.NoError(t, err)
	thumb, err := dpop.Thumbprint(key.Public())
	require.NoError(t, err)
	require.Equal(t, thumb, kid, "a PEM key's kid is its thumbprint")
	require.True(t, key.PublicKey.Equal(signer.Public()))

	jwkFile := filepath.Join(dir, "client.jwk")
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k1"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(jwkFile, b, 0o600))
	_, kid, err = httpoidc.LoadPrivateKey(jwkFile)
	require.NoError(t, err)
	require.Equal(t, "k1", kid)

	pub, err := json.Marshal(jose.JSONWebKey{Key: key.Public()})
	require.NoError(t, err)
	pubFile := filepath.Join(dir, "public.jwk")
	require.NoError(t, os.WriteFile(pubFile, pub, 0o600))
	_, _, err = httpoidc.LoadPrivateKey(pubFile)
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)

	// The login works with the file, and a client secrets file without
	// client_secret.
	h, err := newFAPIHarness(t, key, func(c *httpoidc.Config) { c.ClientKey, c.ClientKeyFile = nil, jwkFile })
	require.NoError(t, err)
	h.login(h.client)
}

func TestClientKeyConfigurationErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		configure func(*httpoidc.Config)
		want      string
	}{
		{"no secret and no key", func(c *httpoidc.Config) { c.ClientKey = nil }, "client_secret"},
		{"private_key_jwt without a key", func(c *httpoidc.Config) {
			c.ClientKey, c.ClientSecrets.ClientSecret, c.ClientAuthMethod = nil, "s", httpoidc.AuthPrivateKeyJWT
		}, "no ClientKey"},
		{"missing key file", func(c *httpoidc.Config) { c.ClientKey, c.ClientKeyFile = nil, "/nonexistent.pem" }, "OIDC_CLIENT_KEY_FILE"},
		{"UsePAR without a PAR endpoint", func(c *httpoidc.Config) { c.UsePAR = true }, "pushed_authorization_request_endpoint"},
		{"DPoPKey without DPoP", func(c *httpoidc.Config) { c.DPoPKey = newECKey(t) }, "DPoP is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newFAPIHarness(t, newECKey(t), tc.configure)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPARLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  oidctest.Option
		use  bool
	}{
		{"required by the provider", oidctest.WithRequiredPAR(), false},
		{"UsePAR", oidctest.WithPAR(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newFAPIHarness(t, newECKey(t), func(c *httpoidc.Config) { c.UsePAR = tc.use }, tc.opt)
			require.NoError(t, err)
			resp, err := noRedirects(h.client).Get(h.app.URL + "/login")
			require.NoError(t, err)
			resp.Body.Close()
			target, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, []string{"client_id", "request_uri"}, slices.Sorted(maps.Keys(target.Query())), "only an opaque handle goes through the browser")
			require.Equal(t, 1, h.op.Requests(oidctest.EndpointPAR))
			h.login(h.client)
		})
	}
}

// dpopAPI is a resource server that checks the proof of a DPoP-bound
// JWT the way RFC 9449 §7 says, and answers with the token's jkt.
func dpopAPI(t *testing.T, op *oidctest.Server) *httptest.Server {
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme != "DPoP" {
			http.Error(w, "scheme "+scheme, http.StatusUnauthorized)
			return
		}
		p, err := dpop.Verify(r.Header.Get("DPoP"), dpop.Request{Method: r.Method, URL: api.URL + r.URL.Path, AccessToken: token, Now: op.Now(), MaxAge: time.Minute, Leeway: 5 * time.Second})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		var claims struct {
			Cnf struct {
				JKT string `json:"jkt"`
			} `json:"cnf"`
		}
		require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&claims))
		if claims.Cnf.JKT != p.Thumbprint {
			http.Error(w, "not bound to the proof's key", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, claims.Cnf.JKT)
	}))
	t.Cleanup(api.Close)
	return api
}

func TestDPoPLoginUserInfoClientAndRefresh(t *testing.T) {
	t.Parallel()
	key := newECKey(t)
	h, err := newFAPIHarness(t, newECKey(t), func(c *httpoidc.Config) { c.DPoP, c.DPoPKey = true, key },
		oidctest.WithDPoPNonce(), oidctest.WithRequiredPAR())
	require.NoError(t, err)
	apiAsUser(h, dpopAPI(t, h.op).URL)
	// Userinfo takes the bound token only with a proof: the login's
	// profile (from userinfo) shows it worked.
	h.login(h.client)
	require.Equal(t, "Alice Liddell", h.me(h.client)["name"])
	thumb, err := dpop.Thumbprint(key.Public())
	require.NoError(t, err)
	_, body := h.get(h.client, "/call")
	require.Equal(t, thumb, body, "the API got a fresh proof for the bound token")
	_, body = h.get(h.client, "/call")
	require.Equal(t, thumb, body, "and another one for the next request")

	before := h.me(h.client)["access_token"]
	h.op.Advance(59 * time.Minute)
	_, body = h.get(h.client, "/call")
	require.Equal(t, thumb, body, "the refreshed token is bound to the same key")
	require.NotEqual(t, before, h.me(h.client)["access_token"])
}

// stripDPoP is a transport that drops DPoP proofs, as a provider
// ignoring them would behave.
type stripDPoP struct{}

func (stripDPoP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("DPoP")
	return http.DefaultTransport.RoundTrip(r)
}

func TestDPoPLoginRefusesAnUnboundToken(t *testing.T) {
	t.Parallel()
	h, err := newFAPIHarness(t, nil, func(c *httpoidc.Config) {
		c.DPoP = true
		c.HTTPClient = &http.Client{Transport: stripDPoP{}, Timeout: 10 * time.Second}
	})
	require.NoError(t, err)
	resp, _ := h.get(h.client, "/login")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.False(t, h.loggedIn(h.client))
}

func TestConfigFromEnvFAPI(t *testing.T) {
	t.Setenv("OIDC_CLIENT_SECRETS", `{"web":{"client_id":"app","issuer":"https://op.example"}}`)
	t.Setenv("OIDC_CLIENT_KEY_FILE", "/etc/app/key.pem")
	t.Setenv("OIDC_USE_PAR", "true")
	t.Setenv("OIDC_DPOP", "true")
	t.Setenv("OIDC_DPOP_KEY_FILE", "/etc/app/dpop.pem")
	c, err := httpoidc.ConfigFromEnv()
	require.NoError(t, err, "client secrets without client_secret are fine with a client key")
	require.Equal(t, "/etc/app/key.pem", c.ClientKeyFile)
	require.True(t, c.UsePAR)
	require.True(t, c.DPoP)
	require.Equal(t, "/etc/app/dpop.pem", c.DPoPKeyFile)

	t.Setenv("OIDC_CLIENT_KEY_FILE", "")
	_, err = httpoidc.ConfigFromEnv()
	require.ErrorContains(t, err, "client_secret", "but not without one")
}

// An API that wants its own DPoP nonce (RFC 9449 §9) gets the request
// again with it, body and all; the nonce is used from then on.
func TestDPoPClientFollowsTheResourceServersNonce(t *testing.T) {
	h, err := newFAPIHarness(t, nil, func(c *httpoidc.Config) { c.DPoP = true })
	require.NoError(t, err)
	var api *httptest.Server
	var asked atomic.Int32
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		p, err := dpop.Verify(r.Header.Get("DPoP"), dpop.Request{Method: r.Method, URL: api.URL + r.URL.Path, AccessToken: token, Now: h.op.Now(), MaxAge: time.Minute})
		require.NoError(t, err)
		w.Header().Set("DPoP-Nonce", "n-42")
		if p.Nonce != "n-42" {
			asked.Add(1)
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", body)
	}))
	t.Cleanup(api.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		resp, err := h.oc.Client(r).Post(api.URL+"/orders", "text/plain", strings.NewReader("an order"))
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "%d %s", resp.StatusCode, body)
	})
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)
	h.login(h.client)
	for range 2 {
		_, body := h.get(h.client, "/post")
		require.Equal(t, "200 got an order", body)
	}
	require.Equal(t, int32(1), asked.Load(), "asked once; the second request had the nonce")
}

// Replicas share a DPoP key through DPoPKeyFile: the tokens are bound to
// that key, whichever replica asked for them.
func TestDPoPKeyFile(t *testing.T) {
	t.Parallel()
	key := newECKey(t)
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "dpop.jwk")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	h, err := newFAPIHarness(t, nil, func(c *httpoidc.Config) { c.DPoP, c.DPoPKeyFile = true, file })
	require.NoError(t, err)
	h.login(h.client)
	parsed, err := jwt.ParseSigned(h.me(h.client)["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&claims))
	thumb, err := dpop.Thumbprint(key.Public())
	require.NoError(t, err)
	require.Equal(t, thumb, claims.Cnf["jkt"])

	_, err = newFAPIHarness(t, nil, func(c *httpoidc.Config) { c.DPoP, c.DPoPKeyFile = true, "/nonexistent.jwk" })
	require.ErrorContains(t, err, "OIDC_DPOP_KEY_FILE")
}

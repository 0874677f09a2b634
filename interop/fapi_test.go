package interop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/dpop"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestFAPILogin: against oidc-provider's FAPI 2.0 profile (pushed
// authorization requests required, DPoP with server nonces,
// private_key_jwt with aud the issuer), the login pushes its request,
// authenticates with a client assertion, binds the tokens to the app's
// DPoP key through the nonce dance, reads userinfo with a proof, calls an
// API through oc.Client with a fresh proof per request, and refreshes
// with DPoP; the bound token is refused as a plain bearer token.
func TestFAPILogin(t *testing.T) {
	ctx := testContext(t)
	srv := reserve(t, "127.0.0.1")
	client, clientKey := keyClient(t, srv)
	const ttl = 10 * time.Second
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{client}, FAPI: true, AccessTokenTTL: ttl})
	meta := discover(t, ctx, p)
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jkt, err := dpop.Thumbprint(dpopKey.Public())
	require.NoError(t, err)

	// The API checks the proof and asks the provider what the token is bound to.
	introspect := func(token string) map[string]any {
		status, info := clientPostWithKey(t, p, clientKey, meta.Introspection, url.Values{"token": {token}})
		require.Equal(t, http.StatusOK, status, "%v", info)
		return info
	}
	var apiURL string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		proof, err := dpop.Verify(r.Header.Get("DPoP"), dpop.Request{Method: r.Method, URL: apiURL + r.URL.Path, AccessToken: token,
			Now: time.Now(), MaxAge: time.Minute, Leeway: 5 * time.Second})
		if scheme != "DPoP" || err != nil {
			http.Error(w, fmt.Sprintf("scheme %s: %v", scheme, err), http.StatusUnauthorized)
			return
		}
		cnf, _ := introspect(token)["cnf"].(map[string]any)
		fmt.Fprintf(w, "%s %t", proof.ID, cnf["jkt"] == proof.Thumbprint)
	}))
	t.Cleanup(api.Close)
	apiURL = api.URL

	a := startAPICallingApp(t, srv, fapiAppConfig(p, client, clientKey, dpopKey), apiURL+"/orders")
	browser := newBrowser(t)

	u := a.login(t, ctx, p, browser, "alice")
	require.True(t, u.LoggedIn)
	// oidc-provider puts no email in the ID token here: it came from
	// userinfo, which takes the bound token only with a proof.
	require.Equal(t, "alice@example.com", u.Email)
	require.NotEmpty(t, u.RefreshToken)
	info := introspect(u.AccessToken)
	require.Equal(t, true, info["active"])
	require.Equal(t, map[string]any{"jkt": jkt}, info["cnf"], "the access token is bound to the app's DPoP key")

	call := func() string {
		status, body := a.fetch(t, ctx, browser, "/call")
		require.Equal(t, http.StatusOK, status, "%s", body)
		return body
	}
	first, second := call(), call()
	require.True(t, strings.HasSuffix(first, " true") && strings.HasSuffix(second, " true"), "%s / %s", first, second)
	require.NotEqual(t, first, second, "a fresh proof (jti) per request")

	// The bound token is refused as a bearer token (RFC 9449 §7.2).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.UserInfoURL, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+u.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Refresh with DPoP: once the token is within a fifth of its lifetime
	// of expiry, the next page refreshes it through the token endpoint,
	// with a new assertion and a new proof; the new token is bound too.
	time.Sleep(ttl - ttl/5 + time.Second)
	refreshed := a.get(t, ctx, browser, "/private")
	require.True(t, refreshed.LoggedIn)
	require.NotEqual(t, u.AccessToken, refreshed.AccessToken, "refreshed")
	require.Equal(t, map[string]any{"jkt": jkt}, introspect(refreshed.AccessToken)["cnf"])
	require.True(t, strings.HasSuffix(call(), " true"))
}

// keyClient is the "fapi" client of the app at srv, which authenticates
// with private_key_jwt (RFC 7523), and its signing key "app-key".
func keyClient(t *testing.T, srv *httptest.Server) (testenv.Client, *ecdsa.PrivateKey) {
	t.Helper()
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: clientKey.Public(), KeyID: "app-key", Use: "sig"}}})
	require.NoError(t, err)
	client := webClient("fapi", srv, testenv.PrivateKeyJWT, false)
	client.JWKS = jwks
	return client, clientKey
}

// fapiAppConfig is the Config of a FAPI 2.0 web app for keyClient client
// at p: it authenticates with private_key_jwt and clientKey, binds its
// tokens to dpopKey, and asks for a refresh token.
func fapiAppConfig(p *testenv.Provider, client testenv.Client, clientKey, dpopKey *ecdsa.PrivateKey) httpoidc.Config {
	secrets := secretsFor(p, client)
	secrets.ClientSecret = ""
	return httpoidc.Config{
		ClientSecrets: secrets,
		ClientKey:     &httpoidc.ClientKey{Signer: clientKey, KeyID: "app-key"},
		DPoP:          true,
		DPoPKey:       dpopKey,
		Scopes:        append(slices.Clone(userScopes), "offline_access"),
	}
}

// startAPICallingApp starts on srv the app, configured by cfg, whose
// /private shows the logged-in user and whose /call relays a GET of apiURL
// with the user's tokens through oc.Client.
func startAPICallingApp(t *testing.T, srv *httptest.Server, cfg httpoidc.Config, apiURL string) *app {
	t.Helper()
	oc := newOIDC(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/private", oc.RequireLogin(http.HandlerFunc(writeUser)))
	mux.Handle("/call", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := oc.Client(r).Get(apiURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})))
	mux.HandleFunc("/", writeUser)
	srv.Config.Handler = oc.Handler(mux)
	srv.Start()
	return &app{URL: baseURL(srv)}
}

// clientPostWithKey POSTs a form to a provider endpoint with a
// private_key_jwt client assertion of the test's own making.
func clientPostWithKey(t *testing.T, p *testenv.Provider, key *ecdsa.PrivateKey, endpoint string, form url.Values) (int, map[string]any) {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "app-key"))
	require.NoError(t, err)
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "fapi", "sub": "fapi", "aud": p.Issuer, "jti": rand.Text(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	jws, err := signer.Sign(claims)
	require.NoError(t, err)
	assertion, err := jws.CompactSerialize()
	require.NoError(t, err)
	form.Set("client_id", "fapi")
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", assertion)
	resp, err := http.PostForm(endpoint, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

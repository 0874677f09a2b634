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
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/dpop"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestDPoPAcceptTokenOIDCProvider: an API protected by AcceptToken with
// RequireDPoP takes oidc-provider's DPoP-bound tokens (FAPI 2.0 profile,
// introspected with private_key_jwt, cnf in the answer) from oc.Client,
// and refuses each attack on them.
func TestDPoPAcceptTokenOIDCProvider(t *testing.T) {
	ctx := testContext(t)
	srv := reserve(t, "127.0.0.1")
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: clientKey.Public(), KeyID: "app-key", Use: "sig"}}})
	require.NoError(t, err)
	client := webClient("fapi", srv, testenv.PrivateKeyJWT, false)
	client.JWKS = jwks
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{client}, FAPI: true})
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	secrets := secretsFor(p, client)
	secrets.ClientSecret = ""
	apiOC := newOIDC(t, httpoidc.Config{
		ClientSecrets:      secrets,
		ClientKey:          &httpoidc.ClientKey{Signer: clientKey, KeyID: "app-key"},
		ResourceServerOnly: true,
		RequireDPoP:        true,
	})
	api := httptest.NewServer(apiOC.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprint(w, tok.Subject)
	})))
	t.Cleanup(api.Close)

	oc := newOIDC(t, httpoidc.Config{
		ClientSecrets: secrets,
		ClientKey:     &httpoidc.ClientKey{Signer: clientKey, KeyID: "app-key"},
		DPoP:          true,
		DPoPKey:       dpopKey,
		Scopes:        append(slices.Clone(userScopes), "offline_access"),
	})
	mux := http.NewServeMux()
	mux.Handle("/private", oc.RequireLogin(http.HandlerFunc(writeUser)))
	mux.Handle("/call", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := oc.Client(r).Get(api.URL + "/orders")
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
	a := &app{URL: baseURL(srv)}
	browser := newBrowser(t)
	u := a.login(t, ctx, p, browser, "alice")
	require.True(t, u.LoggedIn)

	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/call", nil)
		require.NoError(t, err)
		resp, err := browser.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Equal(t, "alice", string(body), "oc.Client's DPoP-bound token and fresh proof are accepted")
	}

	key, err := dpop.NewKey(dpopKey, "", nil)
	require.NoError(t, err)
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	thiefKey, err := dpop.NewKey(thief, "", nil)
	require.NoError(t, err)
	target := api.URL + "/orders"
	proof := func(k *dpop.Key, method, url, token string) string {
		p, err := k.Proof(method, url, token, "")
		require.NoError(t, err)
		return p
	}
	call := func(scheme, proof string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", scheme+" "+u.AccessToken)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	valid := proof(key, http.MethodGet, target, u.AccessToken)
	status, _ := call("DPoP", valid)
	require.Equal(t, http.StatusOK, status)
	for _, tc := range []struct {
		name, scheme, proof, code string
	}{
		{"replayed jti", "DPoP", valid, "invalid_dpop_proof"},
		{"wrong ath", "DPoP", proof(key, http.MethodGet, target, u.AccessToken+"x"), "invalid_dpop_proof"},
		{"htu mismatch", "DPoP", proof(key, http.MethodGet, strings.Replace(target, "/orders", "/admin", 1), u.AccessToken), "invalid_dpop_proof"},
		{"htm mismatch", "DPoP", proof(key, http.MethodPost, target, u.AccessToken), "invalid_dpop_proof"},
		{"proof signed with another key", "DPoP", proof(thiefKey, http.MethodGet, target, u.AccessToken), "invalid_token"},
		{"missing proof", "DPoP", "", "invalid_dpop_proof"},
		{"bound token as Bearer", "Bearer", "", "invalid_token"},
	} {
		status, code := call(tc.scheme, tc.proof)
		require.Equal(t, http.StatusUnauthorized, status, tc.name)
		require.Equal(t, tc.code, code, tc.name)
	}
}

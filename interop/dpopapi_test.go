package interop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/dpop"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// TestDPoPAcceptTokenOIDCProvider: an API protected by AcceptToken with
// RequireDPoP takes oidc-provider's DPoP-bound opaque tokens (FAPI 2.0
// profile, introspected with private_key_jwt, cnf in the answer) from
// oc.Client, and refuses each attack on them.
func TestDPoPAcceptTokenOIDCProvider(t *testing.T) {
	testDPoPAcceptToken(t, false)
}

// TestDPoPAcceptTokenJWTOIDCProvider: the same for the RFC 9068 JWT access
// token oidc-provider issues for the API's resource indicator, bound by
// its cnf.jkt (RFC 9449 §6.1) and validated without introspection.
func TestDPoPAcceptTokenJWTOIDCProvider(t *testing.T) {
	testDPoPAcceptToken(t, true)
}

// testDPoPAcceptToken logs a FAPI 2.0 web app with a DPoP key in to
// oidc-provider, asking for a JWT access token for the API if jwt, calls
// the API through oc.Client, then attacks it with the bound token.
func testDPoPAcceptToken(t *testing.T, jwt bool) {
	ctx := testContext(t)
	srv, apiSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	apiURL := baseURL(apiSrv) + "/"
	client, clientKey := keyClient(t, srv)
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{client}, FAPI: true,
		Resources:          []testenv.Resource{{Indicator: apiURL, Scopes: []string{"api:read"}}},
		UseGrantedResource: true})
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	appCfg := fapiAppConfig(p, client, clientKey, dpopKey)
	apiCfg := httpoidc.Config{
		ClientSecrets:      appCfg.ClientSecrets,
		ClientKey:          &httpoidc.ClientKey{Signer: clientKey, KeyID: "app-key"},
		ResourceServerOnly: true,
		RequireDPoP:        true,
	}
	if jwt {
		apiCfg.Audience = apiURL
		apiCfg.AccessTokenValidation = httpoidc.ValidateJWT
		apiCfg.StrictAccessTokenType = true // oidc-provider sends typ at+jwt
		appCfg.AuthParams = map[string]string{"resource": apiURL}
		appCfg.Scopes = append(appCfg.Scopes, "api:read")
		// The access token is for the API: oidc-provider's userinfo
		// refuses it.
		appCfg.DisableUserInfo = true
	}
	apiOC := newOIDC(t, apiCfg)
	apiSrv.Config.Handler = apiOC.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprint(w, tok.Subject)
	}))
	apiSrv.Start()

	a := startAPICallingApp(t, srv, appCfg, apiURL+"orders")
	browser := newBrowser(t)
	u := a.login(t, ctx, p, browser, "alice")
	require.True(t, u.LoggedIn)
	if jwt {
		cnf, _ := jwtClaims(t, u.AccessToken)["cnf"].(map[string]any)
		jkt, err := dpop.Thumbprint(dpopKey.Public())
		require.NoError(t, err)
		require.Equal(t, jkt, cnf["jkt"], "the JWT access token is bound to the app's DPoP key")
	} else {
		require.NotContains(t, u.AccessToken, ".", "without a resource oidc-provider issues an opaque token")
	}

	for range 2 {
		status, body := a.fetch(t, ctx, browser, "/call")
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.Equal(t, "alice", body, "oc.Client's DPoP-bound token and fresh proof are accepted")
	}

	key, err := dpop.NewKey(dpopKey, "", nil)
	require.NoError(t, err)
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	thiefKey, err := dpop.NewKey(thief, "", nil)
	require.NoError(t, err)
	target := apiURL + "orders"
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

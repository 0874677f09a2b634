package interop_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// tokenFor signs user in as client c the way an API client does it, with
// x/oauth2 and no httpoidc, and returns the tokens. A non-empty resource is
// sent as the RFC 8707 resource parameter on both requests, which makes
// oidc-provider issue an RFC 9068 JWT access token for that API.
func tokenFor(t *testing.T, ctx context.Context, p *testenv.Provider, c testenv.Client, user, resource string, scopes ...string) *oauth2.Token {
	t.Helper()
	var params url.Values
	if resource != "" {
		params = url.Values{"resource": {resource}}
	}
	return tokenWith(t, ctx, p, c, user, params, scopes...)
}

// tokenWith is tokenFor with params (such as Hydra's audience) sent on both
// the authorization and the token request.
func tokenWith(t *testing.T, ctx context.Context, p *testenv.Provider, c testenv.Client, user string, params url.Values, scopes ...string) *oauth2.Token {
	t.Helper()
	meta := discover(t, ctx, p)
	style := oauth2.AuthStyleInHeader
	if c.AuthMethod == testenv.ClientSecretPost {
		style = oauth2.AuthStyleInParams
	}
	cfg := oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURIs[0], Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: meta.AuthURL, TokenURL: meta.TokenURL, AuthStyle: style},
	}
	verifier := oauth2.GenerateVerifier()
	authOpts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	tokenOpts := []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
	for name := range params {
		authOpts = append(authOpts, oauth2.SetAuthURLParam(name, params.Get(name)))
		tokenOpts = append(tokenOpts, oauth2.SetAuthURLParam(name, params.Get(name)))
	}
	// Nothing listens at the redirect URI: the code is read off the
	// redirect to it.
	browser := newBrowser(t)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := p.Login(ctx, browser, cfg.AuthCodeURL("api-client", authOpts...), user, password(t, p, user))
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := resp.Location()
	require.NoError(t, err)
	require.Equal(t, "api-client", loc.Query().Get("state"))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), tokenOpts...)
	require.NoError(t, err)
	return tok
}

// api is a resource server protected by AcceptToken.
type api struct {
	URL string
	oc  *httpoidc.OpenIDConnect
}

// tokenView is what the API tells about the request's validated token.
type tokenView struct {
	Subject  string         `json:"sub"`
	ClientID string         `json:"client_id"`
	Issuer   string         `json:"iss"`
	Scopes   []string       `json:"scopes"`
	Audience []string       `json:"aud"`
	Expiry   time.Time      `json:"exp"`
	UserInfo map[string]any `json:"userinfo,omitempty"`
}

// startAPI serves /read (scope api:read), /write (api:write), /me (email),
// /userinfo (email; it also fetches the token's userinfo) and /any (any
// access token for this API) on srv.
func startAPI(t *testing.T, srv *httptest.Server, cfg httpoidc.Config) *api {
	t.Helper()
	oc := newOIDC(t, cfg)
	view := func(withUserInfo bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := httpoidc.TokenFrom(r.Context())
			if !ok {
				http.Error(w, "AcceptToken let a request through without a token", http.StatusInternalServerError)
				return
			}
			v := tokenView{Subject: tok.Subject, ClientID: tok.ClientID, Issuer: tok.Issuer, Scopes: tok.Scopes,
				Audience: tok.Audience, Expiry: tok.Expiry}
			if withUserInfo {
				var err error
				if v.UserInfo, err = oc.UserInfo(r.Context(), tok); err != nil {
					http.Error(w, "userinfo: "+err.Error(), http.StatusBadGateway)
					return
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/read", oc.AcceptToken("api:read")(view(false)))
	mux.Handle("/write", oc.AcceptToken("api:write")(view(false)))
	mux.Handle("/me", oc.AcceptToken("email")(view(false)))
	mux.Handle("/userinfo", oc.AcceptToken("email")(view(true)))
	mux.Handle("/any", oc.AcceptToken()(view(false)))
	srv.Config.Handler = mux
	srv.Start()
	return &api{URL: baseURL(srv), oc: oc}
}

// apiResponse is what an API call answered.
type apiResponse struct {
	status    int
	challenge string // WWW-Authenticate
	token     tokenView
	body      string
}

func (a *api) call(t *testing.T, ctx context.Context, path, token string) apiResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := apiResponse{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: string(body)}
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &r.token), "%s", body)
	}
	return r
}

// requireRefused checks an RFC 6750 refusal: the status and the error code
// of the Bearer challenge ("" for a request without a token).
func requireRefused(t *testing.T, r apiResponse, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.body)
	require.True(t, strings.HasPrefix(r.challenge, "Bearer "), "WWW-Authenticate: %q", r.challenge)
	if code == "" {
		require.NotContains(t, r.challenge, "error=")
	} else {
		require.Contains(t, r.challenge, `error="`+code+`"`)
	}
}

// apiClient registers a resource server's own credentials, which it uses
// for introspection; it never logs anyone in.
func apiClient(srv *httptest.Server, method testenv.AuthMethod) testenv.Client {
	return testenv.Client{ID: "api", RedirectURIs: []string{baseURL(srv) + "/unused"}, AuthMethod: method}
}

// apiConfig is the Config of a resource server with client c's credentials.
func apiConfig(p *testenv.Provider, c testenv.Client) httpoidc.Config {
	return httpoidc.Config{
		ClientSecrets:           &httpoidc.ClientSecrets{ClientID: c.ID, ClientSecret: c.Secret, Issuer: p.Issuer},
		ResourceServerOnly:      true,
		IntrospectionAuthMethod: string(c.AuthMethod),
	}
}

// tamper changes one character in the middle of a JWT's signature to
// another base64url character, so the token stays well-formed.
func tamper(jwt string) string {
	b := []byte(jwt)
	i := strings.LastIndex(jwt, ".") + (len(jwt)-strings.LastIndex(jwt, "."))/2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestAcceptTokenJWT: RFC 9068 JWT access tokens that oidc-provider issues
// for a resource indicator are accepted by an API whose Audience is that
// indicator, with their scopes enforced, and refused for any other API. An
// API that insists on introspection refuses them as invalid, since
// oidc-provider does not introspect its JWTs; it does not report the
// provider as down.
func TestAcceptTokenJWT(t *testing.T) {
	ctx := testContext(t)
	apiSrv, otherSrv, introspectingSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	web := testenv.Client{ID: "web", RedirectURIs: []string{baseURL(apiSrv) + "/callback"}}
	apiURL, otherURL := baseURL(apiSrv)+"/", baseURL(otherSrv)+"/"
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{web, apiClient(apiSrv, testenv.ClientSecretPost)},
		Resources: []testenv.Resource{
			{Indicator: apiURL, Scopes: []string{"api:read", "api:write"}},
			{Indicator: otherURL, Scopes: []string{"api:read"}},
		},
	})
	cfg := apiConfig(p, p.Client(t, "api"))
	cfg.Audience = apiURL
	cfg.StrictAccessTokenType = true // oidc-provider sends typ at+jwt
	a := startAPI(t, apiSrv, cfg)
	cfg.AccessTokenValidation = httpoidc.ValidateIntrospection
	introspecting := startAPI(t, introspectingSrv, cfg)

	tok := tokenFor(t, ctx, p, p.Client(t, "web"), "alice", apiURL, "openid", "api:read")
	require.Len(t, strings.Split(tok.AccessToken, "."), 3, "a resource indicator gives a JWT access token")
	forOther := tokenFor(t, ctx, p, p.Client(t, "web"), "alice", otherURL, "openid", "api:read")
	tampered := tamper(tok.AccessToken)

	ok := a.call(t, ctx, "/read", tok.AccessToken)
	require.Equal(t, http.StatusOK, ok.status, "%s", ok.body)
	require.Equal(t, "alice", ok.token.Subject)
	require.Equal(t, "web", ok.token.ClientID)
	require.Equal(t, p.Issuer, ok.token.Issuer)
	require.Equal(t, []string{"api:read"}, ok.token.Scopes, "oidc-provider grants only the API's scopes")
	require.Equal(t, []string{apiURL}, ok.token.Audience)
	require.WithinDuration(t, tok.Expiry, ok.token.Expiry, 5*time.Second)

	requireRefused(t, a.call(t, ctx, "/read", ""), http.StatusUnauthorized, "")
	requireRefused(t, a.call(t, ctx, "/write", tok.AccessToken), http.StatusForbidden, "insufficient_scope")
	requireRefused(t, a.call(t, ctx, "/read", forOther.AccessToken), http.StatusUnauthorized, "invalid_token")
	requireRefused(t, a.call(t, ctx, "/read", tampered), http.StatusUnauthorized, "invalid_token")
	requireRefused(t, introspecting.call(t, ctx, "/read", tok.AccessToken), http.StatusUnauthorized, "invalid_token")
}

// TestAcceptTokenIntrospection: oidc-provider's opaque access tokens are
// accepted through its introspection endpoint, scopes are enforced, the
// token's userinfo is readable, and a revocation at the provider is seen
// once the introspection cache lets it be (at once without a cache).
func TestAcceptTokenIntrospection(t *testing.T) {
	ctx := testContext(t)
	cachedSrv, uncachedSrv := reserve(t, "127.0.0.1"), reserve(t, "127.0.0.1")
	web := testenv.Client{ID: "web", RedirectURIs: []string{baseURL(cachedSrv) + "/callback"}}
	p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{
		Clients: []testenv.Client{web, apiClient(cachedSrv, testenv.ClientSecretBasic)},
	})
	clk := &clock{}
	const cacheTTL = 30 * time.Second
	cfg := apiConfig(p, p.Client(t, "api"))
	cfg.Now = clk.Now
	cfg.IntrospectionCacheTTL = cacheTTL
	// oidc-provider's answers for opaque tokens have no aud: the API
	// trusts web's tokens because it says so.
	cfg.AllowedClients = []string{"web"}
	cached := startAPI(t, cachedSrv, cfg)
	cfg.AccessTokenValidation = httpoidc.ValidateIntrospection
	cfg.IntrospectionCacheTTL = -1
	uncached := startAPI(t, uncachedSrv, cfg)

	tok := tokenFor(t, ctx, p, p.Client(t, "web"), "alice", "", userScopes...)
	require.Len(t, strings.Split(tok.AccessToken, "."), 1, "without a resource indicator the token is opaque")

	for _, a := range []*api{cached, uncached} {
		me := a.call(t, ctx, "/userinfo", tok.AccessToken)
		require.Equal(t, http.StatusOK, me.status, "%s", me.body)
		require.Equal(t, "alice", me.token.Subject)
		require.Equal(t, "web", me.token.ClientID)
		require.Subset(t, me.token.Scopes, userScopes)
		require.Equal(t, "alice", me.token.UserInfo["sub"])
		require.Equal(t, "alice@example.com", me.token.UserInfo["email"])
		require.Equal(t, "Alice Example", me.token.UserInfo["name"])
		requireRefused(t, a.call(t, ctx, "/read", tok.AccessToken), http.StatusForbidden, "insufficient_scope")
		requireRefused(t, a.call(t, ctx, "/me", "not-a-token-it-issued"), http.StatusUnauthorized, "invalid_token")
	}

	status, _ := clientPost(t, ctx, p.Client(t, "web"), discover(t, ctx, p).Revocation,
		url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	require.Equal(t, http.StatusOK, status)
	requireRefused(t, uncached.call(t, ctx, "/me", tok.AccessToken), http.StatusUnauthorized, "invalid_token")
	// The documented window: the cached answer stands for IntrospectionCacheTTL.
	require.Equal(t, http.StatusOK, cached.call(t, ctx, "/me", tok.AccessToken).status)
	clk.Advance(cacheTTL + time.Second)
	requireRefused(t, cached.call(t, ctx, "/me", tok.AccessToken), http.StatusUnauthorized, "invalid_token")
}

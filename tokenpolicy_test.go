package httpoidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// shaped is an oidctest provider behind a front that reproduces what real
// providers do and oidctest has no setting for, as their documentation
// describes it: it edits the discovery document and introspection answers,
// refuses client_secret_post at introspection (zitadel), and publishes a
// key of the test beside the provider's, so that tests can sign JWTs of
// any shape (Keycloak's, Dex's, Cognito's) that verify like the
// provider's own.
type shaped struct {
	op        *oidctest.Server
	discovery func(doc map[string]any)
	// introspection edits the provider's answer; token is the token asked
	// about.
	introspection func(token string, answer map[string]any)
	basicOnly     bool
}

// shapedKey signs the test's JWTs; generated once, as RSA keys are slow to
// make.
var shapedKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

func newShaped(t *testing.T) *shaped {
	srv := httptest.NewUnstartedServer(nil)
	sp := &shaped{op: oidctest.NewHandler("http://" + srv.Listener.Addr().String())}
	srv.Config.Handler = sp
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(sp.op.Close)
	sp.op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
	sp.op.AddClient(oidctest.Client{ID: "web", Secret: "web-secret"})
	sp.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
	return sp
}

func (sp *shaped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	edit := func(change func(map[string]any)) {
		rec := httptest.NewRecorder()
		sp.op.ServeHTTP(rec, r)
		var doc map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		change(doc)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		edit(func(doc map[string]any) {
			if sp.discovery != nil {
				sp.discovery(doc)
			}
		})
	case "/jwks":
		edit(func(doc map[string]any) {
			own := jose.JSONWebKey{Key: &shapedKey().PublicKey, KeyID: "shaped", Algorithm: "RS256", Use: "sig"}
			keys, _ := doc["keys"].([]any)
			doc["keys"] = append(keys, own)
		})
	case "/introspect":
		if sp.basicOnly {
			if _, _, basic := r.BasicAuth(); !basic {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
				return
			}
		}
		_ = r.ParseForm()
		token := r.PostForm.Get("token")
		edit(func(answer map[string]any) {
			if sp.introspection != nil {
				sp.introspection(token, answer)
			}
		})
	default:
		sp.op.ServeHTTP(w, r)
	}
}

// sign returns a JWT with the typ header typ (none if empty) and claims,
// signed with the test's key, which the provider publishes.
func (sp *shaped) sign(t *testing.T, typ string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), "shaped")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: shapedKey()}, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// claims returns the claims every token shape below starts from: iss,
// sub, aud (the client ID), exp, iat.
func (sp *shaped) claims(extra map[string]any) map[string]any {
	now := sp.op.Now()
	c := map[string]any{"iss": sp.op.URL, "sub": "alice", "aud": "api", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	editClaims(c, extra)
	return c
}

// editClaims sets the members of changes in doc, deleting those whose
// value is nil.
func editClaims(doc, changes map[string]any) {
	for k, v := range changes {
		if v == nil {
			delete(doc, k)
			continue
		}
		doc[k] = v
	}
}

// api returns an AcceptToken resource server for client api of sp, logging
// into logs when it is not nil.
func (sp *shaped) api(t *testing.T, logs *bytes.Buffer, configure func(*Config)) *api {
	var logger *slog.Logger = slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return apiFor(t, sp.op, logger, configure)
}

// TestTokenPolicyJWT presents JWTs shaped as providers document their
// access, ID, refresh and logout tokens, signed with a key the provider
// publishes, to AcceptToken.
func TestTokenPolicyJWT(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	idToken := map[string]any{"azp": "api", "auth_time": sp.op.Now().Unix(), "email": "alice@example.com"}
	with := func(base map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	dexToken := map[string]any{"at_hash": "x5Hq4Uq2lDbiAcM6tGAtCQ", "nonce": "n-0S6_WzA2Mj", "email": "alice@example.com"}
	tests := []struct {
		name      string
		typ       string
		claims    map[string]any
		configure func(*Config)
		ok        bool
	}{
		{"RFC 9068 access token", "at+jwt", map[string]any{"client_id": "api", "scope": "openid"}, nil, true},
		{"application/at+jwt", "application/at+jwt", map[string]any{"client_id": "api"}, nil, true},
		{"at+jwt carrying a nonce", "at+jwt", map[string]any{"client_id": "api", "nonce": "n"}, nil, false},
		{"ID token without nonce or at_hash (after a refresh)", "JWT", idToken, nil, false},
		{"ID token without typ", "", idToken, nil, false},
		{"ID token with nonce", "JWT", with(idToken, map[string]any{"nonce": "n"}), nil, false},
		{"ID token with c_hash", "JWT", with(idToken, map[string]any{"c_hash": "h"}), nil, false},
		{"ID token with a scope claim and at_hash", "JWT", with(idToken, map[string]any{"scope": "openid", "at_hash": "h"}), nil, false},
		{"ID token, Audience set to the client ID", "JWT", idToken, func(c *Config) { c.Audience = "api" }, false},
		{"logout token without typ", "", map[string]any{"jti": "j", "sid": "s",
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}, nil, false},
		{"logout token", "logout+jwt", map[string]any{"jti": "j",
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}, nil, false},
		{"another explicit typ", "refresh+jwt", map[string]any{"client_id": "api", "scope": "openid"}, nil, false},
		{"untyped JWT with a scope claim", "JWT", map[string]any{"scope": "openid email"}, nil, true},
		{"untyped JWT with scp", "", map[string]any{"scp": []string{"read"}}, nil, true},

		// Keycloak: typ claim Bearer, the client in azp; aud names the
		// client only with an audience mapper.
		{"Keycloak access token with an audience mapper", "JWT", map[string]any{"typ": "Bearer", "azp": "api",
			"aud": []string{"api", "account"}, "scope": "openid email", "sid": "s"}, nil, true},
		{"Keycloak 24 access token, with the nonce", "JWT", map[string]any{"typ": "Bearer", "azp": "api",
			"aud": []string{"api", "account"}, "scope": "openid", "nonce": "n"}, nil, true},
		{"Keycloak access token without an audience mapper", "JWT", map[string]any{"typ": "Bearer", "azp": "api",
			"aud": "account", "scope": "openid"}, nil, false},
		{"Keycloak ID token", "JWT", with(idToken, map[string]any{"typ": "ID"}), nil, false},
		{"Keycloak refresh token", "JWT", map[string]any{"typ": "Refresh", "azp": "api", "scope": "openid"}, nil, false},
		{"Keycloak offline token", "JWT", map[string]any{"typ": "Offline", "azp": "api", "scope": "openid offline_access"}, nil, false},
		{"Keycloak logout token", "logout+jwt", map[string]any{"typ": "Logout", "sid": "s",
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}, nil, false},

		// Cognito: token_use, and access tokens without aud.
		{"Cognito ID token", "", with(idToken, map[string]any{"token_use": "id"}), nil, false},
		{"Cognito access token, default settings", "", map[string]any{"token_use": "access", "client_id": "api",
			"scope": "openid", "aud": nil}, nil, false},
		{"Cognito access token, AllowedClients", "", map[string]any{"token_use": "access", "client_id": "api",
			"scope": "openid", "aud": nil}, func(c *Config) { c.AllowedClients = []string{"api"} }, true},
		{"Cognito access token of another client, AllowedClients", "", map[string]any{"token_use": "access",
			"client_id": "web", "scope": "openid", "aud": nil}, func(c *Config) { c.AllowedClients = []string{"api"} }, false},

		// Okta: the client in cid, scp, aud the authorization server's.
		{"Okta access token", "", map[string]any{"ver": 1, "cid": "api", "scp": []string{"openid"}, "aud": "api://default"},
			func(c *Config) { c.Audience = "api://default"; c.AllowedClients = []string{"api"} }, true},
		{"Okta access token of another client", "", map[string]any{"ver": 1, "cid": "web", "scp": []string{"openid"}, "aud": "api://default"},
			func(c *Config) { c.Audience = "api://default"; c.AllowedClients = []string{"api"} }, false},

		// zitadel: JWT access tokens with client_id and no scope claim.
		{"zitadel JWT access token", "JWT", map[string]any{"client_id": "api", "aud": []string{"api", "123456789"}, "jti": "j"}, nil, true},
		{"zitadel ID token from a token exchange: client_id and azp, no nonce or at_hash", "JWT",
			with(idToken, map[string]any{"client_id": "api"}), nil, false},

		// Dex: access tokens are ID tokens in all but name.
		{"Dex access token", "", dexToken, nil, false},
		{"Dex access token, opt-in", "", dexToken, func(c *Config) { c.InsecureAcceptIDTokenShapedAccessTokens = true }, true},
		{"Dex ID token, opt-in: accepted, as documented", "", with(dexToken, map[string]any{"email_verified": true}),
			func(c *Config) { c.InsecureAcceptIDTokenShapedAccessTokens = true }, true},
		{"logout token, Dex opt-in", "", map[string]any{"jti": "j",
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}},
			func(c *Config) { c.InsecureAcceptIDTokenShapedAccessTokens = true }, false},

		// An audience of the API's own is positive evidence (Entra ID's
		// app-only tokens carry roles, not scp).
		{"untyped token for the configured audience", "JWT", map[string]any{"aud": "api://orders", "azp": "web", "roles": []string{"Orders.Read"}},
			func(c *Config) { c.Audience = "api://orders" }, true},
		{"ID token, Audience configured", "JWT", idToken, func(c *Config) { c.Audience = "api://orders" }, false},

		// Several clients.
		{"another client's token, AllowedClients", "at+jwt", map[string]any{"client_id": "other", "scope": "openid"},
			func(c *Config) { c.AllowedClients = []string{"api", "web"} }, false},
		{"an allowed client's token", "at+jwt", map[string]any{"client_id": "web", "scope": "openid"},
			func(c *Config) { c.AllowedClients = []string{"api", "web"} }, true},
		{"a token naming no client, AllowedClients", "at+jwt", map[string]any{"scope": "openid"},
			func(c *Config) { c.AllowedClients = []string{"api"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sp.api(t, nil, tt.configure)
			requireAccepted(t, tt.ok, a.get(sp.sign(t, tt.typ, sp.claims(tt.claims))))
		})
	}
}

// TestTokenPolicyIntrospection presents opaque tokens whose introspection
// answers are shaped as providers document them.
func TestTokenPolicyIntrospection(t *testing.T) {
	t.Parallel()
	set := func(values map[string]any) func(string, map[string]any) {
		return func(_ string, answer map[string]any) { editClaims(answer, values) }
	}
	tests := []struct {
		name      string
		client    string   // the client the token is issued to
		aud       []string // its audience; empty: the client
		answer    func(token string, answer map[string]any)
		configure func(*Config)
		ok        bool
	}{
		{"own access token", "api", nil, nil, nil, true},
		{"own access token, provider audiences (Keycloak before 26.6)", "api", []string{"account"}, nil, nil, true},
		{"refresh token, Dex and Hydra", "api", nil, set(map[string]any{"token_type": "Bearer", "token_use": "refresh_token"}), nil, false},
		{"Hydra access token", "api", nil, set(map[string]any{"token_use": "access_token", "aud": []string{}}), nil, true},
		{"Keycloak ID token", "api", nil, set(map[string]any{"typ": "ID", "token_type": "ID", "nonce": "n"}), nil, false},
		{"Keycloak refresh token", "api", nil, set(map[string]any{"typ": "Refresh"}), nil, false},
		{"Keycloak access token", "api", nil, set(map[string]any{"typ": "Bearer", "token_type": "Bearer", "azp": "api"}), nil, true},
		{"DPoP token without cnf", "api", nil, set(map[string]any{"token_type": "DPoP"}), nil, false},
		{"another client's token", "web", nil, nil, nil, false},
		{"another client's token without aud (Hydra)", "web", nil, set(map[string]any{"aud": nil}), nil, false},
		{"an answer with neither aud nor client_id", "api", nil, set(map[string]any{"aud": nil, "client_id": nil}), nil, false},
		{"an allowed client's token", "web", nil, nil, func(c *Config) { c.AllowedClients = []string{"api", "web"} }, true},
		{"an allowed client's token without aud", "web", nil, set(map[string]any{"aud": nil}),
			func(c *Config) { c.AllowedClients = []string{"web"} }, true},
		{"Audience set, answer for it", "web", []string{"https://api.example"}, nil,
			func(c *Config) { c.Audience = "https://api.example" }, true},
		{"Audience set, answer for it and the provider's audiences", "api", []string{"account", "https://api.example"}, nil,
			func(c *Config) { c.Audience = "https://api.example" }, true},
		{"Audience set, answer for the provider's audiences only", "api", []string{"account"}, nil,
			func(c *Config) { c.Audience = "https://api.example" }, false},
		{"Audience set, answer without aud (Hydra)", "api", nil, set(map[string]any{"aud": nil}),
			func(c *Config) { c.Audience = "https://api.example" }, false},
		{"Audience set, answer without aud, AllowedClients", "web", nil, set(map[string]any{"aud": nil}),
			func(c *Config) { c.Audience = "https://api.example"; c.AllowedClients = []string{"web"} }, true},
		{"Audience set, answer for another audience", "api", []string{"https://other.example"}, nil,
			func(c *Config) { c.Audience = "https://api.example"; c.AllowedClients = []string{"api"} }, false},
		{"another issuer", "api", nil, set(map[string]any{"iss": "https://evil.example"}), nil, false},
		{"Cognito-style ID token answer", "api", nil, set(map[string]any{"token_use": "id"}), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newShaped(t)
			sp.introspection = tt.answer
			a := sp.api(t, nil, tt.configure)
			tok := sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: tt.client, Subject: "alice", Audience: tt.aud, Scopes: []string{"openid"}})
			requireAccepted(t, tt.ok, a.get(tok))
		})
	}
}

// TestIntrospectionRefusesOwnClientsTokensForAnotherAPI: with the default
// Audience an introspection answer is bound to this API by its client only
// while its aud names no other API (RFC 9068 §4, RFC 7662 §4), as a JWT
// with the same claims would be: a token this client obtained for another
// API is not replayed here. Providers' own audiences (Keycloak's
// "account") and the allowed clients name no other API.
func TestIntrospectionRefusesOwnClientsTokensForAnotherAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		client    string
		aud       any
		configure func(*Config)
		ok        bool
	}{
		{"another API", "api", []string{"https://other-api.example"}, nil, false},
		{"another API as a string", "api", "https://other-api.example", nil, false},
		{"Keycloak's account and another API", "api", []string{"account", "https://other-api.example"}, nil, false},
		{"an allowed client's token for another API", "web", []string{"https://other-api.example"},
			func(c *Config) { c.AllowedClients = []string{"web"} }, false},
		{"Keycloak's account only", "api", []string{"account"}, nil, true},
		{"no aud", "api", []string{}, nil, true},
		{"this client and another API", "api", []string{"api", "https://other-api.example"}, nil, true},
		{"an allowed client's token for itself", "web", []string{"web", "account"},
			func(c *Config) { c.AllowedClients = []string{"web"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newShaped(t)
			sp.introspection = func(_ string, answer map[string]any) { answer["aud"] = tt.aud }
			var logs bytes.Buffer
			a := sp.api(t, &logs, tt.configure)
			tok := sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: tt.client, Subject: "alice", Scopes: []string{"openid"}})
			requireAccepted(t, tt.ok, a.get(tok))
			if tt.ok {
				return
			}
			require.Contains(t, logs.String(), "claim=aud")
			require.Contains(t, logs.String(), "https://other-api.example")
			require.Contains(t, logs.String(), "Config.Audience")
		})
	}
}

// TestTokenPolicyIntrospectedIDToken checks that an ID token sent to
// introspection is refused even when the provider calls it an active
// access token, as Dex does.
func TestTokenPolicyIntrospectedIDToken(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	sp.introspection = func(token string, answer map[string]any) {
		if strings.Count(token, ".") == 2 {
			for k, v := range map[string]any{"active": true, "client_id": "api", "aud": "api", "sub": "alice",
				"token_type": "Bearer", "token_use": "access_token", "iss": sp.op.URL} {
				answer[k] = v
			}
		}
	}
	idToken := sp.sign(t, "", sp.claims(map[string]any{"at_hash": "h", "nonce": "n", "email": "alice@example.com"}))
	a := sp.api(t, nil, func(c *Config) { c.AccessTokenValidation = ValidateIntrospection })
	requireAnswer(t, answerInvalidToken, a.get(idToken))
	require.Equal(t, 1, sp.op.Requests(oidctest.EndpointIntrospection))
	// After a refresh, ID tokens have neither nonce nor at_hash; Okta
	// answers for them as active Bearer tokens.
	refreshed := sp.sign(t, "JWT", sp.claims(map[string]any{"azp": "api", "email": "alice@example.com"}))
	requireAnswer(t, answerInvalidToken, a.get(refreshed))
	logout := sp.sign(t, "logout+jwt", sp.claims(map[string]any{"jti": "j"}))
	requireAnswer(t, answerInvalidToken, a.get(logout))
	access := sp.sign(t, "JWT", sp.claims(map[string]any{"client_id": "api", "scope": "openid"}))
	require.Equal(t, http.StatusOK, a.get(access).Code, "an access token the provider vouches for")

	dex := sp.api(t, nil, func(c *Config) {
		c.AccessTokenValidation = ValidateIntrospection
		c.InsecureAcceptIDTokenShapedAccessTokens = true
	})
	require.Equal(t, http.StatusOK, dex.get(idToken).Code, "Dex's access tokens are ID-token shaped: the opt-in accepts them")
}

// TestTokenPolicyRefusalLog checks the line that tells the operator which
// claim failed and what to set: once a minute at most, never the token.
func TestTokenPolicyRefusalLog(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	var logs bytes.Buffer
	a := sp.api(t, &logs, nil)
	keycloak := sp.sign(t, "JWT", sp.claims(map[string]any{"typ": "Bearer", "azp": "api", "aud": "account", "scope": "openid"}))
	for range 3 {
		requireAnswer(t, answerInvalidToken, a.get(keycloak))
	}
	require.Equal(t, 1, strings.Count(logs.String(), "access token refused"), logs.String())
	require.Contains(t, logs.String(), `claim=aud`)
	require.Contains(t, logs.String(), `Config.Audience`)
	require.Contains(t, logs.String(), `audience mapper`)
	require.NotContains(t, logs.String(), keycloak)
	payload := keycloak[strings.Index(keycloak, ".")+1 : strings.LastIndex(keycloak, ".")]
	require.NotContains(t, logs.String(), payload)

	sp.op.Advance(logInterval)
	requireAnswer(t, answerInvalidToken, a.get(sp.sign(t, "", sp.claims(map[string]any{"at_hash": "h", "nonce": "n"}))))
	require.Equal(t, 2, strings.Count(logs.String(), "access token refused"), logs.String())
	require.Contains(t, logs.String(), "InsecureAcceptIDTokenShapedAccessTokens")

	// A refusal no setting should mend is not worth a warning.
	logs.Reset()
	sp.op.Advance(logInterval)
	requireAnswer(t, answerInvalidToken, a.get(sp.sign(t, "logout+jwt", sp.claims(nil))))
	require.Empty(t, logs.String())
}

// TestTokenPolicyInsecureWarnings checks that the Insecure settings are
// announced at New.
func TestTokenPolicyInsecureWarnings(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	var logs bytes.Buffer
	sp.api(t, &logs, func(c *Config) {
		c.InsecureAcceptIDTokenShapedAccessTokens = true
		c.InsecureAcceptLogoutTokensWithoutExp = true
	})
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "InsecureAcceptIDTokenShapedAccessTokens is set")
	require.Contains(t, logs.String(), "InsecureAcceptLogoutTokensWithoutExp is set")
}

// TestIntrospectionAuthFromDiscovery reproduces zitadel, whose
// introspection endpoint takes client_secret_basic only and says so in its
// discovery document.
func TestIntrospectionAuthFromDiscovery(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	sp.basicOnly = true
	sp.discovery = func(doc map[string]any) {
		doc["introspection_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "private_key_jwt"}
	}
	a := sp.api(t, nil, nil)
	requireOK(t, "alice openid", a.get(sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"openid"}})))
}

func TestChooseAuthMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		configured string
		supported  []string
		fallback   string
		want       string
	}{
		{"", nil, AuthClientSecretPost, AuthClientSecretPost},
		{"", []string{"client_secret_basic", "client_secret_post"}, AuthClientSecretBasic, AuthClientSecretPost},
		{"", []string{"client_secret_basic", "private_key_jwt"}, AuthClientSecretPost, AuthClientSecretBasic},
		{"", []string{"private_key_jwt"}, AuthClientSecretBasic, AuthClientSecretBasic},
		{AuthClientSecretPost, []string{"client_secret_basic"}, AuthClientSecretBasic, AuthClientSecretPost},
		{AuthBearer, []string{"client_secret_basic"}, AuthClientSecretPost, AuthBearer},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, chooseAuthMethod(tt.configured, tt.supported, tt.fallback), "%+v", tt)
	}
}

// TestIntrospectionRefusedIsConfigError checks that an introspection
// endpoint refusing the API's credentials is reported as what it is: an
// error log naming the fix, and 500, not an outage to wait out.
func TestIntrospectionRefusedIsConfigError(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	tok := sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice"})
	for _, tt := range []struct{ method, want string }{
		{AuthClientSecretPost, "answered 401"},
		{AuthClientSecretBasic, "answered 401"},
		{AuthBearer, "client credentials grant"},
	} {
		t.Run(tt.method, func(t *testing.T) {
			var logs bytes.Buffer
			a := sp.api(t, &logs, func(c *Config) {
				c.ClientSecrets.ClientSecret = "wrong"
				c.IntrospectionAuthMethod = tt.method
			})
			for range 2 {
				rec := a.get(tok)
				requireAnswer(t, answer{http.StatusInternalServerError, "",
					`{"error":"server_error","error_description":"` + descMisconfigured + `"}` + "\n"}, rec)
				require.Empty(t, rec.Header().Get("Retry-After"))
			}
			require.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), logs.String())
			require.Contains(t, logs.String(), tt.want)
			require.Contains(t, logs.String(), "IntrospectionAuthMethod")
			require.NotContains(t, logs.String(), "wrong")
			require.NotContains(t, logs.String(), tok)
		})
	}
}

// TestOpaqueTokenWithoutIntrospectionEndpoint reproduces Ory Hydra, whose
// discovery document has no introspection endpoint: opaque tokens are
// refused, and the log says where to configure the endpoint.
func TestOpaqueTokenWithoutIntrospectionEndpoint(t *testing.T) {
	t.Parallel()
	sp := newShaped(t)
	sp.discovery = func(doc map[string]any) { delete(doc, "introspection_endpoint") }
	var logs bytes.Buffer
	a := sp.api(t, &logs, nil)
	opaque := sp.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice"})
	requireAnswer(t, answerInvalidToken, a.get(opaque))
	require.Contains(t, logs.String(), "token_introspection_uri")

	withURI := sp.api(t, nil, func(c *Config) { c.ClientSecrets.IntrospectionURI = sp.op.URL + "/introspect" })
	requireOK(t, "alice ", withURI.get(opaque))
}

// TestNewFailsWhenValidationCannotWork checks that a validation mode the
// provider cannot serve fails at New, not at every request.
func TestNewFailsWhenValidationCannotWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		discovery func(map[string]any)
		configure func(*Config)
		want      string // in the error; empty: New succeeds
	}{
		{"introspection without endpoint", func(d map[string]any) { delete(d, "introspection_endpoint") },
			func(c *Config) { c.AccessTokenValidation = ValidateIntrospection }, "token_introspection_uri"},
		{"introspection with token_introspection_uri", func(d map[string]any) { delete(d, "introspection_endpoint") },
			func(c *Config) {
				c.AccessTokenValidation = ValidateIntrospection
				c.ClientSecrets.IntrospectionURI = c.ClientSecrets.Issuer + "/introspect"
			}, ""},
		{"jwt without jwks_uri", func(d map[string]any) { delete(d, "jwks_uri") },
			func(c *Config) { c.AccessTokenValidation = ValidateJWT }, "jwks_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newShaped(t)
			sp.discovery = tt.discovery
			cfg := Config{
				ClientSecrets:      &ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: sp.op.URL},
				ResourceServerOnly: true,
				Logger:             slog.New(slog.DiscardHandler),
			}
			tt.configure(&cfg)
			_, err := New(context.Background(), cfg)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestClientAuthFromDiscovery checks that the token endpoint's method, and
// the introspection endpoint's when the provider lists none for it, follow
// token_endpoint_auth_methods_supported unless the Config says otherwise.
func TestClientAuthFromDiscovery(t *testing.T) {
	sp := newShaped(t)
	sp.discovery = func(doc map[string]any) {
		doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "private_key_jwt"}
		delete(doc, "introspection_endpoint_auth_methods_supported")
	}
	p := sp.api(t, nil, nil).oc.provider.Load()
	require.Equal(t, oauth2.AuthStyleInHeader, p.oauth2.Endpoint.AuthStyle)
	require.Equal(t, AuthClientSecretBasic, p.introspectionAuthMethod)

	p = sp.api(t, nil, func(c *Config) {
		c.ClientAuthMethod = AuthClientSecretPost
		c.IntrospectionAuthMethod = AuthBearer
	}).oc.provider.Load()
	require.Equal(t, oauth2.AuthStyleInParams, p.oauth2.Endpoint.AuthStyle)
	require.Equal(t, AuthBearer, p.introspectionAuthMethod)
}

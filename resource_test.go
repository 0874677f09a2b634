package httpoidc

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// The exact answers of AcceptToken, as documented on it.
const (
	challengeMissing      = `Bearer realm="httpoidc"`
	challengeInvalidToken = `Bearer realm="httpoidc", error="invalid_token", error_description="the access token is invalid, expired or revoked"`
	bodyMissing           = `{"error":"unauthorized","error_description":"missing bearer token"}` + "\n"
	bodyInvalidToken      = `{"error":"invalid_token","error_description":"the access token is invalid, expired or revoked"}` + "\n"
	bodyInsufficientScope = `{"error":"insufficient_scope","error_description":"the access token lacks a required scope"}` + "\n"
	bodyUnavailable       = `{"error":"temporarily_unavailable","error_description":"the identity provider cannot be reached; try again later"}` + "\n"
)

func challengeInvalidRequest(description string) string {
	return `Bearer realm="httpoidc", error="invalid_request", error_description="` + description + `"`
}

func bodyInvalidRequest(description string) string {
	return `{"error":"invalid_request","error_description":"` + description + `"}` + "\n"
}

// answer is what a client sees of an AcceptToken response.
type answer struct {
	status    int
	challenge string
	body      string
}

var (
	answerMissing      = answer{http.StatusUnauthorized, challengeMissing, bodyMissing}
	answerInvalidToken = answer{http.StatusUnauthorized, challengeInvalidToken, bodyInvalidToken}
	answerUnavailable  = answer{http.StatusServiceUnavailable, "", bodyUnavailable}
)

func answerInvalidRequest(description string) answer {
	return answer{http.StatusBadRequest, challengeInvalidRequest(description), bodyInvalidRequest(description)}
}

// api is a resource server protected by AcceptToken, validating tokens of
// a real oidctest provider over HTTP.
type api struct {
	t  testing.TB
	op *oidctest.Server
	oc *OpenIDConnect
}

func newAPI(t testing.TB, configure func(*Config), opts ...oidctest.Option) *api {
	op := oidctest.NewServer(opts...)
	t.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "name": "Alice"}})
	cfg := Config{
		ClientSecrets:      &ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: op.URL},
		ResourceServerOnly: true,
		Now:                op.Now,
		Logger:             slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(&cfg)
	}
	oc, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	return &api{t: t, op: op, oc: oc}
}

func (a *api) issue(format oidctest.AccessTokenFormat, scopes ...string) string {
	return a.issueTTL(format, 0, scopes...)
}

func (a *api) issueTTL(format oidctest.AccessTokenFormat, ttl time.Duration, scopes ...string) string {
	tok := a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: scopes, Audience: []string{"api"}, Format: format, TTL: ttl})
	require.NotEmpty(a.t, tok)
	return tok
}

// echo answers with the subject and scopes of the request's token.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	tok, ok := TokenFrom(r.Context())
	if !ok {
		http.Error(w, "no token in the context", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s %s", tok.Subject, strings.Join(tok.Scopes, ","))
})

// get sends GET / with the token as a bearer token (none if empty) through
// AcceptToken(scopes...).
func (a *api) get(token string, scopes ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.serve(req, scopes...)
}

func (a *api) serve(req *http.Request, scopes ...string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.oc.AcceptToken(scopes...)(echo).ServeHTTP(rec, req)
	return rec
}

func requireAnswer(t *testing.T, want answer, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, want.status, rec.Code, rec.Body.String())
	require.Equal(t, want.challenge, rec.Header().Get("WWW-Authenticate"))
	require.Equal(t, want.body, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

func requireOK(t *testing.T, body string, rec *httptest.ResponseRecorder, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, append([]any{rec.Body.String()}, msgAndArgs...)...)
	require.Equal(t, body, rec.Body.String(), msgAndArgs...)
}

// faulty issues a token while the provider has fault f switched on.
func (a *api) faulty(f oidctest.Fault, format oidctest.AccessTokenFormat, scopes ...string) string {
	a.op.SetFault(f, true)
	defer a.op.SetFault(f, false)
	return a.issue(format, scopes...)
}

// withHeader returns jwt with its protected header replaced; the signature
// no longer matches.
func withHeader(jwt string, header map[string]any) string {
	h, _ := json.Marshal(header)
	_, rest, _ := strings.Cut(jwt, ".")
	return base64.RawURLEncoding.EncodeToString(h) + "." + rest
}

func formRequest(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestAcceptTokenAnswers(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.AcceptFormToken = true })
	jwt := a.issue(oidctest.JWT, "read", "write")
	opaque := a.issue(oidctest.Opaque, "read", "write")
	malformedHeader := "the Authorization header does not hold a well-formed bearer token"
	tests := []struct {
		name  string
		req   func() *http.Request
		want  answer
		okFor string // the echo body when the request passes
	}{
		{"no token", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, answerMissing, ""},
		{"another scheme", header("Basic YXBpOmFwaS1zZWNyZXQ="), answerMissing, ""},
		{"token in the query is never read", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/?access_token="+url.QueryEscape(jwt), nil)
		}, answerMissing, ""},
		{"form token on GET is not read", func() *http.Request {
			req := formRequest("access_token=" + jwt)
			req.Method = http.MethodGet
			return req
		}, answerMissing, ""},
		{"form token on PUT is not read", func() *http.Request {
			req := formRequest("access_token=" + jwt)
			req.Method = http.MethodPut
			return req
		}, answerMissing, ""},
		{"form token in a multipart body is not read", func() *http.Request {
			req := formRequest("access_token=" + jwt)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			return req
		}, answerMissing, ""},
		{"Bearer without token", header("Bearer"), answerInvalidRequest(malformedHeader), ""},
		{"Bearer with blanks only", header("Bearer    "), answerInvalidRequest(malformedHeader), ""},
		{"token with a space", header("Bearer abc def"), answerInvalidRequest(malformedHeader), ""},
		{"token with a character outside b64token", header("Bearer abc%def"), answerInvalidRequest(malformedHeader), ""},
		{"token of padding only", header("Bearer =="), answerInvalidRequest(malformedHeader), ""},
		{"padding inside the token", header("Bearer ab=c"), answerInvalidRequest(malformedHeader), ""},
		{"two Authorization headers", func() *http.Request {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Add("Authorization", "Bearer "+jwt)
			req.Header.Add("Authorization", "Bearer "+jwt)
			return req
		}, answerInvalidRequest("more than one Authorization header"), ""},
		{"header and form", func() *http.Request {
			req := formRequest("access_token=" + jwt)
			req.Header.Set("Authorization", "Bearer "+jwt)
			return req
		}, answerInvalidRequest("the access token was sent in more than one way"), ""},
		{"two form tokens", func() *http.Request {
			return formRequest("access_token=" + jwt + "&access_token=" + jwt)
		}, answerInvalidRequest("the form body does not hold exactly one well-formed access_token"), ""},
		{"empty form token", func() *http.Request { return formRequest("access_token=") },
			answerInvalidRequest("the form body does not hold exactly one well-formed access_token"), ""},
		{"unknown opaque token", header("Bearer not-a-token"), answerInvalidToken, ""},
		{"JWT with a bad signature", header("Bearer " + a.faulty(oidctest.FaultBadSignature, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"expired JWT", header("Bearer " + a.faulty(oidctest.FaultExpired, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT issued in the future", header("Bearer " + a.faulty(oidctest.FaultIssuedInFuture, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT for another audience", header("Bearer " + a.faulty(oidctest.FaultWrongAudience, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT from another issuer", header("Bearer " + a.faulty(oidctest.FaultWrongIssuer, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT without sub", header("Bearer " + a.faulty(oidctest.FaultMissingSubject, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT with alg none", header("Bearer " + a.faulty(oidctest.FaultAlgNone, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"JWT signed HS256 with the client secret", header("Bearer " + a.faulty(oidctest.FaultHS256ClientSecret, oidctest.JWT, "read")), answerInvalidToken, ""},
		{"back-channel logout token for this client", header("Bearer " + a.op.LogoutToken("api", "alice", "sid")), answerInvalidToken, ""},
		{"missing scope", header("Bearer " + a.issue(oidctest.JWT, "read")),
			answer{http.StatusForbidden, `Bearer realm="httpoidc", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read write"`, bodyInsufficientScope}, ""},
		{"JWT", header("Bearer " + jwt), answer{}, "alice read,write"},
		{"opaque token", header("Bearer " + opaque), answer{}, "alice read,write"},
		{"scheme in another case", header("bEaReR " + jwt), answer{}, "alice read,write"},
		{"several spaces after the scheme", header("Bearer   " + jwt), answer{}, "alice read,write"},
		{"form token", func() *http.Request { return formRequest("access_token=" + opaque + "&other=x") }, answer{}, "alice read,write"},
		{"JWT with two audiences", header("Bearer " + a.faulty(oidctest.FaultMultipleAudiences, oidctest.JWT, "read", "write")), answer{}, "alice read,write"},
		{"JWT without kid", header("Bearer " + a.faulty(oidctest.FaultNoKID, oidctest.JWT, "read", "write")), answer{}, "alice read,write"},
		{"JWT without kid, JWKS with two keys", header("Bearer " + a.faulty(oidctest.FaultNoKIDMultipleKeys, oidctest.JWT, "read", "write")), answer{}, "alice read,write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.serve(tt.req(), "read", "write")
			if tt.okFor != "" {
				requireOK(t, tt.okFor, rec)
				return
			}
			requireAnswer(t, tt.want, rec)
		})
	}
}

func header(value string) func() *http.Request {
	return func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", value)
		return req
	}
}

// TestAcceptTokenFormTokenNeedsOptIn checks that a form token is ignored
// unless Config.AcceptFormToken is set.
func TestAcceptTokenFormTokenNeedsOptIn(t *testing.T) {
	a := newAPI(t, nil)
	requireAnswer(t, answerMissing, a.serve(formRequest("access_token="+a.issue(oidctest.JWT))))
}

func TestAcceptTokenStrictType(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.StrictAccessTokenType = true })
	jwt := a.issue(oidctest.JWT)
	requireOK(t, "alice ", a.get(jwt))
	// oidctest signs every access token as at+jwt: other types are checked
	// on the verified claims directly, as a forged header would fail the
	// signature first.
	lenient := newAPI(t, nil)
	for _, tt := range []struct {
		typ             string
		strict, lenient bool
	}{
		{"at+jwt", true, true}, {"AT+JWT", true, true}, {"application/at+jwt", true, true},
		{"", false, true}, {"JWT", false, true}, {"logout+jwt", false, false}, {"secevent+jwt", false, false},
	} {
		header := jwsHeader{Type: tt.typ}
		for _, c := range []struct {
			oc   *OpenIDConnect
			want bool
		}{{a.oc, tt.strict}, {lenient.oc, tt.lenient}} {
			_, err := c.oc.jwtAccessToken(a.oc.provider.Load(), jwt, mustPayload(t, jwt), header, a.op.Now())
			if c.want {
				require.NoError(t, err, tt.typ)
			} else {
				require.ErrorIs(t, err, ErrInvalidToken, tt.typ)
			}
		}
	}
}

// TestJWTClaims checks the claim rules of RFC 9068 §4 on verified
// payloads, including claims oidctest never leaves out.
func TestJWTClaims(t *testing.T) {
	a := newAPI(t, nil) // ClockSkew: a minute
	p := a.oc.provider.Load()
	now := a.op.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	valid := func() map[string]any {
		return map[string]any{"iss": a.op.URL, "sub": "alice", "aud": "api", "exp": at(time.Hour), "iat": at(0), "client_id": "api"}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		ok     bool
	}{
		{"valid", func(map[string]any) {}, true},
		{"aud array", func(c map[string]any) { c["aud"] = []string{"other", "api"} }, true},
		{"aud without us", func(c map[string]any) { c["aud"] = []string{"other"} }, false},
		{"no aud", func(c map[string]any) { delete(c, "aud") }, false},
		{"wrong iss", func(c map[string]any) { c["iss"] = a.op.URL + "/" }, false},
		{"no iss", func(c map[string]any) { delete(c, "iss") }, false},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, false},
		{"expired within the skew", func(c map[string]any) { c["exp"] = at(-30 * time.Second) }, true},
		{"expired beyond the skew", func(c map[string]any) { c["exp"] = at(-61 * time.Second) }, false},
		{"nbf within the skew", func(c map[string]any) { c["nbf"] = at(30 * time.Second) }, true},
		{"nbf beyond the skew", func(c map[string]any) { c["nbf"] = at(2 * time.Minute) }, false},
		{"nbf not a number", func(c map[string]any) { c["nbf"] = "soon" }, false},
		{"iat within the skew", func(c map[string]any) { c["iat"] = at(30 * time.Second) }, true},
		{"iat beyond the skew", func(c map[string]any) { c["iat"] = at(2 * time.Minute) }, false},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, true},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, false},
		{"azp as client", func(c map[string]any) { delete(c, "client_id"); c["azp"] = "api" }, true},
		{"Okta's cid as client", func(c map[string]any) { delete(c, "client_id"); c["cid"] = "api" }, true},
	}
	header := jwsHeader{Type: "at+jwt"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := valid()
			tt.change(claims)
			payload, err := json.Marshal(claims)
			require.NoError(t, err)
			tok, err := a.oc.jwtAccessToken(p, "raw", payload, header, now)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "api", tok.ClientID)
		})
	}
	for _, payload := range []string{"[]", "null", "x", `{"exp":1e300}`} {
		_, err := a.oc.jwtAccessToken(p, "raw", []byte(payload), header, now)
		require.ErrorIs(t, err, ErrInvalidToken, payload)
	}
}

func mustPayload(t *testing.T, jwt string) []byte {
	parts := strings.Split(jwt, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return payload
}

func TestAcceptTokenContext(t *testing.T) {
	a := newAPI(t, nil)
	for _, format := range []oidctest.AccessTokenFormat{oidctest.JWT, oidctest.Opaque} {
		raw := a.issue(format, "openid", "read")
		var got *Token
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		a.oc.AcceptToken("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = TokenFrom(r.Context())
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotNil(t, got)
		require.Equal(t, "alice", got.Subject)
		require.Equal(t, "api", got.ClientID)
		require.Equal(t, a.op.URL, got.Issuer)
		require.Equal(t, []string{"openid", "read"}, got.Scopes)
		require.Equal(t, []string{"api"}, got.Audience)
		require.WithinDuration(t, a.op.Now().Add(time.Hour), got.Expiry, 2*time.Second)
		require.WithinDuration(t, a.op.Now(), got.IssuedAt, 2*time.Second)
		require.Equal(t, "openid read", got.Claims["scope"])
		require.Equal(t, raw, got.raw)
	}
	_, ok := TokenFrom(context.Background())
	require.False(t, ok)
}

func TestTokenNeverPrinted(t *testing.T) {
	tok := &Token{Subject: "alice", ClientID: "api", Scopes: []string{"read"}, raw: "secret-token-value"}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("token", "tok", tok, "value", *tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), fmt.Sprintf("%v %+v %#v", *tok, *tok, *tok), logs.String()} {
		require.NotContains(t, s, "secret-token-value")
		require.Contains(t, s, "alice")
	}
}

func TestScopeClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		scopes []string
		err    bool
	}{
		{"scope string", `{"scope":"a b  c"}`, []string{"a", "b", "c"}, false},
		{"scp array", `{"scp":["a","b"]}`, []string{"a", "b"}, false},
		{"scp string", `{"scp":"a b"}`, []string{"a", "b"}, false},
		{"scope and scp merged", `{"scope":"a b","scp":["b","c"]}`, []string{"a", "b", "c"}, false},
		{"no scope", `{}`, nil, false},
		{"scope not a string", `{"scope":["a"]}`, nil, true},
		{"scp with a number", `{"scp":["a",1]}`, nil, true},
		{"scp an object", `{"scp":{"a":true}}`, nil, true},
		{"aud a number", `{"aud":1}`, nil, true},
		{"exp a string", `{"exp":"1"}`, nil, true},
		{"exp negative", `{"exp":-1}`, nil, true},
		{"sub a number", `{"sub":1}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var claims map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.claims), &claims))
			tok, err := newToken("raw", claims)
			if tt.err {
				require.ErrorIs(t, err, ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			if tt.scopes == nil {
				require.Empty(t, tok.Scopes)
				return
			}
			require.Equal(t, tt.scopes, tok.Scopes)
		})
	}
}

// TestAcceptTokenScopes checks that every required scope is needed.
func TestAcceptTokenScopes(t *testing.T) {
	a := newAPI(t, nil)
	insufficient := func(scope string) answer {
		return answer{http.StatusForbidden, `Bearer realm="httpoidc", error="insufficient_scope", error_description="the access token lacks a required scope", scope="` + scope + `"`, bodyInsufficientScope}
	}
	for _, format := range []oidctest.AccessTokenFormat{oidctest.JWT, oidctest.Opaque} {
		tok := a.issue(format, "a", "b")
		requireOK(t, "alice a,b", a.get(tok))
		requireOK(t, "alice a,b", a.get(tok, "a"))
		requireOK(t, "alice a,b", a.get(tok, "b", "a"))
		requireAnswer(t, insufficient("a c"), a.get(tok, "a", "c"))
		requireAnswer(t, insufficient("c"), a.get(tok, "c"))
	}
}

func TestAcceptTokenRefusesBadScopes(t *testing.T) {
	oc, err := New(context.Background(), Config{Disabled: true})
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	for _, scope := range []string{"", "a b", `a"b`, `a\b`, "é"} {
		require.Panics(t, func() { oc.AcceptToken("read", scope) }, scope)
	}
	require.NotPanics(t, func() { oc.AcceptToken("read", "api:write", "https://api.example/scope") })
}

// TestAcceptTokenCacheExpiresAtExp checks that a cached JWT is refused as
// soon as it expires, however long TokenCacheTTL is.
func TestAcceptTokenCacheExpiresAtExp(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.ClockSkew = -1; c.TokenCacheTTL = 24 * time.Hour })
	tok := a.issueTTL(oidctest.JWT, 2*time.Minute)
	d := digest(sha256.Sum256([]byte(tok)))
	requireOK(t, "alice ", a.get(tok))
	_, cached := a.oc.resource.cache.get(&d, a.op.Now())
	require.True(t, cached)
	a.op.Advance(time.Minute)
	requireOK(t, "alice ", a.get(tok))
	a.op.Advance(time.Minute + time.Second)
	_, cached = a.oc.resource.cache.get(&d, a.op.Now())
	require.False(t, cached, "the entry ends at exp")
	requireAnswer(t, answerInvalidToken, a.get(tok))
}

func TestAcceptTokenClockSkew(t *testing.T) {
	a := newAPI(t, nil) // ClockSkew defaults to a minute
	tok := a.issueTTL(oidctest.JWT, time.Minute)
	a.op.Advance(time.Minute + 30*time.Second)
	requireOK(t, "alice ", a.get(tok))
	a.op.Advance(31 * time.Second)
	requireAnswer(t, answerInvalidToken, a.get(tok))
}

// TestAcceptTokenRevocation checks that a revoked opaque token is refused
// once the introspection cache has let it go, and that the refusal is
// remembered for a few seconds only.
func TestAcceptTokenRevocation(t *testing.T) {
	a := newAPI(t, nil) // IntrospectionCacheTTL defaults to 30 s
	tok := a.issue(oidctest.Opaque)
	requireOK(t, "alice ", a.get(tok))
	a.op.Revoke(tok)
	requireOK(t, "alice ", a.get(tok))
	require.Equal(t, 1, a.op.Requests(oidctest.EndpointIntrospection), "answered from the cache")
	a.op.Advance(31 * time.Second)
	requireAnswer(t, answerInvalidToken, a.get(tok))
	requireAnswer(t, answerInvalidToken, a.get(tok))
	require.Equal(t, 2, a.op.Requests(oidctest.EndpointIntrospection), "the refusal is remembered")
	a.op.Advance(rejectionTTL)
	requireAnswer(t, answerInvalidToken, a.get(tok))
	require.Equal(t, 3, a.op.Requests(oidctest.EndpointIntrospection), "but not for long")
}

func TestAcceptTokenExpiredOpaque(t *testing.T) {
	a := newAPI(t, nil)
	tok := a.issueTTL(oidctest.Opaque, time.Minute)
	a.op.Advance(2 * time.Minute)
	requireAnswer(t, answerInvalidToken, a.get(tok))
}

// TestAcceptTokenIntrospectionClock checks that an introspection answer is
// refused when its exp has passed on the API's clock, although the
// provider, whose clock is behind, calls the token active.
func TestAcceptTokenIntrospectionClock(t *testing.T) {
	a := newAPI(t, func(c *Config) {
		providerNow := c.Now
		c.Now = func() time.Time { return providerNow().Add(2 * time.Hour) }
	})
	requireAnswer(t, answerInvalidToken, a.get(a.issue(oidctest.Opaque)))
	require.Equal(t, 1, a.op.Requests(oidctest.EndpointIntrospection))
}

// TestAcceptTokenRefreshToken checks that a refresh token, which the
// provider's introspection calls active, is not accepted as a bearer token.
func TestAcceptTokenRefreshToken(t *testing.T) {
	a := newAPI(t, nil)
	a.op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret", RedirectURIs: []string{"http://127.0.0.1/cb"}})
	a.op.AutoLogin("alice")
	cfg := oauth2.Config{
		ClientID: "api", ClientSecret: "api-secret", RedirectURL: "http://127.0.0.1/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: a.op.URL + "/authorize", TokenURL: a.op.URL + "/token"},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(cfg.AuthCodeURL("state"))
	require.NoError(t, err)
	resp.Body.Close()
	location, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := cfg.Exchange(context.Background(), location.Query().Get("code"))
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	requireOK(t, "alice openid", a.get(tok.AccessToken))
	requireAnswer(t, answerInvalidToken, a.get(tok.RefreshToken))
}

func TestAcceptTokenCacheDisabled(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.IntrospectionCacheTTL = -1; c.TokenCacheTTL = -1 })
	opaque, jwt := a.issue(oidctest.Opaque), a.issue(oidctest.JWT)
	for range 3 {
		requireOK(t, "alice ", a.get(opaque))
		requireOK(t, "alice ", a.get(jwt))
		requireAnswer(t, answerInvalidToken, a.get("garbage"))
	}
	require.Equal(t, 6, a.op.Requests(oidctest.EndpointIntrospection))
	require.Zero(t, a.oc.resource.cache.len())
	require.Zero(t, a.oc.resource.rejected.len())
}

func TestAcceptTokenValidationModes(t *testing.T) {
	tests := []struct {
		name          string
		mode          string
		opts          []oidctest.Option
		jwt, opaque   int // expected status
		introspection int // expected introspection calls
	}{
		{"auto", ValidateAuto, nil, http.StatusOK, http.StatusOK, 1},
		{"auto without introspection endpoint", ValidateAuto, []oidctest.Option{oidctest.WithoutIntrospection()}, http.StatusOK, http.StatusUnauthorized, 0},
		{"jwt", ValidateJWT, nil, http.StatusOK, http.StatusUnauthorized, 0},
		{"introspection", ValidateIntrospection, nil, http.StatusOK, http.StatusOK, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, func(c *Config) { c.AccessTokenValidation = tt.mode }, tt.opts...)
			require.Equal(t, tt.jwt, a.get(a.issue(oidctest.JWT)).Code)
			require.Equal(t, tt.opaque, a.get(a.issue(oidctest.Opaque)).Code)
			require.Equal(t, tt.introspection, a.op.Requests(oidctest.EndpointIntrospection))
		})
	}
}

// TestAcceptTokenFailedJWTNotIntrospected checks that a JWT that fails
// validation is not given a second chance at the introspection endpoint,
// even though the provider would call it active.
func TestAcceptTokenFailedJWTNotIntrospected(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.Audience = "another-api" })
	requireAnswer(t, answerInvalidToken, a.get(a.issue(oidctest.JWT)))
	require.Zero(t, a.op.Requests(oidctest.EndpointIntrospection))
}

func TestAcceptTokenProviderUnavailable(t *testing.T) {
	t.Run("discovery down", func(t *testing.T) {
		a := newAPI(t, func(c *Config) { c.LazyDiscovery = true })
		a.op.SetFault(oidctest.FaultDiscoveryDown, true)
		tok := a.issue(oidctest.JWT)
		rec := a.get(tok)
		requireAnswer(t, answerUnavailable, rec)
		require.Equal(t, "5", rec.Header().Get("Retry-After"))
		a.op.SetFault(oidctest.FaultDiscoveryDown, false)
		a.op.Advance(2 * time.Second) // past the discovery backoff
		requireOK(t, "alice ", a.get(tok))
	})
	t.Run("introspection down", func(t *testing.T) {
		a := newAPI(t, nil)
		a.op.SetFault(oidctest.FaultIntrospectionDown, true)
		tok := a.issue(oidctest.Opaque)
		rec := a.get(tok)
		requireAnswer(t, answerUnavailable, rec)
		require.Equal(t, "5", rec.Header().Get("Retry-After"))
		a.op.SetFault(oidctest.FaultIntrospectionDown, false)
		requireOK(t, "alice ", a.get(tok), "an outage is not remembered as a refusal")
	})
	t.Run("introspection answers HTML", func(t *testing.T) {
		html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>maintenance</html>")
		}))
		defer html.Close()
		a := newAPI(t, func(c *Config) { c.ClientSecrets.IntrospectionURI = html.URL })
		requireAnswer(t, answerUnavailable, a.get(a.issue(oidctest.Opaque)))
	})
	t.Run("provider hangs", func(t *testing.T) {
		hang := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(hang)
		a := newAPI(t, func(c *Config) { c.ClientSecrets.IntrospectionURI = slow.URL; c.Timeout = 200 * time.Millisecond })
		began := time.Now()
		requireAnswer(t, answerUnavailable, a.get(a.issue(oidctest.Opaque)))
		require.Less(t, time.Since(began), 5*time.Second)
	})
	t.Run("no known keys", func(t *testing.T) {
		a := newAPI(t, nil)
		a.op.SetFault(oidctest.FaultJWKSDown, true)
		requireAnswer(t, answerUnavailable, a.get(a.issue(oidctest.JWT)))
	})
}

// TestAcceptTokenKeyRotation checks that a new key is picked up at once and
// that the tokens of a removed key, cached or not, are refused once the
// key set is refreshed.
func TestAcceptTokenKeyRotation(t *testing.T) {
	for _, keepOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepOld=%v", keepOld), func(t *testing.T) {
			a := newAPI(t, func(c *Config) { c.TokenCacheTTL = 24 * time.Hour })
			old := a.issueTTL(oidctest.JWT, 3*time.Hour)
			requireOK(t, "alice ", a.get(old))
			keys := a.oc.provider.Load().keys
			require.EqualValues(t, 1, keys.fetches.Load())

			a.op.RotateKey(keepOld)
			fresh := a.issueTTL(oidctest.JWT, 3*time.Hour)
			requireOK(t, "alice ", a.get(fresh))
			require.EqualValues(t, 2, keys.fetches.Load(), "an unknown kid fetches the JWKS")
			if keepOld {
				requireOK(t, "alice ", a.get(old))
			} else {
				requireAnswer(t, answerInvalidToken, a.get(old))
			}

			a.op.Advance(time.Hour + time.Second) // KeyRefreshInterval
			requireOK(t, "alice ", a.get(fresh))
			require.EqualValues(t, 3, keys.fetches.Load(), "the key set is refreshed hourly, cache hits included")
			if keepOld {
				requireOK(t, "alice ", a.get(old))
			} else {
				requireAnswer(t, answerInvalidToken, a.get(old))
			}
		})
	}
}

// TestAcceptTokenRemovedKeyLeavesCache checks that a cached token whose key
// the provider dropped is refused after the next key refresh, although its
// cache entry has not expired.
func TestAcceptTokenRemovedKeyLeavesCache(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.TokenCacheTTL = 24 * time.Hour })
	tok := a.issueTTL(oidctest.JWT, 3*time.Hour)
	requireOK(t, "alice ", a.get(tok))
	a.op.RotateKey(false)
	requireOK(t, "alice ", a.get(tok), "the key set does not know of the removal yet")
	a.op.Advance(time.Hour + time.Second)
	requireAnswer(t, answerInvalidToken, a.get(tok))
	require.EqualValues(t, 2, a.oc.provider.Load().keys.fetches.Load())
}

// TestAcceptTokenJWKSOutage checks that known keys keep working while the
// JWKS endpoint is down, that unknown keys are refused with 401, and that
// the endpoint is retried with backoff, not on every request.
func TestAcceptTokenJWKSOutage(t *testing.T) {
	a := newAPI(t, nil)
	requireOK(t, "alice ", a.get(a.issue(oidctest.JWT)))
	keys := a.oc.provider.Load().keys
	require.EqualValues(t, 1, keys.fetches.Load())

	a.op.SetFault(oidctest.FaultJWKSDown, true)
	requireOK(t, "alice ", a.get(a.issue(oidctest.JWT)), "a new token of a known key")
	a.op.RotateKey(true)
	unknown := a.issue(oidctest.JWT)
	for range 20 {
		requireAnswer(t, answerInvalidToken, a.get(unknown))
	}
	require.EqualValues(t, 2, keys.fetches.Load(), "one failed fetch, then the cooldown")
	a.op.Advance(31 * time.Second)
	for range 20 {
		requireAnswer(t, answerInvalidToken, a.get(unknown))
	}
	require.EqualValues(t, 3, keys.fetches.Load(), "one more after the cooldown")
	a.op.Advance(31 * time.Second)
	requireAnswer(t, answerInvalidToken, a.get(unknown))
	require.EqualValues(t, 3, keys.fetches.Load(), "the backoff doubles")

	a.op.SetFault(oidctest.FaultJWKSDown, false)
	a.op.Advance(30 * time.Second)
	requireOK(t, "alice ", a.get(unknown))
	require.EqualValues(t, 4, keys.fetches.Load())
}

// TestAcceptTokenKidFlood checks that tokens with random kids cost at most
// one JWKS fetch per cooldown.
func TestAcceptTokenKidFlood(t *testing.T) {
	a := newAPI(t, nil)
	jwt := a.issue(oidctest.JWT)
	requireOK(t, "alice ", a.get(jwt))
	keys := a.oc.provider.Load().keys
	flood := func(round int) {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				forged := withHeader(jwt, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": fmt.Sprintf("kid-%d-%d", round, i)})
				rec := a.get(forged)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("forged kid: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Wait()
	}
	flood(0)
	require.EqualValues(t, 2, keys.fetches.Load())
	a.op.Advance(10 * time.Second)
	flood(1)
	require.EqualValues(t, 2, keys.fetches.Load(), "within the cooldown")
	a.op.Advance(25 * time.Second)
	flood(2)
	require.EqualValues(t, 3, keys.fetches.Load(), "one per cooldown")
	requireOK(t, "alice ", a.get(jwt))
}

// slowIntrospection delays introspection requests, so that concurrent
// requests for one token surely overlap.
type slowIntrospection struct{ next http.RoundTripper }

func (s slowIntrospection) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/introspect") {
		time.Sleep(100 * time.Millisecond)
	}
	return s.next.RoundTrip(req)
}

// TestAcceptTokenSingleFlight checks that concurrent requests with one new
// token make one introspection call.
func TestAcceptTokenSingleFlight(t *testing.T) {
	a := newAPI(t, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: slowIntrospection{http.DefaultTransport}, Timeout: 10 * time.Second}
	})
	for tok, want := range map[string]int{a.issue(oidctest.Opaque): http.StatusOK, "inactive-token": http.StatusUnauthorized} {
		a.op.ResetCounts()
		var wg sync.WaitGroup
		var wrong atomic.Int64
		for range 50 {
			wg.Go(func() {
				if a.get(tok).Code != want {
					wrong.Add(1)
				}
			})
		}
		wg.Wait()
		require.Zero(t, wrong.Load())
		require.Equal(t, 1, a.op.Requests(oidctest.EndpointIntrospection))
	}
}

// TestAcceptTokenGarbageFloodKeepsValidTokens checks that many distinct
// bad tokens cannot push a valid token out of the cache.
func TestAcceptTokenGarbageFloodKeepsValidTokens(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.TokenCacheSize = 64 })
	good := a.issue(oidctest.Opaque)
	requireOK(t, "alice ", a.get(good))
	for i := range 300 {
		requireAnswer(t, answerInvalidToken, a.get(fmt.Sprintf("garbage-%d", i)))
	}
	require.LessOrEqual(t, a.oc.resource.rejected.len(), 64)
	a.op.ResetCounts()
	requireOK(t, "alice ", a.get(good))
	require.Zero(t, a.op.Requests(oidctest.EndpointIntrospection), "still cached")
}

func TestTokenCacheBound(t *testing.T) {
	for _, size := range []int{1, 10, 1000, 10000} {
		c := newTokenCache(size)
		now := time.Now()
		for i := range 100_000 {
			d := digest(sha256.Sum256(fmt.Appendf(nil, "token-%d", i)))
			c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		}
		require.LessOrEqual(t, c.len(), size)
		require.GreaterOrEqual(t, c.len(), size*9/10, "the cache is used")
		// The latest entry is always there.
		d := digest(sha256.Sum256(fmt.Appendf(nil, "token-%d", 99_999)))
		_, ok := c.get(&d, now)
		require.True(t, ok)
	}
}

// TestTokenCachePrefersExpiredVictims checks that a full cache evicts an
// expired entry rather than a live one when its sample holds one.
func TestTokenCachePrefersExpiredVictims(t *testing.T) {
	now := time.Now()
	for trial := range 500 {
		c := newTokenCache(64)
		live := digest{0xff}
		c.put(&live, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		for i := range 63 {
			d := digest{byte(i)}
			c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(-time.Second)}, now)
		}
		d := digest{0xfe}
		c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		require.Equal(t, 64, c.len())
		_, ok := c.get(&live, now)
		require.True(t, ok, "trial %d", trial)
	}
}

// TestAcceptTokenResourceServerOnly checks AcceptToken without Handler and
// that it sets no cookie.
func TestAcceptTokenResourceServerOnly(t *testing.T) {
	a := newAPI(t, nil)
	protected := a.oc.AcceptToken()(echo)
	wrapped := a.oc.Handler(protected)
	for _, h := range []http.Handler{protected, wrapped} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+a.issue(oidctest.JWT))
		h.ServeHTTP(rec, req)
		requireOK(t, "alice ", rec)
		require.Empty(t, rec.Result().Cookies())
	}
	rec := httptest.NewRecorder()
	wrapped.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?code=x&state=y", nil))
	requireAnswer(t, answerMissing, rec)
}

// noNetwork fails the test on any outbound request.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected request to %s", req.URL)
	return nil, errors.New("no network")
}

func TestAcceptTokenDisabled(t *testing.T) {
	profile := map[string]any{"sub": "tester", "email": "tester@example.com"}
	tests := []struct {
		name    string
		profile map[string]any
		token   string
		scopes  []string
		want    answer
		okFor   string
	}{
		{"profile, any token", profile, "anything", nil, answer{}, "tester openid,email"},
		{"profile, configured scope", profile, "anything", []string{"email"}, answer{}, "tester openid,email"},
		{"profile, other scope", profile, "anything", []string{"admin"},
			answer{http.StatusForbidden, `Bearer realm="httpoidc", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"`, bodyInsufficientScope}, ""},
		{"profile, no token", profile, "", nil, answerMissing, ""},
		{"profile, malformed token", profile, "a b", nil, answerInvalidRequest("the Authorization header does not hold a well-formed bearer token"), ""},
		{"no profile, token", nil, "anything", nil, answerInvalidToken, ""},
		{"no profile, no token", nil, "", nil, answerMissing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oc, err := New(context.Background(), Config{
				Disabled: true, TestingProfile: tt.profile,
				HTTPClient: &http.Client{Transport: noNetwork{t}}, Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			t.Cleanup(oc.Close)
			a := &api{t: t, oc: oc}
			rec := a.get(tt.token, tt.scopes...)
			if tt.okFor != "" {
				requireOK(t, tt.okFor, rec)
				return
			}
			requireAnswer(t, tt.want, rec)
		})
	}
}

func TestIntrospectionAuthMethods(t *testing.T) {
	for _, method := range []string{AuthClientSecretPost, AuthClientSecretBasic, AuthBearer} {
		t.Run(method, func(t *testing.T) {
			a := newAPI(t, func(c *Config) { c.IntrospectionAuthMethod = method })
			for range 3 {
				requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
			}
			require.Equal(t, 3, a.op.Requests(oidctest.EndpointIntrospection))
			if method != AuthBearer {
				require.Zero(t, a.op.Requests(oidctest.EndpointToken))
				return
			}
			require.Equal(t, 1, a.op.Requests(oidctest.EndpointToken), "the client credentials token is reused")
			a.op.Advance(time.Hour) // the client credentials token expires
			requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
			require.Equal(t, 2, a.op.Requests(oidctest.EndpointToken), "and renewed when it expires")
			require.Equal(t, 4, a.op.Requests(oidctest.EndpointIntrospection), "before it is refused")
		})
	}
}

// TestIntrospectionBearerRevoked checks that a client credentials token the
// provider ended early is replaced.
func TestIntrospectionBearerRevoked(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.IntrospectionAuthMethod = AuthBearer })
	requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
	a.op.Revoke(a.oc.resource.bearer.token)
	requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
	require.Equal(t, 2, a.op.Requests(oidctest.EndpointToken))
	require.Equal(t, 3, a.op.Requests(oidctest.EndpointIntrospection))
}

func TestUserInfo(t *testing.T) {
	a := newAPI(t, nil)
	tokenFor := func(raw string) *Token {
		var tok *Token
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		rec := httptest.NewRecorder()
		a.oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ = TokenFrom(r.Context())
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		return tok
	}
	ctx := context.Background()
	for _, format := range []oidctest.AccessTokenFormat{oidctest.JWT, oidctest.Opaque} {
		info, err := a.oc.UserInfo(ctx, tokenFor(a.issue(format, "openid", "email", "profile")))
		require.NoError(t, err)
		require.Equal(t, "alice", info["sub"])
		require.Equal(t, "alice@example.com", info["email"])
	}

	_, err := a.oc.UserInfo(ctx, tokenFor(a.issue(oidctest.JWT, "email")))
	require.ErrorIs(t, err, ErrInvalidToken, "no openid scope: 403 at the provider")

	revoked := tokenFor(a.issue(oidctest.JWT, "openid"))
	a.op.Revoke(revoked.raw)
	_, err = a.oc.UserInfo(ctx, revoked)
	require.ErrorIs(t, err, ErrInvalidToken)

	a.op.SetFault(oidctest.FaultUserInfoSubMismatch, true)
	_, err = a.oc.UserInfo(ctx, tokenFor(a.issue(oidctest.JWT, "openid")))
	require.ErrorIs(t, err, ErrInvalidToken)
	a.op.SetFault(oidctest.FaultUserInfoSubMismatch, false)

	_, err = a.oc.UserInfo(ctx, nil)
	require.ErrorIs(t, err, ErrInvalidToken)

	live := tokenFor(a.issue(oidctest.JWT, "openid"))
	a.op.Close()
	_, err = a.oc.UserInfo(ctx, live)
	require.ErrorIs(t, err, ErrProviderUnavailable)

	disabled, err := New(ctx, Config{Disabled: true, TestingProfile: map[string]any{"sub": "tester"}, HTTPClient: &http.Client{Transport: noNetwork{t}}})
	require.NoError(t, err)
	info, err := disabled.UserInfo(ctx, &Token{Subject: "tester", raw: "x"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sub": "tester"}, info)
}

// fuzzAnswers are every response AcceptToken can give a fuzzed request:
// status, challenge and body never depend on the token.
var fuzzAnswers = func() map[answer]bool {
	set := map[answer]bool{answerMissing: true, answerInvalidToken: true, answerUnavailable: true,
		{http.StatusOK, "", "ok"}: true}
	for _, d := range []string{
		"the Authorization header does not hold a well-formed bearer token", "more than one Authorization header",
		"the form body cannot be read", "the access token was sent in more than one way",
		"the form body does not hold exactly one well-formed access_token",
	} {
		set[answerInvalidRequest(d)] = true
	}
	return set
}()

// FuzzBearerToken sends arbitrary Authorization headers and form bodies to
// AcceptToken, in testing mode and against a real provider (JWT mode, so no
// fuzzed token reaches the network): no panic, only the documented answers,
// and the token never in the response.
//
// The seeds name the provider's valid JWT and a copy with a forged header
// by placeholder rather than holding them: the fuzzer minimizes every input
// that finds new code by trying to remove each subset of its bytes, which
// for a 700-byte token is a quarter of a million runs, and the workers did
// nothing else for the first seconds of every run.
func FuzzBearerToken(f *testing.F) {
	a := newAPI(f, func(c *Config) { c.AcceptFormToken = true; c.AccessTokenValidation = ValidateJWT })
	jwt := a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Format: oidctest.JWT})
	tokens := strings.NewReplacer("$JWT", jwt, "$FORGED", withHeader(jwt, map[string]any{"alg": "RS256", "kid": "x"}))
	seeds := [][2]string{
		{"Bearer $JWT", ""}, {"", "access_token=$JWT"}, {"Bearer $JWT", "access_token=$JWT"}, {"Bearer $FORGED", ""},
		{"bearer abc", ""}, {"Bearer", ""}, {"Bearer ", ""}, {"Bearer a b", ""}, {"Bearer abc==", ""}, {"Bearer ==", ""},
		{"Basic dXNlcjpwYXNz", ""}, {"Bearer eyJhbGciOiJub25lIn0.e30.", ""}, {"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", ""},
		{"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.c2ln", ""}, {"", "access_token=a&access_token=b"},
		{"", "access_token=%zz"}, {"Bearer \x00", ""}, {"Bearer é", ""}, {"Bearer a\tb", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	disabled, err := New(context.Background(), Config{
		Disabled: true, TestingProfile: map[string]any{"sub": "tester"}, AcceptFormToken: true, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(f, err)
	f.Cleanup(disabled.Close)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	handlers := []http.Handler{disabled.AcceptToken()(ok), a.oc.AcceptToken()(ok)}
	f.Fuzz(func(t *testing.T, authorization, form string) {
		authorization, form = tokens.Replace(authorization), tokens.Replace(form)
		for _, h := range handlers {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := answer{rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String()}
			if !fuzzAnswers[got] {
				t.Fatalf("Authorization %q, form %q: unexpected answer %+v", authorization, form, got)
			}
			values, _ := url.ParseQuery(form)
			_, token, _ := strings.Cut(authorization, " ")
			for _, secret := range append(values["access_token"], token, authorization) {
				if len(secret) >= 12 && strings.Contains(fmt.Sprint(rec.Header(), rec.Body.String()), secret) {
					t.Fatalf("the token %q is echoed: %+v", secret, got)
				}
			}
		}
	})
}

// discardWriter is a ResponseWriter that costs nothing, so benchmarks
// measure the middleware.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func bearerRequests(tokens []string) []*http.Request {
	reqs := make([]*http.Request, len(tokens))
	for i, tok := range tokens {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+tok)
	}
	return reqs
}

// BenchmarkJWT compares AcceptToken on JWTs with go-oidc verifying the same
// tokens: "go-oidc" is the baseline, "new" has the cache off so every
// request verifies, "repeated" is the cache hit path.
func BenchmarkJWT(b *testing.B) {
	a := newAPI(b, func(c *Config) { c.TokenCacheTTL = -1 })
	tokens := make([]string, 16)
	for i := range tokens {
		tokens[i] = a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"read"}, Format: oidctest.JWT})
	}
	reqs := bearerRequests(tokens)

	b.Run("go-oidc", func(b *testing.B) {
		resp, err := http.Get(a.op.URL + "/jwks")
		require.NoError(b, err)
		var set jose.JSONWebKeySet
		require.NoError(b, json.NewDecoder(resp.Body).Decode(&set))
		resp.Body.Close()
		var keys []crypto.PublicKey
		for _, k := range set.Keys {
			keys = append(keys, k.Key)
		}
		verifier := oidc.NewVerifier(a.op.URL, &oidc.StaticKeySet{PublicKeys: keys}, &oidc.Config{SkipClientIDCheck: true, Now: a.op.Now})
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := verifier.Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("new", func(b *testing.B) {
		h := a.oc.AcceptToken("read")(nop)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, reqs[0]) // discovery and JWKS fetch
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
		require.Empty(b, w.h, "every request passed")
	})
	b.Run("repeated", func(b *testing.B) {
		cached := newAPI(b, nil)
		tok := cached.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"read"}, Format: oidctest.JWT})
		req := bearerRequests([]string{tok})[0]
		h := cached.oc.AcceptToken("read")(nop)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
		require.Empty(b, w.h, "every request passed")
	})
}

// BenchmarkIntrospectionParallel sends 1,000 distinct opaque tokens from
// parallel clients and reports the introspection calls made.
func BenchmarkIntrospectionParallel(b *testing.B) {
	const distinct = 1000
	a := newAPI(b, func(c *Config) { c.IntrospectionsPerSecond = -1 })
	tokens := make([]string, distinct)
	for i := range tokens {
		tokens[i] = a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"read"}})
	}
	reqs := bearerRequests(tokens)
	h := a.oc.AcceptToken("read")(nop)
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, reqs[next.Add(1)%distinct])
			if len(w.h) != 0 {
				failed.Add(1)
				clear(w.h)
			}
		}
	})
	b.StopTimer()
	calls := a.op.Requests(oidctest.EndpointIntrospection)
	b.ReportMetric(float64(calls), "introspections")
	b.ReportMetric(distinct, "distinct-tokens")
	require.Zero(b, failed.Load())
	require.LessOrEqual(b, calls, distinct)
}

func TestIntrospectionAudience(t *testing.T) {
	tests := []struct {
		name       string
		configured string // Config.Audience; empty: the default
		tokenAud   []string
		ok         bool
	}{
		{"default audience: aud not checked", "", []string{"account"}, true},
		{"configured audience present", "https://api.example", []string{"account", "https://api.example"}, true},
		{"configured audience absent", "https://api.example", []string{"account"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, func(c *Config) { c.Audience = tt.configured })
			tok := a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Audience: tt.tokenAud, Format: oidctest.Opaque})
			rec := a.get(tok)
			if tt.ok {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				return
			}
			requireAnswer(t, answerInvalidToken, rec)
		})
	}
}

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
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

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
	return apiFor(t, op, slog.New(slog.DiscardHandler), configure)
}

// apiFor returns a resource server (ResourceServerOnly) for client api of
// op, on op's clock, logging to logger.
func apiFor(t testing.TB, op *oidctest.Server, logger *slog.Logger, configure func(*Config)) *api {
	cfg := Config{
		ClientSecrets:      &ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: op.URL},
		ResourceServerOnly: true,
		Now:                op.Now,
		Logger:             logger,
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

// requireAccepted checks that the request passed when accepted is true,
// and was refused with invalid_token otherwise.
func requireAccepted(t *testing.T, accepted bool, rec *httptest.ResponseRecorder) {
	t.Helper()
	if accepted {
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return
	}
	requireAnswer(t, answerInvalidToken, rec)
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
	t.Parallel()
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
	t.Parallel()
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
			_, err := c.oc.jwtAccessToken(a.oc.provider.Load(), mustPayload(t, jwt), header, a.op.Now())
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
		// RFC 7519 §4.1.3: a string is one audience, spaces and all.
		{"aud one string with a space", func(c map[string]any) { c["aud"] = "other api" }, false},
		{"sub null", func(c map[string]any) { c["sub"] = nil }, false},
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
			tok, err := a.oc.jwtAccessToken(p, string(payload), header, now)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "api", tok.ClientID)
		})
	}
	for _, payload := range []string{"[]", "null", "x", `{"exp":1e300}`} {
		_, err := a.oc.jwtAccessToken(p, payload, header, now)
		require.ErrorIs(t, err, ErrInvalidToken, payload)
	}
}

func mustPayload(t *testing.T, jwt string) string {
	parts := strings.Split(jwt, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return string(payload)
}

// TestAcceptTokenScopes checks that every required scope is needed.
func TestAcceptTokenScopes(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	a := newAPI(t, nil) // ClockSkew defaults to a minute
	tok := a.issueTTL(oidctest.JWT, time.Minute)
	a.op.Advance(time.Minute + 30*time.Second)
	requireOK(t, "alice ", a.get(tok))
	a.op.Advance(31 * time.Second)
	requireAnswer(t, answerInvalidToken, a.get(tok))
}

func TestAcceptTokenCacheDisabled(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	a := newAPI(t, func(c *Config) { c.Audience = "another-api" })
	requireAnswer(t, answerInvalidToken, a.get(a.issue(oidctest.JWT)))
	require.Zero(t, a.op.Requests(oidctest.EndpointIntrospection))
}

func TestAcceptTokenProviderUnavailable(t *testing.T) {
	t.Parallel()
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

// TestAcceptTokenResourceServerOnly checks AcceptToken without Handler and
// that it sets no cookie.
func TestAcceptTokenResourceServerOnly(t *testing.T) {
	t.Parallel()
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

// noNetwork fails the test on any outbound request.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected request to %s", req.URL)
	return nil, errors.New("no network")
}

func TestAcceptTokenDisabled(t *testing.T) {
	t.Parallel()
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

package bench

// BenchmarkPaths measures httpoidc's request paths side by side with the Go
// libraries people use for the same job, on the same tokens from one
// oidctest provider, each through a handler chain that ends in a handler
// reading the result from the request context:
//
//	cd bench && ./ratios.sh            # go test -bench Paths -count 5, then the ratios
//
// Every case reports cpu-ns/op, the process CPU time (user + system, from
// getrusage) per request, beside ns/op: on a shared 2-core machine wall
// time swings with the neighbours' load, CPU time much less. Cases that
// call the provider include the provider's CPU, which runs in this process,
// the same for every case that makes the call.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// audience is the API the tokens are for.
const audience = "api"

// fixture is the provider and the tokens every case is given.
type fixture struct {
	op       *oidctest.Server
	jwks     []byte
	keys     []crypto.PublicKey
	jwts     []string
	opaque   []string
	cookie   *http.Cookie
	session  string // the value httpoidc stores in the session, for bare scs
	loggedIn *httpoidc.OpenIDConnect
	appH     http.Handler
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	f := &fixture{op: oidctest.NewServer(oidctest.WithLogger(slog.New(slog.DiscardHandler)), oidctest.WithAccessTokenTTL(time.Hour))}
	b.Cleanup(f.op.Close)
	f.op.AddClient(oidctest.Client{ID: audience, Secret: "api-secret"})
	f.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": true, "name": "Alice Liddell", "groups": []any{"admins", "staff"},
	}})
	for range 16 {
		f.jwts = append(f.jwts, f.op.IssueAccessToken(oidctest.TokenRequest{
			ClientID: audience, Subject: "alice", Scopes: []string{"read", "write"}, Audience: []string{audience}, Format: oidctest.JWT,
		}))
		f.opaque = append(f.opaque, f.op.IssueAccessToken(oidctest.TokenRequest{
			ClientID: audience, Subject: "alice", Scopes: []string{"read", "write"}, Audience: []string{audience}, Format: oidctest.Opaque,
		}))
	}
	resp, err := http.Get(f.op.URL + "/jwks")
	if err != nil {
		b.Fatal(err)
	}
	f.jwks, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.jwks, &set); err != nil {
		b.Fatal(err)
	}
	for _, k := range set.Keys {
		f.keys = append(f.keys, k.Key)
	}
	f.login(b)
	return f
}

// login logs alice in to an httpoidc app and keeps its session cookie and
// stored session value.
func (f *fixture) login(b *testing.B) {
	var handler http.Handler
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	b.Cleanup(app.Close)
	f.op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{app.URL + "/authorize"}})
	f.op.AutoLogin("alice")
	secrets, err := httpoidc.ParseClientSecrets(f.op.ClientSecrets("app"))
	if err != nil {
		b.Fatal(err)
	}
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		ClientSecrets: secrets, Scopes: []string{"openid", "email", "profile", "groups"},
		Logger: slog.New(slog.DiscardHandler), Now: f.op.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(oc.Close)
	f.loggedIn = oc
	f.appH = oc.Handler(oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		if u.Email != "alice@example.com" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/capture" {
			f.session = oc.Sessions().GetString(r.Context(), "httpoidc")
		}
	})))
	handler = f.appH
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(app.URL + "/capture")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(app.URL)
	for _, c := range jar.Cookies(u) {
		if c.Name == "httpoidc_session" {
			f.cookie = c
		}
	}
	if resp.StatusCode != http.StatusOK || f.cookie == nil || f.session == "" {
		b.Fatalf("login ended with %s, cookie %v", resp.Status, f.cookie)
	}
}

// discardWriter is a ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

type ctxKey struct{}

// reads is the application handler at the end of every chain: it needs
// what the middleware put in the context.
var reads = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(ctxKey{}) == nil && r.Context().Value(jwtmiddleware.ContextKey{}) == nil {
		if _, ok := httpoidc.TokenFrom(r.Context()); !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}
})

// bearer returns the request's token, as every peer's middleware does.
func bearer(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return token
}

func unauthorized(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }

// accessClaims is what a peer-based API decodes from a token.
type accessClaims struct {
	Subject  string        `json:"sub"`
	ClientID string        `json:"client_id"`
	Scope    string        `json:"scope"`
	Audience audienceClaim `json:"aud"`
}

// audienceClaim is aud, a string or an array of strings.
type audienceClaim []string

func (a *audienceClaim) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*a = audienceClaim{""}
		return json.Unmarshal(b, &(*a)[0])
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// measure runs h on the requests in turn, checking every answer, and
// reports cpu-ns/op.
func measure(b *testing.B, h http.Handler, reqs []*http.Request) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, reqs[0]) // warm caches (discovery, JWKS) outside the loop
	if w.status != 0 && w.status != http.StatusOK {
		b.Fatalf("answered %d", w.status)
	}
	b.ReportAllocs()
	var before, after syscall.Rusage
	i := 0
	for b.Loop() {
		if i == 0 {
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		}
		w.status = 0
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("request %d answered %d", i, w.status)
		}
		clear(w.h)
		i++
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
}

func bearerRequests(tokens []string) []*http.Request {
	reqs := make([]*http.Request, len(tokens))
	for i, tok := range tokens {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+tok)
	}
	return reqs
}

func resourceServer(b *testing.B, f *fixture, configure func(*httpoidc.Config)) *httpoidc.OpenIDConnect {
	b.Helper()
	cfg := httpoidc.Config{
		ClientSecrets:      &httpoidc.ClientSecrets{ClientID: audience, ClientSecret: "api-secret", Issuer: f.op.URL},
		ResourceServerOnly: true,
		Audience:           audience,
		Logger:             slog.New(slog.DiscardHandler),
	}
	configure(&cfg)
	oc, err := httpoidc.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(oc.Close)
	return oc
}

// jsonCodec is an scs.Codec storing the session as JSON, the fastest codec
// scs users write for string values.
type jsonCodec struct{}

func (jsonCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	return json.Marshal(struct {
		Deadline time.Time      `json:"deadline"`
		Values   map[string]any `json:"values"`
	}{deadline, values})
}

func (jsonCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	var v struct {
		Deadline time.Time      `json:"deadline"`
		Values   map[string]any `json:"values"`
	}
	err := json.Unmarshal(b, &v)
	return v.Deadline, v.Values, err
}

// bareSCS is a session manager holding value, and a request carrying its
// session cookie; the chain reads the value with one Get.
func bareSCS(b *testing.B, codec scs.Codec, value string) (http.Handler, *http.Request) {
	b.Helper()
	store := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store, sm.Codec = store, codec
	put := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), "user", value) }))
	rec := httptest.NewRecorder()
	put.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sm.GetString(r.Context(), "user") == "" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	return h, req
}

var gobOnce sync.Once

func BenchmarkPaths(b *testing.B) {
	f := newFixture(b)
	jwtReqs := bearerRequests(f.jwts)

	b.Run("floor-rsa-verify", func(b *testing.B) {
		key := f.keys[0].(*rsa.PublicKey)
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := bearer(r)
			dot := strings.LastIndexByte(tok, '.')
			sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			if err != nil {
				unauthorized(w)
				return
			}
			sum := sha256.Sum256([]byte(tok[:dot]))
			if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sum)))
		}), jwtReqs)
	})
	b.Run("floor-sha256-map", func(b *testing.B) {
		var mu sync.RWMutex
		seen := map[[32]byte]*accessClaims{}
		for _, t := range f.jwts {
			seen[sha256.Sum256([]byte(t))] = &accessClaims{Subject: "alice"}
		}
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := bearer(r)
			mu.RLock()
			c := seen[sha256.Sum256([]byte(tok))]
			mu.RUnlock()
			if c == nil {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
		}), jwtReqs)
	})
	b.Run("go-oidc", func(b *testing.B) {
		verifier := oidc.NewVerifier(f.op.URL, &oidc.StaticKeySet{PublicKeys: f.keys}, &oidc.Config{ClientID: audience, Now: f.op.Now})
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := verifier.Verify(r.Context(), bearer(r))
			if err != nil {
				unauthorized(w)
				return
			}
			var c accessClaims
			if tok.Claims(&c) != nil {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &c)))
		}), jwtReqs)
	})
	b.Run("golang-jwt+keyfunc", func(b *testing.B) {
		kf, err := keyfunc.NewJWKSetJSON(f.jwks)
		if err != nil {
			b.Fatal(err)
		}
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.op.URL),
			jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		type claims struct {
			jwt.RegisteredClaims
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
		}
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var c claims
			if _, err := parser.ParseWithClaims(bearer(r), &c, kf.Keyfunc); err != nil {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &c)))
		}), jwtReqs)
	})
	b.Run("auth0-go-jwt-middleware", func(b *testing.B) {
		key := f.keys[0]
		v, err := validator.New(func(context.Context) (any, error) { return key, nil }, validator.RS256, f.op.URL, []string{audience})
		if err != nil {
			b.Fatal(err)
		}
		measure(b, jwtmiddleware.New(v.ValidateToken).CheckJWT(reads), jwtReqs)
	})
	b.Run("jwx-v3", func(b *testing.B) {
		set, err := jwk.Parse(f.jwks)
		if err != nil {
			b.Fatal(err)
		}
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := jwxjwt.ParseString(bearer(r), jwxjwt.WithKeySet(set), jwxjwt.WithIssuer(f.op.URL),
				jwxjwt.WithAudience(audience), jwxjwt.WithClock(jwxjwt.ClockFunc(f.op.Now)))
			if err != nil {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok)))
		}), jwtReqs)
	})
	b.Run("httpoidc-new-jwt", func(b *testing.B) {
		oc := resourceServer(b, f, func(c *httpoidc.Config) { c.TokenCacheTTL = -1 })
		measure(b, oc.AcceptToken("read")(reads), jwtReqs)
	})
	b.Run("httpoidc-cached-jwt", func(b *testing.B) {
		oc := resourceServer(b, f, func(*httpoidc.Config) {})
		measure(b, oc.AcceptToken("read")(reads), jwtReqs)
	})
	b.Run("plain-introspection", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		endpoint := f.op.IntrospectionURL()
		measure(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			form := url.Values{"token": {bearer(r)}, "token_type_hint": {"access_token"}}
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth(audience, "api-secret")
			resp, err := client.Do(req)
			if err != nil {
				unauthorized(w)
				return
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			var c struct {
				Active bool `json:"active"`
				accessClaims
			}
			if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &c) != nil || !c.Active {
				unauthorized(w)
				return
			}
			reads.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &c)))
		}), bearerRequests(f.opaque))
	})
	b.Run("httpoidc-new-opaque", func(b *testing.B) {
		oc := resourceServer(b, f, func(c *httpoidc.Config) {
			c.IntrospectionCacheTTL = -1
			setIntrospectionBudget(c, -1)
			// The request the plain call sends: httpoidc's default,
			// client_secret_post as Flask-OIDC's, would have the provider
			// parse two more form fields, which is not httpoidc's cost.
			c.IntrospectionAuthMethod = httpoidc.AuthClientSecretBasic
		})
		measure(b, oc.AcceptToken("read")(reads), bearerRequests(f.opaque))
	})
	b.Run("scs-json", func(b *testing.B) {
		h, req := bareSCS(b, jsonCodec{}, f.session)
		measure(b, h, []*http.Request{req})
	})
	b.Run("scs-gob", func(b *testing.B) {
		gobOnce.Do(func() { gob.Register(map[string]any{}) })
		h, req := bareSCS(b, scs.GobCodec{}, f.session)
		measure(b, h, []*http.Request{req})
	})
	b.Run("httpoidc-requirelogin", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(f.cookie)
		measure(b, f.appH, []*http.Request{req})
	})
}

// BenchmarkCachedTokenMemory reports the heap each cached JWT access token
// takes (B/token): the cache entry, the Token with its claims and the
// token itself, which UserInfo needs. The tokens are those of a
// TokenRequest with two scopes, 660 to 700 bytes. Whatever the cache keeps
// of a request, the token string included, counts.
func BenchmarkCachedTokenMemory(b *testing.B) {
	const distinct = 1000
	f := newFixture(b)
	tokens := make([]string, distinct)
	for i := range tokens {
		tokens[i] = f.op.IssueAccessToken(oidctest.TokenRequest{
			ClientID: audience, Subject: "alice", Scopes: []string{"read", "write"}, Audience: []string{audience}, Format: oidctest.JWT,
		})
	}
	var tokenBytes int
	for _, t := range tokens {
		tokenBytes += len(t)
	}
	for b.Loop() {
		b.StopTimer()
		// Not resourceServer: its Cleanup would keep every iteration's
		// cache alive until the benchmark ends.
		oc, err := httpoidc.New(context.Background(), httpoidc.Config{
			ClientSecrets:      &httpoidc.ClientSecrets{ClientID: audience, ClientSecret: "api-secret", Issuer: f.op.URL},
			ResourceServerOnly: true, Audience: audience, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		h := oc.AcceptToken("read")(reads)
		w := &discardWriter{h: http.Header{}}
		serve := func(token string) {
			// Each request, and its Authorization header, is garbage once
			// answered, unless the cache keeps it.
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			h.ServeHTTP(w, r)
			if w.status != 0 {
				b.Fatalf("answered %d", w.status)
			}
		}
		serve(tokens[0])
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, t := range tokens[1:] {
			serve(t)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(distinct-1), "B/token")
		b.ReportMetric(float64(tokenBytes)/distinct, "token-bytes")
		runtime.KeepAlive(h)
		oc.Close()
		b.StartTimer()
	}
}

package httpoidc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// loadSize is how much TestLoad sends.
type loadSize struct {
	requests int // concurrent API requests
	distinct int // distinct tokens of each kind among them
	logins   int // concurrent logins
}

// fullLoad is what .ci/run sends (HTTPOIDC_LOAD=full); by default TestLoad
// sends a tenth of it, which finds the same races and leaks while keeping
// go test -race ./... quick on a two-core machine.
var fullLoad = loadSize{requests: 10000, distinct: 250, logins: 1000}

func loadFromEnv(t *testing.T) loadSize {
	switch v := os.Getenv("HTTPOIDC_LOAD"); v {
	case "full":
		return fullLoad
	case "":
		return loadSize{requests: fullLoad.requests / 10, distinct: fullLoad.distinct / 5, logins: fullLoad.logins / 10}
	default:
		t.Fatalf("HTTPOIDC_LOAD=%q: want full or nothing", v)
		return loadSize{}
	}
}

// TestLoad drives concurrent API requests with a mix of valid, expired and
// forged tokens, and concurrent logins, against oidctest (10,000 and 1,000
// with HTTPOIDC_LOAD=full). Every answer must be right, no goroutine may
// outlive the test, and the heap must stay bounded.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	size := loadFromEnv(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	apiLoad(t, size)
	loginLoad(t, size)

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap in use after the load: %+.1f MiB", float64(growth)/(1<<20))
	require.Less(t, growth, int64(64<<20), "memory is released after the load")
}

func apiLoad(t *testing.T, size loadSize) {
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		ClientSecrets:      &httpoidc.ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: op.URL},
		ResourceServerOnly: true,
		Now:                op.Now,
		Logger:             slog.New(slog.DiscardHandler),
		// Every distinct token is meant to be checked here: the budget
		// would answer most of them 503 (TestIntrospectionBudget).
		IntrospectionsPerSecond: -1,
	})
	require.NoError(t, err)
	defer oc.Close() // before goleak looks
	handler := oc.AcceptToken("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprint(w, tok.Subject)
	}))
	issue := func(i int, format oidctest.AccessTokenFormat, ttl time.Duration) string {
		return op.IssueAccessToken(oidctest.TokenRequest{
			ClientID: "api", Subject: fmt.Sprintf("user-%d", i), Scopes: []string{"read"},
			Audience: []string{"api"}, Format: format, TTL: ttl,
		})
	}

	type request struct {
		token, subject string
		status         int
	}
	distinct := size.distinct
	var kinds [][]request
	var expired, valid, opaque, forged, garbage []request
	for i := range distinct {
		expired = append(expired, request{issue(i, oidctest.JWT, time.Minute), "", http.StatusUnauthorized})
	}
	op.Advance(time.Hour)
	for i := range distinct {
		sub := fmt.Sprintf("user-%d", i)
		jwt := issue(i, oidctest.JWT, time.Hour)
		valid = append(valid, request{jwt, sub, http.StatusOK})
		opaque = append(opaque, request{issue(i, oidctest.Opaque, time.Hour), sub, http.StatusOK})
		// Another signature on a valid token's claims: a forgery.
		forged = append(forged, request{jwt[:strings.LastIndexByte(jwt, '.')+1] + strings.Repeat("A", 342), "", http.StatusUnauthorized})
		garbage = append(garbage, request{fmt.Sprintf("not-a-token-%d", i), "", http.StatusUnauthorized})
	}
	kinds = [][]request{valid, opaque, expired, forged, garbage}

	requests := size.requests
	var wrong atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range requests {
		want := kinds[i%len(kinds)][(i/len(kinds))%distinct]
		wg.Go(func() {
			<-start
			req := httptest.NewRequest(http.MethodGet, "/api", nil)
			req.Header.Set("Authorization", "Bearer "+want.token)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != want.status || (want.status == http.StatusOK && rec.Body.String() != want.subject) {
				if wrong.Add(1) == 1 {
					t.Errorf("token for %q: got %d %q, want %d", want.subject, rec.Code, rec.Body.String(), want.status)
				}
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	introspections := op.Requests(oidctest.EndpointIntrospection)
	t.Logf("%d concurrent API requests in %v: %d wrong answers, %d introspection calls for %d distinct opaque tokens and %d garbage tokens",
		requests, time.Since(began).Round(time.Millisecond), wrong.Load(), introspections, distinct, distinct)
	require.Zero(t, wrong.Load())
	require.LessOrEqual(t, introspections, 2*distinct, "at most one introspection per distinct token that is not a JWT")
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func loginLoad(t *testing.T, size loadSize) {
	op := oidctest.NewServer()
	defer op.Close()
	var handler atomic.Value
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer app.Close()
	op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{app.URL + "/authorize"}})
	op.AddUser(alice)
	op.AutoLogin("alice")
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("app"))
	require.NoError(t, err)
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, Now: op.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer oc.Close() // before goleak looks
	handler.Store(oc.Handler(testApp(oc)))

	// One transport for all browsers, bounded so that a thousand logins do
	// not need a thousand sockets at once.
	transport := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	logins := size.logins
	var wrong atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range logins {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			browser := &http.Client{Jar: jar, Transport: transport, Timeout: time.Minute}
			<-start
			resp, err := browser.Get(app.URL + "/login")
			if err != nil {
				wrong.Add(1)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "Welcome alice@example.com" {
				if wrong.Add(1) == 1 {
					t.Errorf("login: %d %q", resp.StatusCode, body)
				}
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d concurrent logins in %v: %d failed; %d token requests", logins, time.Since(began).Round(time.Millisecond), wrong.Load(), op.Requests(oidctest.EndpointToken))
	require.Zero(t, wrong.Load())
	require.Equal(t, logins, op.Requests(oidctest.EndpointToken))
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

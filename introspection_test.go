package httpoidc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// TestAcceptTokenRevocation checks that a revoked opaque token is refused
// once the introspection cache has let it go, and that the refusal is
// remembered for a few seconds only.
func TestAcceptTokenRevocation(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	a := newAPI(t, nil)
	tok := a.issueTTL(oidctest.Opaque, time.Minute)
	a.op.Advance(2 * time.Minute)
	requireAnswer(t, answerInvalidToken, a.get(tok))
}

// TestAcceptTokenIntrospectionClock checks that an introspection answer is
// refused when its exp has passed on the API's clock, although the
// provider, whose clock is behind, calls the token active.
func TestAcceptTokenIntrospectionClock(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

func TestIntrospectionAuthMethods(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	a := newAPI(t, func(c *Config) { c.IntrospectionAuthMethod = AuthBearer })
	requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
	a.op.Revoke(a.oc.resource.bearer.token)
	requireOK(t, "alice ", a.get(a.issue(oidctest.Opaque)))
	require.Equal(t, 2, a.op.Requests(oidctest.EndpointToken))
	require.Equal(t, 3, a.op.Requests(oidctest.EndpointIntrospection))
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

// TestIntrospectionDeadline checks that every introspection call is
// bounded by Config.Timeout, or by the HTTPClient's shorter Timeout, also
// when the provider stalls in the middle of its answer; that the calls
// carry the values of the request's context; and that the request leaving
// does not abort a call other requests may share.
func TestIntrospectionDeadline(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	defer close(stall)
	// headersThenStall answers 200 with a Content-Length, and then sends
	// nothing.
	headersThenStall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer headersThenStall.Close()
	tests := []struct {
		name      string
		configure func(*Config)
	}{
		{"Config.Timeout", func(c *Config) { c.Timeout = 300 * time.Millisecond }},
		{"HTTPClient.Timeout", func(c *Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, func(c *Config) {
				tt.configure(c)
				c.ClientSecrets.IntrospectionURI = headersThenStall.URL
			})
			began := time.Now()
			requireAnswer(t, answerUnavailable, a.get(a.issue(oidctest.Opaque)))
			require.Less(t, time.Since(began), 3*time.Second)
		})
	}

	t.Run("the request's values, not its cancellation", func(t *testing.T) {
		type key struct{}
		var seen atomic.Value
		a := newAPI(t, func(c *Config) {
			c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.HasSuffix(r.URL.Path, "/introspect") {
					seen.Store(fmt.Sprint(r.Context().Value(key{}), " ", r.Context().Err()))
				}
				return http.DefaultTransport.RoundTrip(r)
			})}
		})
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "traced"))
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+a.issue(oidctest.Opaque))
		requireOK(t, "alice ", a.serve(req))
		require.Equal(t, "traced <nil>", seen.Load())
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSharedDeadline checks that calls within a tenth of the bound share
// one context, and that each gets between nine tenths of the bound and
// all of it.
func TestSharedDeadline(t *testing.T) {
	t.Parallel()
	s, client := newSharedDeadline(&http.Client{Timeout: time.Minute}, 10*time.Second)
	defer s.stop()
	require.Zero(t, client.Timeout)
	require.Equal(t, 10*time.Second, s.bound)
	start := time.Now()
	first := s.get(start)
	for _, later := range []time.Duration{0, 500 * time.Millisecond, 999 * time.Millisecond} {
		ctx := s.get(start.Add(later))
		require.Equal(t, first, ctx)
		deadline, ok := ctx.Deadline()
		require.True(t, ok)
		left := deadline.Sub(start.Add(later))
		require.True(t, left > 9*time.Second && left <= 10*time.Second, left)
	}
	renewed := s.get(start.Add(time.Second))
	require.NotEqual(t, first, renewed)
	deadline, _ := renewed.Deadline()
	require.Equal(t, start.Add(11*time.Second), deadline)
	require.NoError(t, first.Err(), "the replaced context lives until its deadline")
}

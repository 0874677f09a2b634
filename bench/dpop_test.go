package bench

// BenchmarkDPoP measures what DPoP (RFC 9449) adds to AcceptToken per
// request: the same JWT access token, validated once and then served from
// the token cache, sent as a bearer token, and bound to a DPoP key and sent
// with a fresh proof per request, whose signature, claims and jti AcceptToken
// check every time:
//
//	cd bench && go test -run '^$' -bench DPoP -count 5

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func BenchmarkDPoP(b *testing.B) {
	op := oidctest.NewServer()
	b.Cleanup(op.Close)
	op.AddClient(oidctest.Client{ID: audience, Secret: "api-secret"})
	op.AddUser(oidctest.User{Subject: "alice"})
	key := oidctest.NewDPoPKey()
	const target = "http://api.example/resource"
	bearer := op.IssueAccessToken(oidctest.TokenRequest{ClientID: audience, Subject: "alice", Scopes: []string{"read"}, Format: oidctest.JWT})
	bound := op.IssueAccessToken(oidctest.TokenRequest{ClientID: audience, Subject: "alice", Scopes: []string{"read"}, Format: oidctest.JWT,
		DPoPKeyThumbprint: key.Thumbprint()})
	api := func(b *testing.B) http.Handler {
		oc, err := httpoidc.New(context.Background(), httpoidc.Config{
			ClientSecrets:      &httpoidc.ClientSecrets{ClientID: audience, ClientSecret: "api-secret", Issuer: op.URL},
			ResourceServerOnly: true,
			Logger:             slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(oc.Close)
		return oc.AcceptToken("read")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	}
	b.Run("bearer JWT", func(b *testing.B) {
		h := api(b)
		dpopMeasure(b, h, func(int) *http.Request {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
			return req
		})
	})
	b.Run("DPoP JWT, fresh proof", func(b *testing.B) {
		h := api(b)
		dpopMeasure(b, h, func(int) *http.Request {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "DPoP "+bound)
			req.Header.Set("DPoP", key.Proof(http.MethodGet, target, bound, ""))
			return req
		})
	})
}

// dpopMeasure serves b.N requests made beforehand by newRequest (proofs are
// single-use, so each iteration has its own), checking every answer, and
// reports cpu-ns/op as measure does.
func dpopMeasure(b *testing.B, h http.Handler, newRequest func(int) *http.Request) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, newRequest(-1)) // warm caches (discovery, JWKS, the token)
	if w.status != 0 && w.status != http.StatusOK {
		b.Fatalf("answered %d", w.status)
	}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = newRequest(i)
	}
	b.ReportAllocs()
	var before, after syscall.Rusage
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for i := 0; i < b.N; i++ {
		w.status = 0
		h.ServeHTTP(w, reqs[i])
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("request %d answered %d", i, w.status)
		}
		clear(w.h)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	b.StopTimer()
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

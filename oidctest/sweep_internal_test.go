package oidctest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSweepBoundsMemory checks that abandoned codes, login requests and
// expired access tokens do not accumulate under load.
func TestSweepBoundsMemory(t *testing.T) {
	s := NewHandler("http://127.0.0.1:1")
	defer s.Close()
	s.AddClient(Client{ID: "app", Secret: "x", RedirectURIs: []string{"https://rp.example.com/cb"}})
	authorize := func() {
		r := httptest.NewRequest(http.MethodGet, "/authorize?client_id=app&response_type=code&scope=openid&redirect_uri=https://rp.example.com/cb", nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
	}
	for range 100 {
		authorize() // login page: a pending request each
	}
	s.AutoLogin("alice")
	for range 100 {
		authorize() // a code each
		s.IssueAccessToken(TokenRequest{ClientID: "app", Subject: "alice", TTL: time.Minute})
	}
	count := func() (int, int, int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.pending), len(s.codes), len(s.access)
	}
	p, c, a := count()
	require.Equal(t, []int{100, 100, 100}, []int{p, c, a})

	s.Advance(loginTTL + time.Second)
	authorize() // any insertion triggers the sweep
	p, c, a = count()
	require.Equal(t, []int{0, 1, 0}, []int{p, c, a})
}

package httpoidc_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

// TestReplicasRefreshOnceAndBothKeepTheLogin: two replicas on one real
// redis-server refresh the same session at once, 50 requests split over
// both, against a provider that rotates refresh tokens. Exactly one refresh
// grant is made, every request gets its tokens, and nobody is logged out
// (issue 11, "Across replicas": the losing replica replayed the retired
// refresh token and sent the user through login again).
func TestReplicasRefreshOnceAndBothKeepTheLogin(t *testing.T) {
	h, replicas := replicaPair(t)
	op := h.op
	op.Advance(2 * time.Hour) // the access token has expired
	tokenCalls := op.Requests(oidctest.EndpointToken)
	const requests = 50
	type answer struct {
		status      int
		accessToken string
	}
	answers := make([]answer, requests)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range requests {
		wg.Go(func() {
			<-start
			resp, err := h.client.Do(jsonRequest(t, replicas[i%2].URL+"/me"))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			answers[i].status = resp.StatusCode
			var me map[string]any
			if json.NewDecoder(resp.Body).Decode(&me) == nil {
				answers[i].accessToken, _ = me["access_token"].(string)
			}
		})
	}
	close(start)
	wg.Wait()

	require.Equal(t, 1, op.Requests(oidctest.EndpointToken)-tokenCalls, "exactly one refresh grant")
	for i, a := range answers {
		require.Equal(t, http.StatusOK, a.status, "request %d on replica %d", i, i%2)
		require.Equal(t, answers[0].accessToken, a.accessToken, "request %d on replica %d", i, i%2)
	}
	for _, replica := range replicas {
		resp, err := h.client.Do(jsonRequest(t, replica.URL+"/me"))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "still logged in on %s", replica.URL)
	}
	require.Equal(t, 1, op.Requests(oidctest.EndpointToken)-tokenCalls)
}

// replicaPair is two replicas of the app on one real redis-server, and a
// browser logged in through the first.
func replicaPair(t *testing.T) (*harness, []*httptest.Server) {
	h, newReplica, route := redisApp(t)
	replicas := []*httptest.Server{newReplica(), newReplica()}
	// The browser logs in through the public URL, served by the first
	// replica; cookies for 127.0.0.1 go to every port, so both replicas
	// then see the same session.
	route(replicas[0])
	h.login(h.client)
	return h, replicas
}

// redisApp is the application behind one public URL, whose front server
// plays the load balancer: it sends every request to the replica last
// given to route. newReplica starts one more replica, with its own
// OpenIDConnect and server, its sessions in one real redis-server shared
// by all.
func redisApp(t *testing.T) (h *harness, newReplica func() *httptest.Server, route func(*httptest.Server)) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t)})
	t.Cleanup(func() { rdb.Close() })
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	var proxy atomic.Pointer[httputil.ReverseProxy]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxy.Load().ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	op.AddClient(oidctest.Client{
		ID: "app", Secret: "app-secret",
		RedirectURIs:           []string{front.URL + "/authorize"},
		PostLogoutRedirectURIs: []string{front.URL + "/logout"},
	})
	op.AddUser(alice)
	op.AutoLogin("alice")
	secrets, err := httpoidc.ParseClientSecrets(op.ClientSecrets("app"))
	require.NoError(t, err)
	newReplica = func() *httptest.Server {
		sessions := scs.New()
		sessions.Store = goredisstore.New(rdb)
		oc, err := httpoidc.New(context.Background(), httpoidc.Config{
			ClientSecrets: secrets, Sessions: sessions, Now: op.Now, Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		t.Cleanup(oc.Close)
		srv := httptest.NewServer(oc.Handler(testApp(oc)))
		t.Cleanup(srv.Close)
		return srv
	}
	route = func(replica *httptest.Server) {
		target, _ := url.Parse(replica.URL)
		proxy.Store(httputil.NewSingleHostReverseProxy(target))
	}
	return &harness{t: t, op: op, app: front, client: newBrowser(t)}, newReplica, route
}

// TestReplicasShareARefusedRefresh: when the provider refuses the refresh
// token, the other replica does not send it again; the login ends on both.
func TestReplicasShareARefusedRefresh(t *testing.T) {
	h, replicas := replicaPair(t)
	h.op.Revoke(h.me(h.client)["refresh_token"].(string))
	h.op.Advance(2 * time.Hour)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			resp, err := h.client.Do(jsonRequest(t, replicas[i%2].URL+"/me"))
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	require.Equal(t, 1, h.op.Requests(oidctest.EndpointToken)-tokenCalls, "one refused grant, not one per replica")
	for i, status := range statuses {
		require.Equal(t, http.StatusUnauthorized, status, "request %d", i)
	}
}

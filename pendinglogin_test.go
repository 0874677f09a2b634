package httpoidc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/internal/testenv"
)

// anonymousRequests sizes TestAnonymousVisitorsStoreNothing: issue 11's
// 100,000 with HTTPOIDC_LOAD=full (.ci/run), a fiftieth by default.
func anonymousRequests(t *testing.T) int {
	if loadFromEnv(t) == fullLoad {
		return 100000
	}
	return 2000
}

// pendingCookies returns the browser's pending-login cookies.
func pendingCookies(t *testing.T, h *harness, client *http.Client) []*http.Cookie {
	appURL, err := url.Parse(h.app.URL)
	require.NoError(t, err)
	var found []*http.Cookie
	for _, c := range client.Jar.Cookies(appURL) {
		if strings.HasPrefix(c.Name, "httpoidc_login_") {
			found = append(found, c)
		}
	}
	return found
}

func setCookie(t *testing.T, h *harness, client *http.Client, name, value string) {
	appURL, err := url.Parse(h.app.URL)
	require.NoError(t, err)
	client.Jar.SetCookies(appURL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// visit follows a callback URL and returns the status of the final answer.
func visit(t *testing.T, client *http.Client, callback string) int {
	resp, err := client.Get(callback)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAnonymousVisitorsStoreNothing sends cookieless requests to every
// path an anonymous visitor can reach (a RequireLogin page, the home page,
// the callback, logout) and checks that the session store stays empty and
// the heap flat, with the in-memory store and with a real redis-server
// (issue 11, finding 1).
func TestAnonymousVisitorsStoreNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c *httpoidc.Config) (count func() int, memory func() int64)
	}{
		{"memstore", func(t *testing.T, c *httpoidc.Config) (func() int, func() int64) {
			return nil, nil // the store New creates, counted below
		}},
		{"redis", func(t *testing.T, c *httpoidc.Config) (func() int, func() int64) {
			rdb := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t)})
			t.Cleanup(func() { rdb.Close() })
			c.SessionStore = goredisstore.New(rdb)
			return func() int {
					n, err := rdb.DBSize(context.Background()).Result()
					require.NoError(t, err)
					return int(n)
				}, func() int64 {
					info, err := rdb.Info(context.Background(), "memory").Result()
					require.NoError(t, err)
					for line := range strings.SplitSeq(info, "\r\n") {
						if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
							n, err := strconv.ParseInt(v, 10, 64)
							require.NoError(t, err)
							return n
						}
					}
					t.Fatal("no used_memory in INFO memory")
					return 0
				}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var count func() int
			var memory func() int64
			h := newHarness(t, func(c *httpoidc.Config) { count, memory = tt.setup(t, c) })
			if count == nil {
				count = func() int {
					all, err := h.oc.Sessions().Store.(scs.IterableStore).All()
					require.NoError(t, err)
					return len(all)
				}
			}
			handler := h.oc.Handler(testApp(h.oc))
			requests := []struct{ target, accept string }{
				{"/login", "text/html"},
				{"/me", "application/json"},
				{"/", ""},
				{"/authorize?code=guess&state=guess", "text/html"},
				{"/logout?next=/x", "text/html"},
			}
			serve := func(i int) {
				r := requests[i%len(requests)]
				req := httptest.NewRequest(http.MethodGet, h.app.URL+r.target, nil)
				if r.accept != "" {
					req.Header.Set("Accept", r.accept)
				}
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("%s: %d %s", r.target, rec.Code, rec.Body)
				}
			}
			// Warm up, so that lazily built state (templates, pools) is
			// not counted as growth.
			for i := range 100 {
				serve(i)
			}
			n := anonymousRequests(t)
			var redisBefore int64
			if memory != nil {
				redisBefore = memory()
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			began := time.Now()
			for i := range n {
				serve(i)
			}
			elapsed := time.Since(began)
			runtime.GC()
			runtime.ReadMemStats(&after)
			growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d cookieless requests in %v: %d entries in the session store, heap %+.2f MiB (%.1f MiB in use)",
				n, elapsed.Round(time.Millisecond), count(), float64(growth)/(1<<20), float64(after.HeapAlloc)/(1<<20))
			if memory != nil {
				t.Logf("redis used_memory %+d bytes", memory()-redisBefore)
			}
			require.Zero(t, count(), "an anonymous visitor makes the server store nothing")
			require.Less(t, growth, int64(4<<20), "the heap stays flat")
		})
	}
}

// TestPendingLoginCookieCannotBeForgedOrMoved: the pending login is sealed
// and bound to its state; a changed cookie, or one moved to another
// state's name, is refused and logs nobody in.
func TestPendingLoginCookieCannotBeForgedOrMoved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		attack func(t *testing.T, h *harness, first, second string)
	}{
		{"value changed", func(t *testing.T, h *harness, first, second string) {
			for _, c := range pendingCookies(t, h, h.client) {
				v := []byte(c.Value)
				v[len(v)/2] ^= 1
				setCookie(t, h, h.client, c.Name, string(v))
			}
		}},
		{"values swapped between states", func(t *testing.T, h *harness, first, second string) {
			cookies := pendingCookies(t, h, h.client)
			require.Len(t, cookies, 2)
			setCookie(t, h, h.client, cookies[0].Name, cookies[1].Value)
			setCookie(t, h, h.client, cookies[1].Name, cookies[0].Value)
		}},
		{"sealed under another key", func(t *testing.T, h *harness, first, second string) {
			other := newHarness(t, func(c *httpoidc.Config) { c.CookieSecret = strings.Repeat("k", 32) })
			other.callbackURL(other.client)
			forged := pendingCookies(t, other, other.client)[0].Value
			for _, c := range pendingCookies(t, h, h.client) {
				setCookie(t, h, h.client, c.Name, forged)
			}
		}},
		{"value empty", func(t *testing.T, h *harness, first, second string) {
			for _, c := range pendingCookies(t, h, h.client) {
				setCookie(t, h, h.client, c.Name, "")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			first := h.callbackURL(h.client)
			second := h.callbackURL(h.client)
			tt.attack(t, h, first, second)
			require.Equal(t, http.StatusBadRequest, visit(t, h.client, first))
			require.Equal(t, http.StatusBadRequest, visit(t, h.client, second))
			require.False(t, h.loggedIn(h.client))
		})
	}
}

// TestPendingLoginExpiresAfterTenMinutes: the provider has ten minutes to
// send the user back.
func TestPendingLoginExpiresAfterTenMinutes(t *testing.T) {
	t.Parallel()
	for _, wait := range []time.Duration{9 * time.Minute, 11 * time.Minute} {
		t.Run(wait.String(), func(t *testing.T) {
			h := newHarness(t, nil)
			resp, err := noRedirects(h.client).Get(h.app.URL + "/login")
			require.NoError(t, err)
			resp.Body.Close()
			h.op.Advance(wait) // the user takes their time at the provider
			status := visit(t, h.client, resp.Header.Get("Location"))
			if wait < 10*time.Minute {
				require.Equal(t, http.StatusOK, status)
				require.True(t, h.loggedIn(h.client))
				return
			}
			require.Equal(t, http.StatusBadRequest, status)
			require.False(t, h.loggedIn(h.client))
		})
	}
}

// TestPendingLoginsPerBrowserAreBounded: several tabs may log in at once,
// but a browser holds at most three pending logins; the oldest goes first.
func TestPendingLoginsPerBrowserAreBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var callbacks []string
	for range 5 {
		callbacks = append(callbacks, h.callbackURL(h.client))
	}
	require.Len(t, pendingCookies(t, h, h.client), 3)
	require.Equal(t, http.StatusBadRequest, visit(t, h.client, callbacks[0]), "the oldest tab's login was dropped")
	require.Equal(t, http.StatusBadRequest, visit(t, h.client, callbacks[1]))
	for _, callback := range callbacks[2:] {
		require.Equal(t, http.StatusOK, visit(t, h.client, callback))
	}
	require.Empty(t, pendingCookies(t, h, h.client), "every callback cleared its cookie")
	require.True(t, h.loggedIn(h.client))
}

// TestPendingLoginKeyAgreesAcrossReplicas: a login started on one replica
// completes on another with no set-up, because both derive the cookie key
// from the client secret; a configured CookieSecret must match too.
func TestPendingLoginKeyAgreesAcrossReplicas(t *testing.T) {
	tests := []struct {
		name           string
		secretA, other string
		want           int
	}{
		{"derived from the client secret", "", "", http.StatusOK},
		{"the same CookieSecret", strings.Repeat("a", 32), strings.Repeat("a", 32), http.StatusOK},
		{"different CookieSecrets", strings.Repeat("a", 32), strings.Repeat("b", 32), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.CookieSecret = tt.secretA })
			callback := h.callbackURL(h.client)
			cfg := h.config
			cfg.CookieSecret = tt.other
			replica, err := httpoidc.New(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(replica.Close)
			// The callback reaches the other replica.
			h.serveReplica(replica)
			require.Equal(t, tt.want, visit(t, h.client, callback))
		})
	}
}

func TestCookieSecretMustBeLongEnough(t *testing.T) {
	_, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, CookieSecret: "short", Logger: slog.New(slog.DiscardHandler)})
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	require.Contains(t, err.Error(), "OIDC_COOKIE_SECRET")
	t.Setenv("OIDC_COOKIE_SECRET", fmt.Sprint(strings.Repeat("s", 40)))
	cfg, err := httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("s", 40), cfg.CookieSecret)
}

// TestPendingLoginCookiesFitBehindProxies: however long the URLs a browser
// is sent to log in from, its pending-login cookies stay small enough that
// the Cookie header passes nginx's and HAProxy's 8 KB limit, with room to
// spare for the application's own cookies; a return path too long to keep
// comes back home instead.
func TestPendingLoginCookiesFitBehindProxies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	// Each "<" is six bytes in the sealed JSON; the return path is as long
	// as safeNext accepts.
	long := "/login?pad=" + strings.Repeat("<", 2048-len("/login?pad="))
	var callback string
	c := *h.client
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), h.app.URL+"/authorize") {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	for range 10 {
		resp, err := c.Get(h.app.URL + long)
		require.NoError(t, err)
		resp.Body.Close()
		require.NotEmpty(t, callback, "the provider did not redirect back")
	}
	cookies := pendingCookies(t, h, h.client)
	require.NotEmpty(t, cookies)
	header := 0
	for _, ck := range cookies {
		// Behind https the name carries "__Host-" too.
		size := len("__Host-") + len(ck.Name) + len("=") + len(ck.Value)
		require.Less(t, size, 1024, "one pending-login cookie")
		header += size + len("; ")
	}
	require.Less(t, header, 4096, "the pending-login cookies of one Cookie header: half of nginx's 8 KB buffer")
	// The login completes, and returns home rather than to the long path.
	resp, body := h.get(h.client, strings.TrimPrefix(callback, h.app.URL))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "/", resp.Request.URL.Path)
	require.Equal(t, "Welcome alice@example.com", body)
}

package httpoidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestRefreshOnExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	before := h.me(h.client)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)

	h.op.Advance(59 * time.Minute) // inside the 60 s clock skew of the 1 h expiry
	after := h.me(h.client)
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
	require.NotEqual(t, before["access_token"], after["access_token"])
	require.NotEqual(t, before["refresh_token"], after["refresh_token"], "oidctest rotates refresh tokens")
	require.Equal(t, "alice", after["sub"])

	// The new tokens were saved: no second refresh.
	h.me(h.client)
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
}

func TestRefreshRefusedSendsUserThroughLogin(t *testing.T) {
	t.Parallel()
	for _, preserve := range []bool{false, true} {
		t.Run(map[bool]string{false: "to root", true: "preserving next"}[preserve], func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.PreserveNextOnError = preserve })
			h.login(h.client)
			h.op.Revoke(h.me(h.client)["refresh_token"].(string))
			h.op.Advance(2 * time.Hour)
			authorizations := h.op.Requests(oidctest.EndpointAuthorize)

			resp, body := h.get(h.client, "/login?page=2")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, authorizations+1, h.op.Requests(oidctest.EndpointAuthorize), "the user went through login again")
			if preserve {
				require.Equal(t, "/login?page=2", resp.Request.URL.RequestURI())
			} else {
				require.Equal(t, "/", resp.Request.URL.RequestURI())
			}
			require.True(t, h.loggedIn(h.client))
		})
	}
}

func TestRefreshRefusedOnAPIRequestIs401(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	h.op.Revoke(h.me(h.client)["refresh_token"].(string))
	h.op.Advance(2 * time.Hour)
	resp, _ := h.get(h.client, "/me", "Accept", "application/json")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.False(t, h.loggedIn(h.client))
}

func TestRefreshKeepsLoginWhenProviderDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	h.op.Advance(2 * time.Hour)
	h.op.SetFault(oidctest.FaultTokenEndpointError, true)
	require.True(t, h.loggedIn(h.client), "an outage does not log anybody out")
	h.op.SetFault(oidctest.FaultTokenEndpointError, false)
	before := h.op.Requests(oidctest.EndpointToken)
	h.me(h.client)
	require.Equal(t, before+1, h.op.Requests(oidctest.EndpointToken), "the next request refreshes")
}

func TestConcurrentRefreshMakesOneTokenRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	h.op.Advance(2 * time.Hour)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)

	const parallel = 12
	var wg sync.WaitGroup
	tokens := make([]string, parallel)
	for i := range parallel {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/me", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := h.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var me map[string]any
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&me) == nil {
				tokens[i], _ = me["access_token"].(string)
			}
		})
	}
	wg.Wait()
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok, "every request saw the one refreshed token")
		require.NotEmpty(t, tok)
	}
	require.True(t, h.loggedIn(h.client), "no request replayed the rotated refresh token")
}

func TestLocalLogout(t *testing.T) {
	t.Parallel()
	loggedOut := make(chan string, 1)
	h := newHarness(t, func(c *httpoidc.Config) {
		c.OnLogout = func(_ context.Context, u *httpoidc.User, _ httpoidc.LogoutReason) { loggedOut <- u.Subject }
	})
	h.login(h.client)
	resp, body := h.get(h.client, "/local-logout")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "alice", <-loggedOut)
	require.False(t, h.loggedIn(h.client))
	resp, _ = h.get(h.client, "/local-logout")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	idToken := h.me(h.client)["id_token"].(string)

	req, err := http.NewRequest(http.MethodGet, h.app.URL+"/logout?next=/goodbye", nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirects(h.client).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	endSession, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, h.op.URL+"/end_session", endSession.Scheme+"://"+endSession.Host+endSession.Path)
	require.Equal(t, idToken, endSession.Query().Get("id_token_hint"))
	require.Equal(t, h.app.URL+"/logout", endSession.Query().Get("post_logout_redirect_uri"))
	require.NotEmpty(t, endSession.Query().Get("state"))
	require.False(t, h.loggedIn(h.client), "the local session ends before the provider is visited")

	resp, err = h.client.Get(endSession.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/goodbye", resp.Request.URL.Path, "the provider sends the user back, and on to next")
	require.Equal(t, 1, h.op.Requests(oidctest.EndpointEndSession))
}

func TestLogoutNextIsSameOriginOnly(t *testing.T) {
	t.Parallel()
	tests := []struct{ next, want string }{
		{"/bye?x=1", "/bye?x=1"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"%2F%2Fevil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.LazyDiscovery = true })
			resp, err := noRedirects(h.client).Get(h.app.URL + "/logout?next=" + url.QueryEscape(tt.next))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, tt.want, resp.Header.Get("Location"))
		})
	}
}

func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token func(h *harness, idTokenClaims map[string]any) string
	}{
		{"by sid", func(h *harness, c map[string]any) string { return h.op.LogoutToken("app", "", c["sid"].(string)) }},
		{"by sub", func(h *harness, c map[string]any) string { return h.op.LogoutToken("app", "alice", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.login(h.client)
			claims := jwtClaims(t, h.me(h.client)["id_token"].(string))
			require.NotEmpty(t, claims["sid"])
			token := tt.token(h, claims)

			post := func() int {
				resp, _ := h.deliverLogoutToken(token)
				return resp.StatusCode
			}
			require.Equal(t, http.StatusOK, post())
			require.False(t, h.loggedIn(h.client))
			require.Equal(t, http.StatusBadRequest, post(), "a replayed logout token is refused")
		})
	}
}

// failingEpochStore is a session store whose first write of a logout
// epoch fails, as a store briefly unavailable does.
type failingEpochStore struct {
	scs.Store
	failed atomic.Bool
}

func (s *failingEpochStore) Commit(key string, value []byte, expiry time.Time) error {
	if strings.HasPrefix(key, "httpoidc-logout-") && s.failed.CompareAndSwap(false, true) {
		return errors.New("store unavailable")
	}
	return s.Store.Commit(key, value, expiry)
}

// TestBackchannelLogoutRetriedAfterAStoreFailureEndsTheLogin: when the
// logins cannot be ended the provider gets an error, and its retry with
// the same logout token ends them, instead of being refused as a replay of
// a logout that never happened.
func TestBackchannelLogoutRetriedAfterAStoreFailureEndsTheLogin(t *testing.T) {
	store := &failingEpochStore{Store: memstore.NewWithCleanupInterval(0)}
	h := newHarness(t, func(c *httpoidc.Config) { c.SessionStore = store })
	h.login(h.client)
	claims := jwtClaims(t, h.me(h.client)["id_token"].(string))
	token := h.op.LogoutToken("app", "", claims["sid"].(string))
	post := func() int {
		resp, _ := h.deliverLogoutToken(token)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusInternalServerError, post())
	require.True(t, store.failed.Load())
	require.True(t, h.loggedIn(h.client), "the failed logout ended nothing")
	require.Equal(t, http.StatusOK, post(), "the retry is not taken for a replay")
	require.False(t, h.loggedIn(h.client))
	require.Equal(t, http.StatusBadRequest, post(), "a replay of the done logout is refused")
}

func TestBackchannelLogoutRejectsBadTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.login(h.client)
	forOtherClient := h.op.LogoutToken("other", "alice", "")
	tests := []struct {
		name string
		form url.Values
		want int
	}{
		{"missing token", url.Values{}, http.StatusBadRequest},
		{"garbage", url.Values{"logout_token": {"a.b.c"}}, http.StatusBadRequest},
		{"other audience", url.Values{"logout_token": {forOtherClient}}, http.StatusBadRequest},
		{"an ID token", url.Values{"logout_token": {h.me(h.client)["id_token"].(string)}}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(h.app.URL+"/backchannel-logout", tt.form)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode, string(body))
			require.True(t, h.loggedIn(h.client))
		})
	}
	resp, err := http.Get(h.app.URL + "/backchannel-logout")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, err := noRedirects(h.client).Get(h.app.URL + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, resp.Cookies(), 1, "only the pending login's cookie, no session")
	pending := resp.Cookies()[0]
	require.True(t, strings.HasPrefix(pending.Name, "httpoidc_login_"), pending.Name)
	require.True(t, pending.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, pending.SameSite, "Lax: the provider's redirect back is a top-level navigation")
	require.Equal(t, "/", pending.Path)
	require.Equal(t, 600, pending.MaxAge, "a pending login lives 10 minutes")
	require.False(t, pending.Secure, "plain http on loopback cannot use Secure cookies")

	h.login(h.client)
	appURL, _ := url.Parse(h.app.URL)
	var session *http.Cookie
	var pendingLeft []string
	for _, c := range h.client.Jar.Cookies(appURL) {
		if strings.HasPrefix(c.Name, "httpoidc_login_") {
			pendingLeft = append(pendingLeft, c.Name)
		}
		if c.Name == "httpoidc_session" {
			session = c
		}
	}
	require.Equal(t, []string{pending.Name}, pendingLeft, "the callback cleared the completed login's cookie; the abandoned one waits for its expiry")
	require.NotNil(t, session)
	require.False(t, h.oc.Sessions().Cookie.Secure)
	require.True(t, h.oc.Sessions().Cookie.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, h.oc.Sessions().Cookie.SameSite)

	secure := newHarness(t, func(c *httpoidc.Config) { c.RedirectURL = "https://app.example/authorize" })
	require.True(t, secure.oc.Sessions().Cookie.Secure)
	resp, err = noRedirects(secure.client).Get(secure.app.URL + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, resp.Cookies(), 1)
	require.True(t, strings.HasPrefix(resp.Cookies()[0].Name, "__Host-httpoidc_login_"), "a __Host- cookie: no subdomain can plant one")
	require.True(t, resp.Cookies()[0].Secure)
}

func TestSessionIsSmall(t *testing.T) {
	h := newHarness(t, nil)
	h.login(h.client)
	ctx, err := h.oc.Sessions().Load(context.Background(), sessionToken(t, h))
	require.NoError(t, err)
	keys := h.oc.Sessions().Keys(ctx)
	require.Equal(t, []string{"httpoidc"}, keys, "one session key")
	raw := h.oc.Sessions().GetString(ctx, "httpoidc")
	require.True(t, json.Valid([]byte(raw)))
	require.LessOrEqual(t, len(raw), 4096)
}

func sessionToken(t *testing.T, h *harness) string {
	appURL, _ := url.Parse(h.app.URL)
	for _, c := range h.client.Jar.Cookies(appURL) {
		if c.Name == "httpoidc_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// jwtClaims decodes a JWT's payload without verifying it, to read what the
// provider put in.
func jwtClaims(t *testing.T, jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// TestReplicasShareSessionsOverRedis runs two replicas of the application,
// each with its own OpenIDConnect and server, behind one public URL, with
// their sessions in one real redis-server.
func TestReplicasShareSessionsOverRedis(t *testing.T) {
	h, newReplica, route := redisApp(t)
	a, b := newReplica(), newReplica()

	route(a)
	h.login(h.client)
	route(b)
	require.True(t, h.loggedIn(h.client), "B sees the login made on A")

	_, body := h.get(h.client, "/logout", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, "Not logged in", body, "logout on B, through the provider")
	route(a)
	require.False(t, h.loggedIn(h.client), "A sees the logout made on B")

	h.login(h.client)
	a.Close()
	route(newReplica())
	require.True(t, h.loggedIn(h.client), "a restarted replica loses no session")
}

// TestShortLivedTokensNeverEndTheLogin: access tokens living 5 seconds,
// less than the default 60-second ClockSkew, neither end the login nor loop
// through the provider (issue 10: Hydra's 30-second tokens did). With a
// refresh token they are renewed once per lifetime, not per request;
// without one the login lasts as long as the session.
func TestShortLivedTokensNeverEndTheLogin(t *testing.T) {
	t.Parallel()
	for _, withRefresh := range []bool{true, false} {
		t.Run(map[bool]string{true: "with refresh tokens", false: "without refresh tokens"}[withRefresh], func(t *testing.T) {
			opts := []oidctest.Option{oidctest.WithAccessTokenTTL(5 * time.Second)}
			if !withRefresh {
				opts = append(opts, oidctest.WithoutRefreshTokens())
			}
			h := newHarness(t, nil, opts...)
			h.login(h.client)
			require.Equal(t, withRefresh, h.me(h.client)["refresh_token"] != "")
			tokenCalls := h.op.Requests(oidctest.EndpointToken)

			const seconds = 40
			for range seconds {
				h.op.Advance(time.Second)
				resp, body := h.get(h.client, "/me", "Accept", "application/json")
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
			}
			require.Equal(t, 1, h.op.Requests(oidctest.EndpointAuthorize), "no second login")
			refreshes := h.op.Requests(oidctest.EndpointToken) - tokenCalls
			if !withRefresh {
				require.Zero(t, refreshes)
				return
			}
			// A fifth of 5 s is the margin: one refresh every 4 seconds.
			require.InDelta(t, seconds/4, refreshes, 1, "one refresh per token lifetime, not per request")
		})
	}
}

// TestRefreshNeverReusesAResultThatNeedsRefreshing: a provider that does
// not rotate refresh tokens, with 30-second access tokens, makes every
// refresh of a login with one refresh token, within the minute that
// refresh results are kept for (in the process, and in a shared session
// store for the other replicas). Each refresh still gets new tokens: the
// app is never handed an access token the provider has expired.
func TestRefreshNeverReusesAResultThatNeedsRefreshing(t *testing.T) {
	t.Parallel()
	for name, configure := range map[string]func(*httpoidc.Config){
		"in the process":       nil,
		"shared session store": func(c *httpoidc.Config) { c.SessionStore = memstore.NewWithCleanupInterval(0) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, configure, oidctest.WithAccessTokenTTL(30*time.Second), oidctest.WithoutRefreshTokenRotation())
			h.login(h.client)
			refreshToken := h.me(h.client)["refresh_token"]
			tokenCalls := h.op.Requests(oidctest.EndpointToken)
			const seconds = 150
			for range seconds / 3 {
				h.op.Advance(3 * time.Second)
				me := h.me(h.client)
				require.Equal(t, refreshToken, me["refresh_token"], "the provider does not rotate")
				req, err := http.NewRequest(http.MethodGet, h.op.URL+"/userinfo", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+me["access_token"].(string))
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, "the app's access token is expired at %s", h.op.Now())
			}
			// A fifth of 30 s is the margin: one refresh every 24 seconds.
			require.InDelta(t, seconds/24, h.op.Requests(oidctest.EndpointToken)-tokenCalls, 1)
		})
	}
}

// TestProfileIsEachRequestsOwnAfterRefresh: requests that share one
// refresh each get their own User.Profile, so a handler that writes to it
// races no other request, nor the saving of the session (run with -race).
func TestProfileIsEachRequestsOwnAfterRefresh(t *testing.T) {
	h := newHarness(t, nil)
	var leaked atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/", testApp(h.oc))
	mux.Handle("/mark", h.oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		if _, found := u.Profile["mark"]; found {
			leaked.Add(1)
		}
		u.Profile["mark"] = r.URL.Query().Get("i")
		w.Write([]byte("marked"))
	})))
	h.handler.Store(h.oc.Handler(mux))
	h.login(h.client)
	h.op.Advance(2 * time.Hour)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)

	const parallel = 12
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/mark?i="+string(rune('a'+i)), nil)
			req.Header.Set("Accept", "application/json")
			resp, err := h.client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken), "the requests shared one refresh")
	require.Zero(t, leaked.Load(), "a request saw another's change to its Profile")
	require.NotContains(t, h.me(h.client)["profile"], "mark", "a handler's change is not stored")
}

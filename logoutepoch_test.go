package httpoidc_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

// deliverLogoutToken posts a back-channel logout token to the app as the
// provider does, without the browser's cookies.
func (h *harness) deliverLogoutToken(token string) (*http.Response, string) {
	return h.send(http.DefaultClient, http.MethodPost, "/backchannel-logout", url.Values{"logout_token": {token}})
}

// postLogoutToken delivers a back-channel logout token the app accepts.
func postLogoutToken(t *testing.T, h *harness, token string) {
	resp, body := h.deliverLogoutToken(token)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}

// TestSubjectLogoutEndsEverySession: a logout token naming only the user
// ends all of that user's sessions, however many (issue 11, finding 4:
// the per-user index kept 20), and later logins work.
func TestSubjectLogoutEndsEverySession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	browsers := make([]*http.Client, 25)
	for i := range browsers {
		browsers[i] = newBrowser(t)
		h.login(browsers[i])
	}
	postLogoutToken(t, h, h.op.LogoutToken("app", "alice", ""))
	for i, b := range browsers {
		require.False(t, h.loggedIn(b), "session %d survived the logout", i)
	}
	h.login(browsers[0])
	require.True(t, h.loggedIn(browsers[0]), "a login after the logout lasts")
}

// TestSessionLogoutEndsOnlyThatSession: a logout token with a sid ends the
// logins of that provider session, not the user's other ones.
func TestSessionLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	other := newBrowser(t)
	h.login(h.client)
	h.login(other)
	sid := jwtClaims(t, h.me(h.client)["id_token"].(string))["sid"].(string)
	require.NotEqual(t, sid, jwtClaims(t, h.me(other)["id_token"].(string))["sid"])
	postLogoutToken(t, h, h.op.LogoutToken("app", "", sid))
	require.False(t, h.loggedIn(h.client))
	require.True(t, h.loggedIn(other))
}

// refreshGate holds refresh grants on their way to the provider until the
// test lets them go.
type refreshGate struct {
	entered chan struct{}
	release chan struct{}
}

func (g *refreshGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/token") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "grant_type=refresh_token") {
			g.entered <- struct{}{}
			<-g.release
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestLogoutWinsOverConcurrentRefresh: a request that is refreshing the
// tokens when the user is logged out does not bring the login back when
// it saves the session (issue 11, finding 3).
func TestLogoutWinsOverConcurrentRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		logout func(t *testing.T, h *harness, sid string)
	}{
		{"back-channel by sid", func(t *testing.T, h *harness, sid string) {
			postLogoutToken(t, h, h.op.LogoutToken("app", "", sid))
		}},
		{"back-channel by sub", func(t *testing.T, h *harness, sid string) {
			postLogoutToken(t, h, h.op.LogoutToken("app", "alice", ""))
		}},
		{"logout in the same browser", func(t *testing.T, h *harness, sid string) {
			resp, err := clickGet(noRedirects(h.client), h.app.URL+"/logout")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := &refreshGate{entered: make(chan struct{}), release: make(chan struct{})}
			h := newHarness(t, func(c *httpoidc.Config) {
				c.HTTPClient = &http.Client{Transport: gate, Timeout: 10 * time.Second}
			})
			h.login(h.client)
			sid := jwtClaims(t, h.me(h.client)["id_token"].(string))["sid"].(string)
			h.op.Advance(2 * time.Hour)

			inFlight := make(chan int, 1)
			go func() {
				resp, err := h.client.Do(jsonRequest(t, h.app.URL+"/me"))
				if err != nil {
					inFlight <- 0
					return
				}
				resp.Body.Close()
				inFlight <- resp.StatusCode
			}()
			<-gate.entered // the refresh is on its way to the provider
			tt.logout(t, h, sid)
			close(gate.release)
			require.Equal(t, http.StatusUnauthorized, <-inFlight, "the request in flight ends logged out")
			require.False(t, h.loggedIn(h.client), "the refreshed session did not come back")
		})
	}
}

func jsonRequest(t *testing.T, target string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	return req
}

// TestSessionsFromEarlierReleasesStayReadable: a session stored by a
// release before logout epochs and pending-login cookies (pending logins
// inside, no login ID, no epochs) still logs its user in, and a logout
// still ends it.
func TestSessionsFromEarlierReleasesStayReadable(t *testing.T) {
	h := newHarness(t, nil)
	storeOldSession(t, h, h.client, `"sub":"alice","sid":"old-sid","profile":{"email":"alice@example.com"},"at":"old-access-token"`)

	require.True(t, h.loggedIn(h.client))
	require.Equal(t, "old-access-token", h.me(h.client)["access_token"])
	postLogoutToken(t, h, h.op.LogoutToken("app", "alice", ""))
	require.False(t, h.loggedIn(h.client))
}

// storeOldSession gives client a session as an earlier release stored it,
// with a login of the given members that has no ID of its own.
func storeOldSession(t *testing.T, h *harness, client *http.Client, login string) {
	sessions := h.oc.Sessions()
	ctx, err := sessions.Load(context.Background(), "")
	require.NoError(t, err)
	expiry := h.op.Now().Add(time.Hour).Unix()
	sessions.Put(ctx, "httpoidc", fmt.Sprintf(`{"v":1,"pending":[{"state":"S","nonce":"N","verifier":"V","next":"/","created":1}],`+
		`"login":{%s,"exp":%d}}`, login, expiry))
	token, _, err := sessions.Commit(ctx)
	require.NoError(t, err)
	setCookie(t, h, client, "httpoidc_session", token)
}

// TestOldSessionLogoutEndsOnlyThatSession: logins stored by an earlier
// release without a provider session ID have no logout record of their
// own until they are next used, so logging one of them out first thing
// must not end the others.
func TestOldSessionLogoutEndsOnlyThatSession(t *testing.T) {
	h := newHarness(t, nil)
	bob := newBrowser(t)
	storeOldSession(t, h, h.client, `"sub":"alice","profile":{"email":"alice@example.com"},"at":"alice-access-token"`)
	storeOldSession(t, h, bob, `"sub":"bob","profile":{"email":"bob@example.com"},"at":"bob-access-token"`)

	resp, _ := h.get(h.client, "/logout", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, h.loggedIn(h.client))
	require.True(t, h.loggedIn(bob), "another old session outlives the logout")
}

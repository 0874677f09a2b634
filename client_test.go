package httpoidc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// apiAsUser mounts /call, which calls api with oc.Client and answers with
// what api answered, or the client's error and whether it is
// ErrLoginEnded.
func apiAsUser(h *harness, api string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/call", callAPI(h, api))
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)
}

func callAPI(h *harness, api string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := h.oc.Client(r).Get(api)
		if err != nil {
			var ended *httpoidc.LoginEndedError
			reason := ""
			if errors.As(err, &ended) {
				reason = string(ended.Reason)
			}
			http.Error(w, fmt.Sprintf("ended=%t reason=%s", errors.Is(err, httpoidc.ErrLoginEnded), reason), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprint(w, string(body))
	}
}

// newAPI is a resource server that echoes the bearer token it receives.
func newAPI(t *testing.T) *httptest.Server {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	t.Cleanup(api.Close)
	return api
}

func TestClientSendsTheUsersToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	apiAsUser(h, newAPI(t).URL)
	h.login(h.client)
	_, body := h.get(h.client, "/call")
	require.Equal(t, h.me(h.client)["access_token"], body)
}

func TestClientRefreshesAndSavesTokens(t *testing.T) {
	var refreshes atomic.Int32
	h := newHarness(t, func(c *httpoidc.Config) {
		c.OnRefresh = func(context.Context, *httpoidc.User) { refreshes.Add(1) }
	})
	// The API call is the only thing that looks at the token: the page
	// itself needs no login.
	api := newAPI(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/call-twice", func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		before := u.AccessToken
		h.op.Advance(59 * time.Minute)
		var got []string
		for range 2 {
			resp, err := h.oc.Client(r).Get(api.URL)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = append(got, string(body))
		}
		fmt.Fprintf(w, "%t %t", got[0] != before, got[0] == got[1])
	})
	mux.HandleFunc("/call", callAPI(h, api.URL))
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)
	h.login(h.client)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)

	_, body := h.get(h.client, "/call-twice")
	require.Equal(t, "true true", body, "refreshed once")
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
	require.Equal(t, int32(1), refreshes.Load())

	// Saved in the session: the next request sees the new token and does
	// not refresh again.
	me := h.me(h.client)
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
	_, body = h.get(h.client, "/call")
	require.Equal(t, me["access_token"], body)
}

func TestClientWhenLoginHasEnded(t *testing.T) {
	t.Run("anonymous", func(t *testing.T) {
		h := newHarness(t, nil)
		apiAsUser(h, newAPI(t).URL)
		resp, body := h.get(h.client, "/call")
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		require.Equal(t, "ended=true reason=\n", body)
	})
	t.Run("refresh refused", func(t *testing.T) {
		var reason atomic.Value
		h := newHarness(t, func(c *httpoidc.Config) {
			c.OnLogout = func(_ context.Context, _ *httpoidc.User, r httpoidc.LogoutReason) { reason.Store(r) }
		})
		apiAsUser(h, newAPI(t).URL)
		h.login(h.client)
		h.op.Revoke(h.me(h.client)["refresh_token"].(string))
		// The middleware refreshes at 59 minutes too; the client's own
		// refresh is what a long request sees.
		mux := http.NewServeMux()
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			h.op.Advance(2 * time.Hour)
			_, err := h.oc.Client(r).Get("http://127.0.0.1:1/never-called")
			var ended *httpoidc.LoginEndedError
			require.ErrorAs(t, err, &ended)
			fmt.Fprint(w, ended.Reason)
		})
		mux.Handle("/", testApp(h.oc))
		h.serve(mux)
		_, body := h.get(h.client, "/slow")
		require.Equal(t, string(httpoidc.LogoutRefreshRefused), body)
		require.Equal(t, httpoidc.LogoutRefreshRefused, reason.Load())
		require.False(t, h.loggedIn(h.client))
	})
	t.Run("provider down and token expired", func(t *testing.T) {
		h := newHarness(t, nil)
		h.login(h.client)
		mux := http.NewServeMux()
		mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
			h.op.SetFault(oidctest.FaultTokenEndpointError, true)
			h.op.Advance(2 * time.Hour)
			_, err := h.oc.Client(r).Get("http://127.0.0.1:1/never-called")
			fmt.Fprintf(w, "%t %t", errors.Is(err, httpoidc.ErrProviderUnavailable), errors.Is(err, httpoidc.ErrLoginEnded))
		})
		h.serve(mux)
		_, body := h.get(h.client, "/down")
		require.Equal(t, "true false", body)
	})
}

func TestClientWhenDisabled(t *testing.T) {
	t.Parallel()
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, TestingProfile: map[string]any{"sub": "tester"}})
	require.NoError(t, err)
	api := newAPI(t)
	app := httptest.NewServer(oc.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := httpoidc.UserFrom(r.Context()).TokenSource().Token()
		require.NoError(t, err)
		resp, err := oc.Client(r).Get(api.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprint(w, tok.AccessToken+" "+string(body))
	})))
	defer app.Close()
	resp, err := http.Get(app.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, "testing-access-token testing-access-token", string(body))
}

func TestClientKeepsTheTokenOnItsHost(t *testing.T) {
	var leaked atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	redirecting := http.NewServeMux()
	redirecting.Handle("/same", http.RedirectHandler("/echo", http.StatusFound))
	redirecting.Handle("/away", http.RedirectHandler(elsewhere.URL+"/steal", http.StatusFound))
	redirecting.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	})
	apiSrv := httptest.NewServer(redirecting)
	defer apiSrv.Close()

	h := newHarness(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/call/", func(w http.ResponseWriter, r *http.Request) {
		resp, err := h.oc.Client(r).Get(apiSrv.URL + "/" + strings.TrimPrefix(r.URL.Path, "/call/"))
		if err != nil {
			fmt.Fprint(w, "error: ", err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprint(w, string(body))
	})
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)
	h.login(h.client)

	_, body := h.get(h.client, "/call/same")
	require.Equal(t, h.me(h.client)["access_token"], body, "a redirect on the same host keeps the token")
	_, body = h.get(h.client, "/call/away")
	require.Contains(t, body, "does not follow a redirect to http://"+strings.TrimPrefix(elsewhere.URL, "http://"))
	require.Nil(t, leaked.Load(), "the other host was never called")
}

func TestClientFromConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	api := newAPI(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/fan-out", func(w http.ResponseWriter, r *http.Request) {
		h.op.Advance(59 * time.Minute)
		tokens := make([]string, 8)
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Go(func() {
				resp, err := h.oc.Client(r).Get(api.URL)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				tokens[i] = string(body)
			})
		}
		wg.Wait()
		fmt.Fprint(w, strings.Join(tokens, " "))
	})
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)
	h.login(h.client)
	tokenCalls := h.op.Requests(oidctest.EndpointToken)

	_, body := h.get(h.client, "/fan-out")
	tokens := strings.Fields(body)
	require.Len(t, tokens, 8, body)
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok, "every goroutine sent the one refreshed token")
	}
	require.Equal(t, tokenCalls+1, h.op.Requests(oidctest.EndpointToken))
	require.Equal(t, tokens[0], h.me(h.client)["access_token"])
}

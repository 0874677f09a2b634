package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

// loginPage is a provider as the browser test drives it.
type loginPage struct {
	name string
	// start starts the provider for an app at appURL and returns the URL
	// its login form is under (the issuer, or Hydra's login app) and the
	// app's client_secrets.json.
	start func(t *testing.T, appURL string) (formURL string, secrets []byte)
	// fill types the credentials into the provider's login form.
	fill func(user, password string) chromedp.Action[chromedp.Void]
	// submit clicks the login form's submit button.
	submit chromedp.Action[chromedp.Void]
	// confirmLogout answers the provider's "sign out?" page; nil when the
	// provider asks nothing.
	confirmLogout chromedp.Action[chromedp.Void]
}

var loginPages = []loginPage{
	{
		name: "oidctest",
		start: func(t *testing.T, appURL string) (string, []byte) {
			// No AutoLogin: the browser must see oidctest's own page.
			op := oidctest.NewServer()
			t.Cleanup(op.Close)
			op.AddClient(oidctest.Client{ID: "basic", Secret: "basic-secret",
				RedirectURIs: []string{appURL + "/authorize"}, PostLogoutRedirectURIs: []string{appURL + "/logout"}})
			op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
			return op.URL, op.ClientSecrets("basic")
		},
		fill: func(user, _ string) chromedp.Action[chromedp.Void] {
			return chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user)
		},
		submit: chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	},
	{
		name: "oidc-provider",
		start: func(t *testing.T, appURL string) (string, []byte) {
			p := testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{basicClient(appURL)}})
			return p.Issuer, webSecrets(t, p, p.Client(t, "basic"))
		},
		fill: func(user, password string) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.SendKeys(chromedp.ID("username"), user),
				chromedp.SendKeys(chromedp.ID("password"), password),
			)
		},
		submit:        chromedp.Click(chromedp.ID("submit")),
		confirmLogout: chromedp.Click(chromedp.ID("logout-yes")),
	},
	{
		name: "Ory Hydra",
		start: func(t *testing.T, appURL string) (string, []byte) {
			h := testenv.StartHydra(t, testenv.HydraConfig{Clients: []testenv.Client{basicClient(appURL)}})
			return h.LoginURL, webSecrets(t, h.Provider, h.Client(t, "basic"))
		},
		fill: func(user, password string) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user),
				chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			)
		},
		submit: chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	},
	{
		name: "zitadel example OP",
		start: func(t *testing.T, appURL string) (string, []byte) {
			p := testenv.StartZitadel(t, testenv.ZitadelConfig{Clients: []testenv.Client{basicClient(appURL)}})
			return p.Issuer, webSecrets(t, p, p.Client(t, "basic"))
		},
		fill: func(user, password string) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.SendKeys(chromedp.ID("username"), user),
				chromedp.SendKeys(chromedp.ID("password"), password),
			)
		},
		submit: chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	},
}

// basicClient is the client examples/basic registers, with its redirect
// URIs at appURL.
func basicClient(appURL string) testenv.Client {
	return testenv.Client{
		ID: "basic", RedirectURIs: []string{appURL + "/authorize"},
		PostLogoutRedirectURIs: []string{appURL + "/logout"}, AuthMethod: testenv.ClientSecretPost,
	}
}

// webSecrets is the client_secrets.json for client at p.
func webSecrets(t *testing.T, p *testenv.Provider, client testenv.Client) []byte {
	t.Helper()
	secrets, err := json.Marshal(map[string]any{"web": secretsFor(p, client)})
	require.NoError(t, err)
	return secrets
}

// TestBrowserBasicExample: a real browser logs in to examples/basic at each
// provider's own login page, keeps the session across a reload, is not
// logged out by a link on another site, and logs out through /logout.
func TestBrowserBasicExample(t *testing.T) {
	bin := testenv.BuildCommand(t, "examples/basic")
	for _, lp := range loginPages {
		t.Run(lp.name, func(t *testing.T) {
			// The app's URLs must be registered before it runs.
			addr := testenv.FreeAddress(t)
			appURL := "http://" + addr
			formURL, secrets := lp.start(t, appURL)
			startBasic(t, bin, addr, secrets)
			tab := testenv.StartChromium(t)
			ctx, cancel := context.WithTimeout(tab, 30*time.Second)
			defer cancel()

			// An anonymous visit to /login lands on the provider's form.
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(appURL+"/login")))
			requireLocation(t, ctx, formURL+"/")
			require.NoError(t, chromedp.Do(ctx, lp.fill("alice", "alice-password")))
			resp, err := chromedp.RunResponse(ctx, lp.submit)
			require.NoError(t, err)
			require.Equal(t, appURL+"/login", resp.URL)
			require.EqualValues(t, 200, resp.Status)
			require.Equal(t, "Welcome alice@example.com", pageText(t, ctx))

			// The session survives a reload and covers the other pages.
			require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
			require.Equal(t, "Welcome alice@example.com", pageText(t, ctx))
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(appURL+"/")))
			require.Equal(t, "Welcome alice@example.com", pageText(t, ctx))

			// A link to /logout on another site does not log out: the
			// browser gets a page whose button does.
			otherSite := linkingSite(t, appURL+"/logout")
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(otherSite)))
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout-link"))))
			require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("logout-confirm"))))
			requireLocation(t, ctx, appURL+"/logout")
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(appURL+"/")))
			require.Equal(t, "Welcome alice@example.com", pageText(t, ctx), "still logged in")

			// Log out with that button at one provider, by typing the
			// URL at the other.
			if lp.name == "oidctest" {
				require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(otherSite)))
				require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout-link"))))
				require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("logout-confirm"))))
				_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("logout-confirm")))
				require.NoError(t, err)
			} else {
				require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(appURL+"/logout")))
			}
			if lp.confirmLogout != nil {
				requireLocation(t, ctx, formURL+"/")
				_, err := chromedp.RunResponse(ctx, lp.confirmLogout)
				require.NoError(t, err)
			}
			requireLocation(t, ctx, appURL+"/")
			require.Equal(t, "Not logged in", pageText(t, ctx))

			// The provider's session is over too: its form is shown again.
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(appURL+"/login")))
			requireLocation(t, ctx, formURL+"/")
			require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`input[name=username]`))))
		})
	}
}

// linkingSite serves, on another loopback address than the app (another
// site), a page with a link to target, and returns its URL.
func linkingSite(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><a id="logout-link" href="%s">Win a prize</a></body></html>`, html.EscapeString(target))
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// requireLocation checks that the tab shows a page whose URL starts with prefix.
func requireLocation(t *testing.T, ctx context.Context, prefix string) {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	if !strings.HasPrefix(loc, prefix) {
		// StartChromium saves a screenshot of this page as the test ends.
		t.Fatalf("the browser is at %s, want %s…\npage: %s", loc, prefix, pageText(t, ctx))
	}
}

// pageText is what the tab shows, as a person would read it.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	return strings.TrimSpace(text)
}

// startBasic runs the examples/basic binary the way its documentation says,
// configured by the environment alone, and stops it when the test ends.
func startBasic(t *testing.T, bin, addr string, secrets []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "client_secrets.json")
	require.NoError(t, os.WriteFile(file, secrets, 0o600))
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		// Only this test's settings reach the app.
		if !strings.HasPrefix(kv, "OIDC_") && !strings.HasPrefix(kv, "LISTEN_ADDR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OIDC_CLIENT_SECRETS="+file, "LISTEN_ADDR="+addr)
	firstLine := make(chan string, 1)
	stdout := &output{firstLine: firstLine}
	stderr := &output{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("examples/basic output:\n%s%s", stdout, stderr)
		}
	})
	select {
	case line := <-firstLine:
		require.Equal(t, "listening on http://"+addr, line)
	case <-exited:
		t.Fatalf("examples/basic exited before listening (%v):\n%s", waitErr, stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("examples/basic did not listen within 20s:\n%s", stderr)
	}
}

// output collects a child process's output, written by exec's copying
// goroutine while the test reads it, and reports its first line.
type output struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	firstLine chan string // nil: not wanted
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if o.firstLine != nil {
		if line, _, ok := strings.Cut(o.buf.String(), "\n"); ok {
			o.firstLine <- line
			o.firstLine = nil
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

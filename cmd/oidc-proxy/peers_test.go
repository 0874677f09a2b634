package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

// haproxyConfig is the guide's /etc/haproxy/haproxy.cfg adapted to a test:
// loopback addresses with free ports, a certificate made for the test, and
// no chroot, user, daemon, syslog or stats socket. The frontends and
// backends are the guide's, line for line.
const haproxyConfig = `
defaults
    mode http
    timeout connect 5000
    timeout client  50000
    timeout server  50000

frontend http-frontend
    bind {{HTTP}}
    redirect scheme https code 301 if !{ ssl_fc }

frontend https-frontend
    bind {{HTTPS}} ssl crt {{CERT}}
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Host %[req.hdr(Host)]
    http-request set-header X-Forwarded-For %[src]

    acl oauth_path path_beg /oauth2
    use_backend oauth2-backend if oauth_path
    default_backend oauth2-backend

backend oauth2-backend
    server oauth2-proxy {{PROXY}} check

backend app-backend
    server app {{APP}} check
`

// behindHAProxy is oidc-proxy, started with the guide's configuration
// file and start line, behind HAProxy terminating TLS.
type behindHAProxy struct {
	origin string // https://127.0.0.1:PORT, HAProxy's TLS frontend
	plain  string // http://127.0.0.1:PORT, the redirecting frontend
	cert   *testenv.TestCertificate
}

// startBehindHAProxy starts the upstream, HAProxy and oidc-proxy; issuer
// gives the provider's issuer and the proxy's client ID and secret once
// the origin, which the provider must know, is known.
func startBehindHAProxy(t *testing.T, provider func(origin string) (issuer, clientID, clientSecret string)) *behindHAProxy {
	t.Helper()
	app := startUpstream(t)
	cert := testenv.NewTestCertificate(t)
	l := listen(t)
	https, http := testenv.FreeAddress(t), testenv.FreeAddress(t)
	b := &behindHAProxy{origin: "https://" + https, plain: "http://" + http, cert: cert}
	issuer, clientID, secret := provider(b.origin)
	config := strings.NewReplacer("{{HTTP}}", http, "{{HTTPS}}", https, "{{CERT}}", cert.PEMFile,
		"{{PROXY}}", l.Addr().String(), "{{APP}}", strings.TrimPrefix(app.URL, "http://")).Replace(haproxyConfig)
	cfg := guideConfig(t, map[string]string{
		"<AUTH0_CLIENT_ID>": clientID, "<AUTH0_CLIENT_SECRET>": secret,
		"<REDIRECT_URL>": b.origin + "/oauth2/callback", "<ISSUER>": issuer, "<UPSTREAM>": app.URL + "/",
		"<HTTP_ADDRESS>": l.Addr().String(),
	})
	startProxy(t, l, append([]string{"--config", cfg}, guideStartLine...), nil)
	testenv.StartHAProxy(t, config, https, http)
	return b
}

// browser is an http.Client with a cookie jar that trusts the test
// certificate.
func (b *behindHAProxy) browser(t *testing.T) *http.Client {
	return &http.Client{Jar: newJar(t), Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: b.cert.ClientTLS()}}
}

// stopAt returns a copy of client that does not follow a redirect to a
// path of the application.
func stopAt(client *http.Client, origin, path string) *http.Client {
	c := *client
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), origin+path) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c
}

// sameOrigin are the headers a browser sends on a link from the
// application's own pages.
var sameOrigin = http.Header{"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"navigate"}, "Accept": {"text/html"}}

// signOut follows the application's sign-out link, with rd /bye, using
// client, and returns the answer that stopped it.
func (b *behindHAProxy) signOut(t *testing.T, client *http.Client) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.origin+"/oauth2/sign_out?rd=%2Fbye", nil)
	require.NoError(t, err)
	req.Header = sameOrigin.Clone()
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// requireSignedOut checks that client's session is gone: /oauth2/auth
// answers 401.
func (b *behindHAProxy) requireSignedOut(t *testing.T, client *http.Client) {
	t.Helper()
	resp, err := stopAt(client, b.origin, "").Get(b.origin + "/oauth2/auth")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func (b *behindHAProxy) requireIdentity(t *testing.T, client *http.Client) {
	t.Helper()
	spoofed := http.Header{
		"X-Forwarded-User": {"mallory"}, "X-Forwarded-Email": {"mallory@example.com"},
		"X_Forwarded_Groups": {"admins"}, "X-Forwarded-Access-Token": {"stolen"},
	}
	status, e := getJSON(t, client, b.origin+"/page?q=1", spoofed)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "/page?q=1", e.URI)
	require.Equal(t, []string{"alice"}, e.Header.Values("X-Forwarded-User"))
	require.Equal(t, []string{"alice@example.com"}, e.Header.Values("X-Forwarded-Email"))
	require.Equal(t, "https", e.Header.Get("X-Forwarded-Proto"), "HAProxy's header, from a trusted address")
	require.Equal(t, strings.TrimPrefix(b.origin, "https://"), e.Header.Get("X-Forwarded-Host"))
	require.Equal(t, "127.0.0.1, 127.0.0.1", e.Header.Get("X-Forwarded-For"))
	require.NotEqual(t, "stolen", e.Header.Get("X-Forwarded-Access-Token"))
	require.NotEmpty(t, e.Header.Get("X-Forwarded-Access-Token"))
	for name := range e.Header {
		require.NotContains(t, strings.ToLower(name), "x_forwarded", "spoofed %s reached the app", name)
	}
	require.NotContains(t, e.Header.Get("Cookie"), "_oauth2_proxy", "the session cookie stays with the proxy")
}

func TestProxyBehindHAProxyWithOIDCTest(t *testing.T) {
	var op *oidctest.Server
	b := startBehindHAProxy(t, func(origin string) (string, string, string) {
		op = newOP(t, origin)
		op.AutoLogin("alice")
		return op.URL, "proxy", "proxy-secret"
	})
	client := b.browser(t)

	// HAProxy's plain frontend sends browsers to TLS, as in the guide.
	resp, err := stopAt(client, "https://", "").Get(b.plain + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "https://"))

	b.requireIdentity(t, client)
	jar, _ := url.Parse(b.origin)
	for _, c := range client.Jar.Cookies(jar) {
		require.NotEqual(t, "_oauth2_proxy", c.Value)
	}

	// Logging out from the application's page ends the session; oidctest's
	// AutoLogin would log alice in again past rd, so stop there.
	resp = b.signOut(t, stopAt(client, b.origin, "/bye"))
	require.Equal(t, "/bye", resp.Header.Get("Location"))
	b.requireSignedOut(t, client)
}

func TestProxyBehindHAProxyWithOIDCProvider(t *testing.T) {
	var p *testenv.Provider
	b := startBehindHAProxy(t, func(origin string) (string, string, string) {
		p = testenv.StartOIDCProvider(t, testenv.ProviderConfig{Clients: []testenv.Client{{
			ID: "proxy", RedirectURIs: []string{origin + "/oauth2/callback"},
			PostLogoutRedirectURIs: []string{origin + "/oauth2/sign_out"}, AuthMethod: testenv.ClientSecretPost,
		}}})
		return p.Issuer, "proxy", p.Client(t, "proxy").Secret
	})
	client := b.browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	resp, err := p.Login(ctx, client, b.origin+"/first", "alice", "alice-password")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, b.origin+"/first", resp.Request.URL.String())
	b.requireIdentity(t, client)

	// Sign out from the application's page, and confirm at the provider.
	resp = b.signOut(t, stopAt(client, p.Issuer, ""))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	endSession := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(endSession, p.Issuer), endSession)
	resp, err = p.ConfirmLogout(ctx, stopAt(client, b.origin, "/bye"), endSession)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/bye", resp.Header.Get("Location"), "back from the provider to rd")
	b.requireSignedOut(t, client)
}

func TestProxyChromiumThroughHAProxy(t *testing.T) {
	var op *oidctest.Server
	b := startBehindHAProxy(t, func(origin string) (string, string, string) {
		op = newOP(t, origin) // no AutoLogin: the browser fills in oidctest's form
		return op.URL, "proxy", "proxy-secret"
	})
	tab := testenv.StartChromium(t)
	ctx, cancel := context.WithTimeout(tab, 40*time.Second)
	defer cancel()
	// Chromium does not know the test's certificate authority.
	_, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
		return err
	}))
	require.NoError(t, err)

	text := func() string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(t, err)
		return s
	}
	// The app's address leads to the provider's login page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(b.origin+"/welcome"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`))))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, op.URL+"/"), loc)

	// Signing in there shows the application's page with the identity.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"),
		chromedp.Click(chromedp.CSS(`button[value=login]`)),
		chromedp.WaitVisible(chromedp.ID("user")),
	))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, b.origin+"/welcome", loc)
	require.Contains(t, text(), "user alice, email alice@example.com, proto https", text())

	// A WebSocket from the page reaches the application through HAProxy
	// and the proxy, with the user's identity.
	greeting, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise((resolve, reject) => {
		const ws = new WebSocket("wss://" + location.host + "/socket");
		ws.onmessage = (e) => { resolve(e.data); ws.close(); };
		ws.onerror = () => reject(new Error("WebSocket failed"));
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, "hello alice", greeting)

	// The sign-out link of the application's page ends the session: the
	// next page load goes to the provider's login page again.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`))))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, op.URL+"/"), fmt.Sprintf("%s: %s", loc, text()))
}

// nginxConfig protects the application with auth_request against
// /oauth2/auth, as oauth2-proxy's documentation configures nginx.
const nginxConfig = `
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen {{NGINX}};

        location /oauth2/ {
            proxy_pass       http://{{PROXY}};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        location = /oauth2/auth {
            proxy_pass       http://{{PROXY}};
            proxy_set_header Host $http_host;
            proxy_set_header Content-Length "";
            proxy_pass_request_body off;
        }
        location / {
            auth_request /oauth2/auth;
            error_page 401 = /oauth2/start?rd=$scheme://$http_host$request_uri;

            auth_request_set $user  $upstream_http_x_auth_request_user;
            auth_request_set $email $upstream_http_x_auth_request_email;
            auth_request_set $token $upstream_http_authorization;
            proxy_set_header X-User  $user;
            proxy_set_header X-Email $email;
            proxy_set_header X-Token $token;
            proxy_pass http://{{APP}};
        }
    }
}
`

func TestProxyNginxAuthRequest(t *testing.T) {
	app := startUpstream(t)
	l := listen(t)
	front := testenv.FreeAddress(t)
	origin := "http://" + front
	op := newOP(t, origin)
	op.AutoLogin("alice")
	cfg := guideConfigFor(t, origin, op.URL, app, l.Addr().String())
	startProxy(t, l, append([]string{"--config", cfg, "--cookie-secure=false", "--set-xauthrequest"}, guideStartLine...), nil)
	testenv.StartNginx(t, strings.NewReplacer("{{NGINX}}", front, "{{PROXY}}", l.Addr().String(),
		"{{APP}}", strings.TrimPrefix(app.URL, "http://")).Replace(nginxConfig), front)

	client := &http.Client{Jar: newJar(t), Timeout: 30 * time.Second}
	resp, err := stopAt(client, op.URL, "").Get(origin + "/page")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "401 from /oauth2/auth becomes a login")

	status, e := getJSON(t, client, origin+"/page?x=1", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "/page?x=1", e.URI, "back where the login started")
	require.Equal(t, "alice", e.Header.Get("X-User"))
	require.Equal(t, "alice@example.com", e.Header.Get("X-Email"))
	require.True(t, strings.HasPrefix(e.Header.Get("X-Token"), "Bearer ey"), "set_authorization_header")

	resp, err = client.Get(origin + "/oauth2/auth")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

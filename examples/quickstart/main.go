// Command quickstart shows httpoidc working with no set-up: it starts an
// embedded OpenID Provider (package oidctest, with a login page and demo
// users) and a small application that logs in against it exactly as it
// would against any provider, over HTTP.
//
//	go run ./examples/quickstart
//
// Then open the printed URL. Both servers listen on 127.0.0.1 only; Ctrl-C
// stops them.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func main() {
	appAddr := flag.String("addr", "127.0.0.1:8080", "address of the application")
	providerAddr := flag.String("provider-addr", "127.0.0.1:8081", "address of the embedded OpenID Provider")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := listenAndRun(ctx, *appAddr, *providerAddr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func listenAndRun(ctx context.Context, appAddr, providerAddr string, out io.Writer) error {
	appLn, err := net.Listen("tcp", appAddr)
	if err != nil {
		return fmt.Errorf("%w (another program uses the port? try -addr 127.0.0.1:0)", err)
	}
	providerLn, err := net.Listen("tcp", providerAddr)
	if err != nil {
		appLn.Close()
		return fmt.Errorf("%w (another program uses the port? try -provider-addr 127.0.0.1:0)", err)
	}
	return run(ctx, appLn, providerLn, out)
}

// demoUsers can log in at the embedded provider's login page.
var demoUsers = []oidctest.User{
	{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "email_verified": true, "name": "Alice Liddell", "groups": []any{"admins"}}},
	{Subject: "bob", Claims: map[string]any{"email": "bob@example.com", "email_verified": true, "name": "Bob Builder", "groups": []any{"staff"}}},
}

// run serves the provider and the application on the given listeners until
// ctx is done, then shuts both down.
func run(ctx context.Context, appLn, providerLn net.Listener, out io.Writer) error {
	appURL := "http://" + appLn.Addr().String()
	provider := oidctest.NewHandler("http://" + providerLn.Addr().String())
	for _, u := range demoUsers {
		provider.AddUser(u)
	}
	provider.AddClient(oidctest.Client{
		ID:                     "quickstart",
		Secret:                 rand.Text(),
		RedirectURIs:           []string{appURL + "/authorize"},
		PostLogoutRedirectURIs: []string{appURL + "/logout"},
		AccessTokenFormat:      oidctest.JWT,
	})
	providerSrv := &http.Server{Handler: provider, ReadHeaderTimeout: 10 * time.Second}
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return serve(providerSrv, providerLn) })

	secrets, err := httpoidc.ParseClientSecrets(provider.ClientSecrets("quickstart"))
	if err != nil {
		return err
	}
	oc, err := httpoidc.New(ctx, httpoidc.Config{
		ClientSecrets: secrets,
		Scopes:        []string{"openid", "email", "profile", "groups"},
		Logger:        slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		providerSrv.Close()
		appLn.Close()
		return err
	}
	defer oc.Close()
	appSrv := &http.Server{Handler: oc.Handler(routes(oc, appURL)), ReadHeaderTimeout: 10 * time.Second}
	// Printed before serving: once requests come in, the logger writes to
	// out too.
	fmt.Fprintf(out, "httpoidc quickstart: open %s/ and log in as alice or bob (provider: %s)\n", appURL, provider.URL)
	group.Go(func() error { return serve(appSrv, appLn) })

	group.Go(func() error {
		<-ctx.Done()
		return errors.Join(shutdown(appSrv), shutdown(providerSrv))
	})
	return group.Wait()
}

// shutdown lets srv finish its requests for up to two seconds, then closes
// the connections left: a browser keeps connections it opened in advance
// for requests it may never send (Chromium's preconnect), which would
// otherwise hold the shutdown until its deadline and make it fail.
func shutdown(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return srv.Close()
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// homePage is the application's one page. It shares its look with the
// library's error pages and oidctest's login page, so the demo reads as one
// product.
var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>httpoidc quickstart</title>
<style>
body{margin:0;background:#f4f6fa;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:34rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #dfe3eb;border-radius:12px;box-shadow:0 1px 3px rgb(0 0 0/.06)}
.brand{margin:0 0 1.5rem;color:#5b6675;font-size:.85rem;letter-spacing:.04em;text-transform:uppercase}
h1{margin:0 0 .5rem;font-size:1.5rem}
p{margin:0 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1.5rem}
dt{color:#5b6675}
dd{margin:0}
pre{margin:0 0 1.5rem;padding:.75rem 1rem;border-radius:8px;background:#f4f6fa;font-size:.8rem;white-space:pre-wrap;word-break:break-all}
a.button{display:inline-block;padding:.6rem 1.2rem;border:1px solid #2556d8;border-radius:8px;background:#2556d8;color:#fff;font-weight:600;text-decoration:none}
a.button.secondary{background:#fff;color:#2556d8}
a.button:focus-visible{outline:3px solid #9db8f5;outline-offset:2px}
.notice{padding:.75rem 1rem;border:1px solid #a9dcc0;border-radius:8px;background:#effaf4;color:#1d5e3a}
.hint{color:#5b6675;font-size:.9rem}
</style></head>
<body><main>
<p class="brand">httpoidc quickstart</p>
{{if .LoggedOut}}<p id="notice" class="notice" role="status">You have been logged out.</p>
{{end}}{{if .User.LoggedIn}}<h1 id="welcome">Welcome {{.User.Name}}</h1>
<dl><dt>Email</dt><dd>{{.User.Email}}</dd><dt>Groups</dt><dd>{{range $i, $g := .User.Groups}}{{if $i}}, {{end}}{{$g}}{{end}}</dd></dl>
<p>Call the API with your access token:</p>
<pre id="curl">curl -H 'Authorization: Bearer {{.User.AccessToken}}' {{.AppURL}}/api</pre>
<a class="button secondary" href="/logout?next=/logged-out">Log out</a>
{{else}}<h1 id="welcome">Not logged in</h1>
<p>Log in at the embedded OpenID Provider to see your profile and call the API.</p>
<p><a class="button" href="/login">Log in</a></p>
<p class="hint">Demo users: alice and bob, no password.</p>
{{end}}</main></body></html>
`))

// noticeCookie carries "you have been logged out" from the end of the
// logout to the next page, once: the session is gone by then, and a query
// parameter would show the notice again on every reload.
const noticeCookie = "quickstart_notice"

func routes(oc *httpoidc.OpenIDConnect, appURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		_, err := r.Cookie(noticeCookie)
		loggedOut := err == nil && !u.LoggedIn()
		if err == nil {
			http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = homePage.Execute(w, struct {
			User      *httpoidc.User
			AppURL    string
			LoggedOut bool
		}{u, appURL, loggedOut})
	})
	mux.Handle("GET /login", oc.RequireLogin(http.RedirectHandler("/", http.StatusFound)))
	// The logout ends here (/logout?next=/logged-out), after the provider.
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		if !httpoidc.UserFrom(r.Context()).LoggedIn() {
			http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: "logged-out", Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		http.Redirect(w, r, "/", http.StatusFound)
	})
	mux.Handle("GET /api", oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"message": "Welcome " + tok.Subject, "sub": tok.Subject, "scopes": tok.Scopes})
	})))
	return mux
}

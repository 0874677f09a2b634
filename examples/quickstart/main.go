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
	group.Go(func() error { return serve(appSrv, appLn) })
	fmt.Fprintf(out, "httpoidc quickstart: open %s/ and log in as alice or bob (provider: %s)\n", appURL, provider.URL)

	group.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(appSrv.Shutdown(shutdown), providerSrv.Shutdown(shutdown))
	})
	return group.Wait()
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>httpoidc quickstart</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;white-space:pre-wrap;word-break:break-all}</style></head>
<body><h1>httpoidc quickstart</h1>
{{if .User.LoggedIn}}
<p id="welcome">Welcome {{.User.Name}} ({{.User.Email}})</p>
<p>Groups: {{range .User.Groups}}{{.}} {{end}}</p>
<p>Try the API with your access token:</p>
<pre id="curl">curl -H 'Authorization: Bearer {{.User.AccessToken}}' {{.AppURL}}/api</pre>
<p><a href="/logout">Log out</a></p>
{{else}}
<p id="welcome">Not logged in.</p>
<p><a href="/login">Log in</a> (as alice or bob)</p>
{{end}}
</body></html>
`))

func routes(oc *httpoidc.OpenIDConnect, appURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = homePage.Execute(w, struct {
			User   *httpoidc.User
			AppURL string
		}{httpoidc.UserFrom(r.Context()), appURL})
	})
	mux.Handle("GET /login", oc.RequireLogin(http.RedirectHandler("/", http.StatusFound)))
	mux.Handle("GET /api", oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"message": "Welcome " + tok.Subject, "sub": tok.Subject, "scopes": tok.Scopes})
	})))
	return mux
}

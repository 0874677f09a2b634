// Command basic is the example application of Flask-OIDC's documentation,
// written with httpoidc. It is configured only from the environment:
//
//	OIDC_CLIENT_SECRETS=client_secrets.json go run ./examples/basic
//
// Every OIDC_* variable of httpoidc.ConfigFromEnv applies; LISTEN_ADDR is
// the address to listen on (default 127.0.0.1:8080). /admin is only for
// members of ADMIN_GROUP (default admins), read from OIDC_GROUPS_CLAIM
// (default groups; add the groups scope to OIDC_SCOPES if the provider
// needs it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/httpoidc/httpoidc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

// run serves the application until ctx is done.
func run(ctx context.Context, out io.Writer) error {
	cfg, err := httpoidc.ConfigFromEnv()
	if err != nil {
		return err
	}
	oc, err := httpoidc.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer oc.Close()
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: oc.Handler(routes(oc)), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func routes(oc *httpoidc.OpenIDConnect) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if oc.UserLoggedIn(r) {
			fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Profile["email"])
			return
		}
		fmt.Fprint(w, "Not logged in")
	})
	mux.Handle("GET /login", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Profile["email"])
	})))
	mux.HandleFunc("GET /alt", func(w http.ResponseWriter, r *http.Request) {
		// This uses the user object from the request context instead.
		if u := httpoidc.UserFrom(r.Context()); u.LoggedIn() {
			fmt.Fprintf(w, "Welcome %s", u.Email)
			return
		}
		fmt.Fprint(w, "Not logged in")
	})
	adminGroup := os.Getenv("ADMIN_GROUP")
	if adminGroup == "" {
		adminGroup = "admins"
	}
	mux.Handle("GET /admin", oc.RequireGroup(adminGroup)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello admin %s", httpoidc.UserFrom(r.Context()).Email)
	})))
	mux.Handle("GET /api", oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode("Welcome " + tok.Subject)
	})))
	return mux
}

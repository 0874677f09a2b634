// Command api is an API that only accepts bearer tokens: no login pages,
// no sessions, no cookies (Flask-OIDC's OIDC_RESOURCE_SERVER_ONLY).
//
//	OIDC_CLIENT_SECRETS=client_secrets.json go run ./examples/api
//
// GET /api/hello needs any valid token; GET /api/profile needs the profile
// scope and answers with the provider's userinfo for the token. Every
// OIDC_* variable of httpoidc.ConfigFromEnv applies; LISTEN_ADDR is the
// address to listen on (default 127.0.0.1:8080).
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
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	cfg, err := httpoidc.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.ResourceServerOnly = true
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
	srv := &http.Server{Handler: routes(oc), ReadHeaderTimeout: 10 * time.Second}
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
	mux.Handle("GET /api/hello", oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"hello": tok.Subject, "scopes": tok.Scopes})
	})))
	mux.Handle("GET /api/profile", oc.AcceptToken("profile")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		profile, err := oc.UserInfo(r.Context(), tok)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "userinfo unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, profile)
	})))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

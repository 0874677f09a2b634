// Command chi-redis is the basic example with a chi router and sessions in
// Redis, the way to run several replicas of an application: every replica
// given the same Redis server shares the logins.
//
//	REDIS_ADDR=127.0.0.1:6379 OIDC_CLIENT_SECRETS=client_secrets.json go run ./examples/chi-redis
//
// Every OIDC_* variable of httpoidc.ConfigFromEnv applies; LISTEN_ADDR is
// the address to listen on (default 127.0.0.1:8080).
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

	"github.com/alexedwards/scs/goredisstore"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/httpoidc/httpoidc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chi-redis:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	cfg, err := httpoidc.ConfigFromEnv()
	if err != nil {
		return err
	}
	redisAddr := os.Getenv("REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", redisAddr, err)
	}
	cfg.SessionStore = goredisstore.New(rdb)
	oc, err := httpoidc.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer oc.Close()

	r := chi.NewRouter()
	r.Use(middleware.Recoverer, oc.Handler)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		if u := httpoidc.UserFrom(r.Context()); u.LoggedIn() {
			fmt.Fprintf(w, "Welcome %s", u.Email)
			return
		}
		fmt.Fprint(w, "Not logged in")
	})
	r.With(oc.RequireLogin).Get("/login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Email)
	})
	r.With(oc.AcceptToken()).Get("/api", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode("Welcome " + tok.Subject)
	})

	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
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

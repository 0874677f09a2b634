// Command zitadel-op runs the example OpenID Provider of zitadel/oidc
// (example/server: its storage, login page and op.Provider setup) with the
// clients and users that internal/testenv asks for, on a loopback address and
// a free port.
//
// Unlike example/server's own main, which listens on every interface at a
// fixed port with fixed clients, it reads its settings as JSON from the
// ZITADEL_OP_CONFIG environment variable, listens on the configured loopback
// host, prints "ISSUER <url>" once it accepts connections, and exits when its
// standard input closes, so that it cannot outlive the test that started it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// settings is what ZITADEL_OP_CONFIG holds.
type settings struct {
	Host    string   `json:"host"`
	Clients []client `json:"clients"`
	Users   []user   `json:"users"`
}

type client struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	AuthMethod             string   `json:"token_endpoint_auth_method"`
	// AccessTokenType is "jwt" or "opaque" (zitadel's Bearer type).
	AccessTokenType string `json:"access_token_type"`
}

type user struct {
	Subject       string `json:"sub"`
	Password      string `json:"password"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	GivenName     string `json:"given_name"`
	FamilyName    string `json:"family_name"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "zitadel-op:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg settings
	if err := json.Unmarshal([]byte(os.Getenv("ZITADEL_OP_CONFIG")), &cfg); err != nil {
		return fmt.Errorf("ZITADEL_OP_CONFIG: %w", err)
	}
	if ip := net.ParseIP(cfg.Host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q is not a loopback address", cfg.Host)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, "0"))
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()

	clients := map[string]*storage.Client{}
	configured := map[string]client{}
	for _, c := range cfg.Clients {
		clients[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
		configured[c.ID] = c
	}
	users := userStore{}
	for _, u := range cfg.Users {
		users[u.Subject] = &storage.User{
			ID: u.Subject, Username: u.Subject, Password: u.Password,
			FirstName: u.GivenName, LastName: u.FamilyName,
			Email: u.Email, EmailVerified: u.EmailVerified,
			PreferredLanguage: language.English,
			// The example storage lets only admins' tokens be exchanged
			// (RFC 8693), for instance for an ID token.
			IsAdmin: true,
		}
	}
	store := &configuredStorage{Storage: storage.NewStorageWithClients(users, clients), clients: configured}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(issuer, store, logger, false)

	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Println("ISSUER", issuer)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// configuredStorage is the example's in-memory storage, with the client
// settings that storage.WebClient fixes (Bearer access tokens, no
// post-logout redirect URIs, client_secret_basic) taken from the config.
type configuredStorage struct {
	*storage.Storage
	clients map[string]client
}

func (s *configuredStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return &configuredClient{Client: c, cfg: s.clients[id]}, nil
}

type configuredClient struct {
	op.Client
	cfg client
}

func (c *configuredClient) AccessTokenType() op.AccessTokenType {
	if c.cfg.AccessTokenType == "jwt" {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}

func (c *configuredClient) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }

func (c *configuredClient) AuthMethod() oidc.AuthMethod {
	if c.cfg.AuthMethod == string(oidc.AuthMethodPost) {
		return oidc.AuthMethodPost
	}
	return oidc.AuthMethodBasic
}

// userStore is the example's storage.UserStore over configured users, each
// signing in with its subject as the username.
type userStore map[string]*storage.User

func (u userStore) GetUserByID(id string) *storage.User { return u[id] }

func (u userStore) GetUserByUsername(name string) *storage.User { return u[name] }

// ExampleClientID names the example's JWT-profile service user, which these
// tests do not use.
func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

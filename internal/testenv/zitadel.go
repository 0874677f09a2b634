package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ZitadelConfig configures StartZitadel. Its zero value starts a provider with
// DefaultUsers and no clients.
type ZitadelConfig struct {
	// Clients may use client_secret_basic or client_secret_post at the token
	// endpoint; introspection takes only client_secret_basic, as the
	// discovery document says. Client.BackchannelLogoutURI is not
	// supported: the example OP sends no logout tokens.
	Clients []Client
	// Users sign in with their Subject as the username. Groups are not
	// released: the example OP knows no groups claim. Every user may have
	// their tokens exchanged (RFC 8693), which the example OP allows admins.
	Users []User // nil: DefaultUsers()
}

// StartZitadel runs the example OpenID Provider of zitadel/oidc (the
// example/server packages of the release that interop/tools/zitadel/go.mod
// pins, v3.52.0, built and cached by goTool) on 127.0.0.2 with a free
// port, waits until discovery answers and stops it when the test ends.
//
// As the example OP does: access tokens live five minutes, refresh tokens
// (for the offline_access scope) five hours and rotate on use, a token's
// aud is its client alone, introspection answers active only to a client
// in the token's aud, and there is no single sign-on: every authorization
// request shows the login form. RP-initiated logout redirects without a
// confirmation page.
func StartZitadel(t testing.TB, cfg ZitadelConfig) *Provider {
	t.Helper()
	bin := zitadelBinary(t)

	p := &Provider{Users: cfg.Users}
	if p.Users == nil {
		p.Users = DefaultUsers()
	}
	type wireClient struct {
		ID                     string   `json:"client_id"`
		Secret                 string   `json:"client_secret"`
		RedirectURIs           []string `json:"redirect_uris"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
		AuthMethod             string   `json:"token_endpoint_auth_method"`
		AccessTokenType        string   `json:"access_token_type"`
	}
	type wireUser struct {
		Subject       string `json:"sub"`
		Password      string `json:"password"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		GivenName     string `json:"given_name"`
		FamilyName    string `json:"family_name"`
	}
	var clients []wireClient
	for _, c := range cfg.Clients {
		c = withDefaults(t, c)
		if c.BackchannelLogoutURI != "" {
			t.Fatalf("testenv: zitadel's example OP sends no back-channel logout (client %s)", c.ID)
		}
		p.Clients = append(p.Clients, c)
		tokenType := "opaque"
		if c.JWTAccessTokens {
			tokenType = "jwt"
		}
		clients = append(clients, wireClient{c.ID, c.Secret, c.RedirectURIs, c.PostLogoutRedirectURIs,
			string(c.AuthMethod), tokenType})
	}
	var users []wireUser
	for _, u := range p.Users {
		given, family, _ := strings.Cut(u.Name, " ")
		users = append(users, wireUser{u.Subject, u.Password, u.Email, u.EmailVerified, given, family})
	}
	settings, err := json.Marshal(map[string]any{"host": providerHost, "clients": clients, "users": users})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ZITADEL_OP_CONFIG="+string(settings))
	p.Issuer = startIssuer(t, "zitadel example OP", cmd)
	return p
}

// zitadelBinary builds the program in interop/tools/zitadel.
func zitadelBinary(t testing.TB) string {
	t.Helper()
	return goTool(t, "zitadel", ".")
}

package httpoidc_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// An API that needs the profile scope, tried with no token, a token with
// the scope and a token without it. The provider is an oidctest server.
func ExampleOpenIDConnect_AcceptToken() {
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})

	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		ClientSecrets:      &httpoidc.ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: op.URL},
		ResourceServerOnly: true,
		Logger:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer oc.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", oc.AcceptToken("profile")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprintf(w, "hello %s, your scopes are %q", tok.Subject, tok.Scopes)
	})))
	api := httptest.NewServer(mux)
	defer api.Close()

	call := func(token string) {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/api/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
		if challenge := resp.Header.Get("WWW-Authenticate"); challenge != "" {
			fmt.Println("  WWW-Authenticate:", challenge)
		}
	}
	call("")
	call(op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"openid", "profile"}, Format: oidctest.JWT}))
	call(op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: []string{"openid"}}))
	// Output:
	// 401 {"error":"unauthorized","error_description":"missing bearer token"}
	//   WWW-Authenticate: Bearer realm="httpoidc"
	// 200 hello alice, your scopes are ["openid" "profile"]
	// 403 {"error":"insufficient_scope","error_description":"the access token lacks a required scope"}
	//   WWW-Authenticate: Bearer realm="httpoidc", error="insufficient_scope", error_description="the access token lacks a required scope", scope="profile"
}

// An API reading a claim that Token has no field for, here a custom
// department claim, by decoding the claims into a struct.
func ExampleToken_Claims() {
	op := oidctest.NewServer()
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "api", Secret: "api-secret"})

	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		ClientSecrets:      &httpoidc.ClientSecrets{ClientID: "api", ClientSecret: "api-secret", Issuer: op.URL},
		ResourceServerOnly: true,
		Logger:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer oc.Close()
	handler := oc.AcceptToken("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		var claims struct {
			Department string `json:"department"`
		}
		if err := tok.Claims(&claims); err != nil {
			http.Error(w, "unexpected claims", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s works in %s", tok.Subject, claims.Department)
	}))

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+op.IssueAccessToken(oidctest.TokenRequest{
		ClientID: "api", Subject: "alice", Scopes: []string{"read"}, Format: oidctest.JWT,
		Claims: map[string]any{"department": "research"},
	}))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 alice works in research
}

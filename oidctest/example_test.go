package oidctest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/oidctest"
)

// Example logs a user into a small web application with nothing but an
// http.Client that has a cookie jar: AutoLogin approves the authorization
// request, so the whole flow is redirects.
func Example() {
	op := oidctest.NewServer()
	defer op.Close()
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
	op.AutoLogin("alice")

	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()
	// The application's URL is only known now; AddClient can be called (or
	// called again) at any time.
	op.AddClient(oidctest.Client{ID: "app", Secret: "s3cret", RedirectURIs: []string{app.URL + "/callback"}})

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, op.URL)
	if err != nil {
		log.Fatal(err)
	}
	cfg := oauth2.Config{
		ClientID:     "app",
		ClientSecret: "s3cret",
		Endpoint:     provider.Endpoint(),
		RedirectURL:  app.URL + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, "email"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "app"})

	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		state, pkce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		http.SetCookie(w, &http.Cookie{Name: "state", Value: state, HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "pkce", Value: pkce, HttpOnly: true})
		http.Redirect(w, r, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		state, err1 := r.Cookie("state")
		pkce, err2 := r.Cookie("pkce")
		if err1 != nil || err2 != nil || r.FormValue("state") != state.Value {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := cfg.Exchange(r.Context(), r.FormValue("code"), oauth2.VerifierOption(pkce.Value))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		rawIDToken, _ := tok.Extra("id_token").(string)
		idToken, err := verifier.Verify(r.Context(), rawIDToken)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var claims struct {
			Email string `json:"email"`
		}
		if err := idToken.Claims(&claims); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "logged in as %s <%s>", idToken.Subject, claims.Email)
	})

	jar, err := cookiejar.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(app.URL + "/login")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(page))
	// Output: logged in as alice <alice@example.com>
}

// ExampleWithProfile issues tokens shaped as Keycloak shapes them: the
// access token's aud is "account" plus what an audience mapper adds, and
// every token names its kind in a typ claim.
func ExampleWithProfile() {
	op := oidctest.NewServer(oidctest.WithProfile(oidctest.Keycloak))
	defer op.Close()
	op.AddClient(oidctest.Client{ID: "app", Secret: "s3cret"})
	toks, err := op.IssueTokens(oidctest.TokenRequest{
		ClientID: "app", Subject: "alice", Scopes: []string{"openid"}, Audience: []string{"orders-api"},
	})
	if err != nil {
		log.Fatal(err)
	}
	var access, id struct {
		Aud any    `json:"aud"`
		AZP string `json:"azp"`
		Typ string `json:"typ"`
	}
	for token, claims := range map[string]any{toks.AccessToken: &access, toks.IDToken: &id} {
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(payload, claims); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("access token:", access.Typ, access.Aud, access.AZP)
	fmt.Println("ID token:", id.Typ, id.Aud, id.AZP)
	// Output:
	// access token: Bearer [orders-api account] app
	// ID token: ID app app
}

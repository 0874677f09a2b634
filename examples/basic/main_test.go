package main

import (
	"net/http"
	"testing"

	"github.com/httpoidc/httpoidc/internal/exampletest"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestBasic(t *testing.T) {
	op, app := exampletest.Setup(t, "basic")
	t.Setenv("OIDC_SCOPES", "openid email groups")
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "groups": []any{"admins"}}})
	op.AddUser(oidctest.User{Subject: "bob", Claims: map[string]any{"email": "bob@example.com", "groups": []any{"staff"}}})
	exampletest.Run(t, app, run)
	token := op.IssueAccessToken(oidctest.TokenRequest{ClientID: "basic", Subject: "alice", Scopes: []string{"openid"}, Audience: []string{"basic"}, Format: oidctest.JWT})

	exampletest.NewBrowser(t).Visit(app, []exampletest.Step{
		{Path: "/", Status: http.StatusOK, Body: "Not logged in"},
		{Path: "/alt", Status: http.StatusOK, Body: "Not logged in"},
		{Path: "/login", Status: http.StatusOK, Body: "Welcome alice@example.com"},
		{Path: "/", Status: http.StatusOK, Body: "Welcome alice@example.com"},
		{Path: "/alt", Status: http.StatusOK, Body: "Welcome alice@example.com"},
		{Path: "/admin", Status: http.StatusOK, Body: "Hello admin alice@example.com"},
		{Path: "/api", Status: http.StatusUnauthorized},
		{Path: "/api", Header: []string{"Authorization", "Bearer " + token}, Status: http.StatusOK, Body: `"Welcome alice"`},
		{Path: "/logout", Header: []string{"Sec-Fetch-Site", "same-origin"}, Status: http.StatusOK, Body: "Not logged in"},
		{Path: "/alt", Status: http.StatusOK, Body: "Not logged in"},
	})

	// bob is logged in but not an admin.
	op.AutoLogin("bob")
	exampletest.NewBrowser(t).Visit(app, []exampletest.Step{
		{Path: "/admin", Header: []string{"Accept", "application/json"}, Status: http.StatusUnauthorized},
		{Path: "/login", Status: http.StatusOK, Body: "Welcome bob@example.com"},
		{Path: "/admin", Status: http.StatusForbidden},
	})
}

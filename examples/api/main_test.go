package main

import (
	"net/http"
	"testing"

	"github.com/httpoidc/httpoidc/internal/exampletest"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestAPI(t *testing.T) {
	op, app := exampletest.Setup(t, "api")
	exampletest.Run(t, app, run)
	issue := func(format oidctest.AccessTokenFormat, scopes ...string) []string {
		tok := op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Scopes: scopes, Audience: []string{"api"}, Format: format})
		return []string{"Authorization", "Bearer " + tok}
	}
	exampletest.NewBrowser(t).Visit(app, []exampletest.Step{
		{Path: "/api/hello", Status: http.StatusUnauthorized},
		{Path: "/api/hello", Header: issue(oidctest.JWT, "openid"), Status: http.StatusOK, Body: `{"hello":"alice","scopes":["openid"]}`},
		{Path: "/api/hello", Header: issue(oidctest.Opaque, "openid"), Status: http.StatusOK, Body: `{"hello":"alice","scopes":["openid"]}`},
		{Path: "/api/profile", Header: issue(oidctest.JWT, "openid"), Status: http.StatusForbidden},
		{Path: "/api/profile", Header: issue(oidctest.Opaque, "openid", "email", "profile"), Status: http.StatusOK},
		{Path: "/authorize", Status: http.StatusNotFound},
		{Path: "/logout", Status: http.StatusNotFound},
	})
}

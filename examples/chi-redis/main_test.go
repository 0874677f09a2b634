package main

import (
	"net/http"
	"testing"

	"github.com/httpoidc/httpoidc/internal/exampletest"
	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestChiRedis(t *testing.T) {
	t.Setenv("REDIS_ADDR", testenv.StartRedis(t))
	op, app := exampletest.Setup(t, "chi-redis")
	exampletest.Run(t, app, run)
	token := op.IssueAccessToken(oidctest.TokenRequest{ClientID: "chi-redis", Subject: "alice", Audience: []string{"chi-redis"}, Format: oidctest.JWT})

	exampletest.NewBrowser(t).Visit(app, []exampletest.Step{
		{Path: "/", Status: http.StatusOK, Body: "Not logged in"},
		{Path: "/login", Status: http.StatusOK, Body: "Welcome alice@example.com"},
		{Path: "/api", Header: []string{"Accept", "application/json"}, Status: http.StatusUnauthorized},
		{Path: "/api", Header: []string{"Authorization", "Bearer " + token}, Status: http.StatusOK, Body: `"Welcome alice"`},
	})

}

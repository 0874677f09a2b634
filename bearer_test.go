package httpoidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

// fuzzAnswers are every response AcceptToken can give a fuzzed request:
// status, challenge and body never depend on the token.
var fuzzAnswers = func() map[answer]bool {
	set := map[answer]bool{answerMissing: true, answerInvalidToken: true, answerUnavailable: true,
		{http.StatusOK, "", "ok"}: true}
	for _, d := range []string{
		"the Authorization header does not hold a well-formed bearer token", "more than one Authorization header",
		"the form body cannot be read", "the access token was sent in more than one way",
		"the form body does not hold exactly one well-formed access_token",
	} {
		set[answerInvalidRequest(d)] = true
	}
	return set
}()

// FuzzBearerToken sends arbitrary Authorization headers and form bodies to
// AcceptToken, in testing mode and against a real provider (JWT mode, so no
// fuzzed token reaches the network): no panic, only the documented answers,
// and the token never in the response.
//
// The seeds name the provider's valid JWT and a copy with a forged header
// by placeholder rather than holding them: the fuzzer minimizes every input
// that finds new code by trying to remove each subset of its bytes, which
// for a 700-byte token is a quarter of a million runs, and the workers did
// nothing else for the first seconds of every run.
func FuzzBearerToken(f *testing.F) {
	a := newAPI(f, func(c *Config) { c.AcceptFormToken = true; c.AccessTokenValidation = ValidateJWT })
	jwt := a.op.IssueAccessToken(oidctest.TokenRequest{ClientID: "api", Subject: "alice", Format: oidctest.JWT})
	tokens := strings.NewReplacer("$JWT", jwt, "$FORGED", withHeader(jwt, map[string]any{"alg": "RS256", "kid": "x"}))
	seeds := [][2]string{
		{"Bearer $JWT", ""}, {"", "access_token=$JWT"}, {"Bearer $JWT", "access_token=$JWT"}, {"Bearer $FORGED", ""},
		{"bearer abc", ""}, {"Bearer", ""}, {"Bearer ", ""}, {"Bearer a b", ""}, {"Bearer abc==", ""}, {"Bearer ==", ""},
		{"Basic dXNlcjpwYXNz", ""}, {"Bearer eyJhbGciOiJub25lIn0.e30.", ""}, {"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", ""},
		{"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.c2ln", ""}, {"", "access_token=a&access_token=b"},
		{"", "access_token=%zz"}, {"Bearer \x00", ""}, {"Bearer é", ""}, {"Bearer a\tb", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	disabled, err := New(context.Background(), Config{
		Disabled: true, TestingProfile: map[string]any{"sub": "tester"}, AcceptFormToken: true, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(f, err)
	f.Cleanup(disabled.Close)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	handlers := []http.Handler{disabled.AcceptToken()(ok), a.oc.AcceptToken()(ok)}
	f.Fuzz(func(t *testing.T, authorization, form string) {
		authorization, form = tokens.Replace(authorization), tokens.Replace(form)
		for _, h := range handlers {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := answer{rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String()}
			if !fuzzAnswers[got] {
				t.Fatalf("Authorization %q, form %q: unexpected answer %+v", authorization, form, got)
			}
			values, _ := url.ParseQuery(form)
			_, token, _ := strings.Cut(authorization, " ")
			for _, secret := range append(values["access_token"], token, authorization) {
				if len(secret) >= 12 && strings.Contains(fmt.Sprint(rec.Header(), rec.Body.String()), secret) {
					t.Fatalf("the token %q is echoed: %+v", secret, got)
				}
			}
		}
	})
}

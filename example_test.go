package httpoidc_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// Example logs a user in to an application, end to end: an oidctest
// provider, the application behind httpoidc, and an http.Client with a
// cookie jar as the browser.
func Example() {
	provider := oidctest.NewServer()
	defer provider.Close()
	provider.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
	provider.AutoLogin("alice")

	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()
	provider.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{app.URL + "/authorize"}})

	secrets, err := httpoidc.ParseClientSecrets(provider.ClientSecrets("app"))
	if err != nil {
		log.Fatal(err)
	}
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{ClientSecrets: secrets, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer oc.Close()
	mux.Handle("/", oc.Handler(oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Email)
	}))))

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(app.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: Welcome alice@example.com
}

// ExampleParseClientSecrets shows the Flask-OIDC client_secrets.json format
// and the error for a document that lacks a required key.
func ExampleParseClientSecrets() {
	secrets, err := httpoidc.ParseClientSecrets([]byte(`{"web": {
		"client_id": "my-app",
		"client_secret": "s3cr3t",
		"issuer": "https://accounts.example.com",
		"redirect_uris": ["https://app.example.com/authorize"]
	}}`))
	fmt.Println(secrets, err)

	_, err = httpoidc.ParseClientSecrets([]byte(`{"web": {"client_id": "my-app", "issuer": "https://accounts.example.com"}}`))
	fmt.Println(err)
	// Output:
	// ClientSecrets{ClientID: "my-app", Issuer: "https://accounts.example.com", ClientSecret: [redacted]} <nil>
	// httpoidc: invalid client secrets: missing required key "web.client_secret"
}

// ExampleOpenIDConnect_RequireLogin protects some routes of a chi-style
// router: RequireLogin is ordinary func(http.Handler) http.Handler
// middleware.
func ExampleOpenIDConnect_RequireLogin() {
	oc, _ := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true})
	defer oc.Close()
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secret admin page")
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", oc.RequireLogin(admin))

	rec := httptest.NewRecorder()
	oc.Handler(mux).ServeHTTP(rec, httptest.NewRequest("GET", "/admin/", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="httpoidc"
}

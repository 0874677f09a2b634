package httpoidc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/httpoidc/httpoidc"
)

// Example_whoMayLogIn refuses logins by email domain and by a custom rule,
// reads Keycloak realm roles as groups, and keeps /admin for admins. It is
// the README's "Who may log in" section; the testing switch stands in for
// the provider.
func Example_whoMayLogIn() {
	banned := map[string]bool{"mallory": true}
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		AllowedEmailDomains: []string{"example.com"}, // and email_verified must be true
		GroupsClaim:         "realm_access.roles",    // Keycloak realm roles
		Authorize: func(ctx context.Context, u *httpoidc.User) error {
			if banned[u.Subject] {
				return errors.New("banned") // 403 "Access denied", no session
			}
			return nil
		},
		Logger:   slog.New(slog.DiscardHandler),
		Disabled: true, // for this example: every request is the testing user
		TestingProfile: map[string]any{
			"sub": "alice", "email": "alice@example.com", "email_verified": true,
			"realm_access": map[string]any{"roles": []any{"staff"}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin", oc.RequireGroup("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "admin page")
	})))
	mux.Handle("/staff", oc.RequireGroup("staff", "admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "groups %v", httpoidc.UserFrom(r.Context()).Groups)
	})))
	mux.Handle("/api/reports", oc.RequireTokenGroup("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprintf(w, "report for %s", tok.Subject)
	})))

	for _, path := range []string{"/admin", "/staff"} {
		rec := httptest.NewRecorder()
		oc.Handler(mux).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// /admin 403 text/html; charset=utf-8
	// /staff 200 text/plain; charset=utf-8
}

// ExampleOpenIDConnect_Client calls an API with the logged-in user's access
// token, as the README's "Calling APIs as the user" section. With the
// testing switch the token is "testing-access-token".
func ExampleOpenIDConnect_Client() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, TestingProfile: map[string]any{"sub": "alice"}})
	if err != nil {
		log.Fatal(err)
	}

	orders := oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := oc.Client(r).Get(api.URL + "/orders") // the user's token, refreshed when due
		if errors.Is(err, httpoidc.ErrLoginEnded) {
			http.Redirect(w, r, "/login?next=/orders", http.StatusFound) // log in again
			return
		}
		if err != nil {
			http.Error(w, "the orders service is unavailable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))

	rec := httptest.NewRecorder()
	oc.Handler(orders).ServeHTTP(rec, httptest.NewRequest("GET", "/orders", nil))
	fmt.Println(rec.Body.String())
	// Output: Bearer testing-access-token
}

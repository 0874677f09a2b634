package testenv

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// hydraLogin is the login, consent and logout app that Hydra sends browsers
// to (urls.login, urls.consent, urls.logout). It decides through Hydra's
// admin API, as a real one does.
type hydraLogin struct {
	url   string // e.g. "http://127.0.0.2:41235"
	host  string // host:port of url
	users []User

	mu       sync.Mutex
	adminURL string // set once Hydra listens
}

// loginPage is the form Login fills in: the field names are those of
// oidc-provider's page in interop/server.mjs.
var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<title>Sign in</title>
<p class="error">{{.Error}}</p>
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<input name="username" autocomplete="username">
<input name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button>
</form>
`))

// startHydraLogin serves the app on providerHost with a free port until the
// test ends.
func startHydraLogin(t testing.TB, users []User) (*hydraLogin, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(providerHost, "0"))
	if err != nil {
		return nil, err
	}
	ui := &hydraLogin{url: "http://" + ln.Addr().String(), host: ln.Addr().String(), users: users}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", ui.showLogin)
	mux.HandleFunc("POST /login", ui.checkLogin)
	mux.HandleFunc("GET /consent", ui.consent)
	mux.HandleFunc("GET /logout", ui.logout)
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintln(w, "You are signed out.")
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Error(w, "Hydra error: "+q.Get("error")+": "+q.Get("error_description"), http.StatusBadRequest)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ui, nil
}

func (ui *hydraLogin) setAdmin(adminURL string) {
	ui.mu.Lock()
	defer ui.mu.Unlock()
	ui.adminURL = adminURL
}

// admin calls Hydra's admin API at path with one challenge parameter.
func (ui *hydraLogin) admin(ctx context.Context, method, path, param, challenge string, body, out any) error {
	ui.mu.Lock()
	base := ui.adminURL
	ui.mu.Unlock()
	return adminCall(ctx, method, hydraAdminURL(base, path, param, challenge), body, out)
}

// redirect follows Hydra's answer to an accepted request.
func redirect(w http.ResponseWriter, r *http.Request, answer map[string]string) {
	http.Redirect(w, r, answer["redirect_to"], http.StatusFound)
}

// showLogin shows the form, or signs in at once when Hydra remembers the
// user (single sign-on: the login request says skip).
func (ui *hydraLogin) showLogin(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	if err := ui.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", "login_challenge", challenge, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if req.Skip {
		ui.acceptLogin(w, r, challenge, req.Subject)
		return
	}
	_ = loginPage.Execute(w, map[string]string{"Challenge": challenge})
}

// checkLogin checks the password and tells Hydra who signed in, asking it
// to remember the login in its session cookie.
func (ui *hydraLogin) checkLogin(w http.ResponseWriter, r *http.Request) {
	challenge := r.PostFormValue("login_challenge")
	i := slices.IndexFunc(ui.users, func(u User) bool { return u.Subject == r.PostFormValue("username") })
	if i < 0 || ui.users[i].Password != r.PostFormValue("password") {
		_ = loginPage.Execute(w, map[string]string{"Challenge": challenge, "Error": "Invalid username or password."})
		return
	}
	ui.acceptLogin(w, r, challenge, ui.users[i].Subject)
}

func (ui *hydraLogin) acceptLogin(w http.ResponseWriter, r *http.Request, challenge, subject string) {
	var answer map[string]string
	body := map[string]any{"subject": subject, "remember": true}
	if err := ui.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept", "login_challenge", challenge, body, &answer); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	redirect(w, r, answer)
}

// consent grants every scope and audience asked for, with the user's claims
// for the granted scopes in the ID token (and so in userinfo).
func (ui *hydraLogin) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Subject   string   `json:"subject"`
		Scopes    []string `json:"requested_scope"`
		Audiences []string `json:"requested_access_token_audience"`
	}
	if err := ui.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", "consent_challenge", challenge, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	claims := map[string]any{}
	if i := slices.IndexFunc(ui.users, func(u User) bool { return u.Subject == req.Subject }); i >= 0 {
		u := ui.users[i]
		if slices.Contains(req.Scopes, "email") {
			claims["email"], claims["email_verified"] = u.Email, u.EmailVerified
		}
		if slices.Contains(req.Scopes, "profile") {
			claims["name"], claims["preferred_username"] = u.Name, u.Subject
		}
		if slices.Contains(req.Scopes, "groups") {
			claims["groups"] = u.Groups
		}
	}
	body := map[string]any{
		"grant_scope":                 req.Scopes,
		"grant_access_token_audience": req.Audiences,
		"session":                     map[string]any{"id_token": claims},
	}
	var answer map[string]string
	if err := ui.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept", "consent_challenge", challenge, body, &answer); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	redirect(w, r, answer)
}

// logout accepts every logout request: Hydra then ends its session and
// sends the back-channel logout tokens.
func (ui *hydraLogin) logout(w http.ResponseWriter, r *http.Request) {
	var answer map[string]string
	challenge := r.URL.Query().Get("logout_challenge")
	if err := ui.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/logout/accept", "logout_challenge", challenge, nil, &answer); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	redirect(w, r, answer)
}

package httpoidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// User is the person behind a request, as Flask-OIDC's g.oidc_user. The
// zero User is anonymous. Read it with UserFrom.
type User struct {
	// Subject is the provider's unique, stable identifier (sub).
	Subject string
	// Email is the email claim, if the provider sent one. Unless
	// EmailVerified is true it is only what the user typed at the provider.
	Email string
	// EmailVerified is the email_verified claim: the provider checked that
	// Email belongs to the user.
	EmailVerified bool
	// Name is the name claim, if the provider sent one.
	Name string
	// Groups are the groups or roles at Config.GroupsClaim, read from the
	// ID token and userinfo and refreshed with the tokens. Each request has
	// its own slice.
	Groups []string
	// Profile holds the identity claims of the ID token merged with the
	// userinfo response (Flask-OIDC's oidc_auth_profile). Each request has
	// its own copy, nested maps and slices included (with Disabled, a
	// shallow copy of TestingProfile), even right after a refresh that
	// concurrent requests share: the handler may change it without racing
	// other requests, and the change is not stored in the session.
	Profile map[string]any
	// AccessToken is the current OAuth 2.0 access token.
	AccessToken string
	// RefreshToken is the current refresh token, if the provider issued one.
	RefreshToken string
	// IDToken is the raw ID token.
	IDToken string
	// Expiry is when AccessToken expires; zero if the provider did not say.
	Expiry time.Time

	oc  *OpenIDConnect
	ctx context.Context
}

// LoggedIn reports whether the user is logged in.
func (u *User) LoggedIn() bool { return u != nil && u.Subject != "" }

// Logout ends the login in the current session, without contacting the
// provider; the session token is renewed. It returns an error only for an
// anonymous user or a failure of the session store.
func (u *User) Logout() error {
	if !u.LoggedIn() || u.oc == nil {
		return fmt.Errorf("httpoidc: Logout: no user is logged in")
	}
	return u.oc.endLogin(u.ctx, u, LogoutLocal)
}

// String describes the user without any token.
func (u *User) String() string {
	if !u.LoggedIn() {
		return "anonymous"
	}
	return fmt.Sprintf("User{Subject: %q, Email: %q}", u.Subject, u.Email)
}

// LogValue implements slog.LogValuer so that logging a User never logs its
// tokens.
func (u *User) LogValue() slog.Value {
	if !u.LoggedIn() {
		return slog.StringValue("anonymous")
	}
	return slog.GroupValue(slog.String("sub", u.Subject), slog.String("email", u.Email))
}

type contextKey int

const (
	userKey contextKey = iota
	customUserKey
	tokenKey
	retryKey
)

// UserFrom returns the user of a request handled by OpenIDConnect.Handler:
// never nil, anonymous when nobody is logged in or the handler is missing.
func UserFrom(ctx context.Context) *User {
	if u, ok := ctx.Value(userKey).(*User); ok {
		return u
	}
	return &User{}
}

// UserAs returns the application's own user value built by Config.NewUser,
// and false when there is none or it is not a T.
func UserAs[T any](ctx context.Context) (T, bool) {
	v, ok := ctx.Value(customUserKey).(T)
	return v, ok
}

// UserLoggedIn reports whether the request's user is logged in (Flask-OIDC's
// user_loggedin).
func (oc *OpenIDConnect) UserLoggedIn(r *http.Request) bool {
	return UserFrom(r.Context()).LoggedIn()
}

func (oc *OpenIDConnect) newUser(ctx context.Context, login *loginData) *User {
	u := &User{oc: oc, ctx: ctx}
	if login == nil {
		return u
	}
	u.Subject = login.Subject
	u.Profile = login.Profile
	u.AccessToken = login.AccessToken
	u.RefreshToken = login.RefreshToken
	u.IDToken = login.IDToken
	if login.Expiry != 0 {
		u.Expiry = time.Unix(login.Expiry, 0)
	}
	u.Email, _ = login.Profile["email"].(string)
	u.EmailVerified = emailVerified(login.Profile)
	u.Name, _ = login.Profile["name"].(string)
	u.Groups = oc.groupsFrom(login.Profile)
	return u
}

// serveWithUser puts the request's user in its context and calls next.
func (oc *OpenIDConnect) serveWithUser(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var login *loginData
	if oc.cfg.Disabled {
		login = oc.testingLogin()
	} else {
		var refused bool
		var err error
		login, refused, err = oc.loadUser(r)
		if err != nil {
			oc.log.Error("httpoidc: session store unavailable", "path", r.URL.Path, "error", err)
			w.Header().Set("Retry-After", "5")
			oc.writeError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
				"Your session cannot be checked right now. Please try again in a moment.")
			return
		}
		if refused && isNavigation(r) {
			target := oc.SafeRedirect("")
			if oc.cfg.PreserveNextOnError {
				target = oc.requestTarget(r)
			}
			oc.startLogin(w, r, target)
			return
		}
	}
	ctx := r.Context()
	u := oc.newUser(ctx, login)
	ctx = context.WithValue(ctx, userKey, u)
	if oc.cfg.NewUser != nil {
		custom, err := oc.cfg.NewUser(ctx, u)
		if err != nil {
			oc.log.Error("httpoidc: Config.NewUser failed", "user", u, "error", err)
			oc.writeError(w, r, http.StatusInternalServerError, "Internal error", "The user could not be loaded.")
			return
		}
		ctx = context.WithValue(ctx, customUserKey, custom)
	}
	u.ctx = ctx
	next.ServeHTTP(w, r.WithContext(ctx))
}

// RequireLogin is middleware that lets logged-in users through to next.
// An anonymous top-level browser navigation (GET or HEAD) is redirected to
// the provider to log in and comes back to the same page; any other request
// (an API call, a fetch or XHR) gets 401, and OPTIONS passes through for
// CORS preflights. With Config.Disabled it never redirects: the testing
// user passes, anyone else gets 401. It needs Handler around it.
func (oc *OpenIDConnect) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, installed := r.Context().Value(userKey).(*User)
		switch {
		case r.Method == http.MethodOptions || u.LoggedIn():
			next.ServeHTTP(w, r)
		case !installed:
			oc.log.Error("httpoidc: RequireLogin used without OpenIDConnect.Handler around it", "path", r.URL.Path)
			oc.writeError(w, r, http.StatusInternalServerError, "Internal error", "Login is not set up for this page.")
		case oc.cfg.Disabled || !isNavigation(r):
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", oc.cfg.Realm))
			oc.writeError(w, r, http.StatusUnauthorized, "Login required", "You need to log in to see this page.")
		default:
			oc.startLogin(w, r, oc.requestTarget(r))
		}
	})
}

// isNavigation tells a top-level page load, which may be redirected to the
// provider, from a request a script or API client made, which must not be.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	accept := r.Header.Get("Accept")
	switch {
	case accept == "", strings.Contains(accept, "text/html"), strings.Contains(accept, "application/xhtml"):
		return true
	case strings.Contains(accept, "json"):
		return false
	}
	return strings.Contains(accept, "*/*")
}

// startLogin sends the browser to the provider's authorization endpoint,
// remembering state, nonce, PKCE verifier and return path in a sealed
// cookie (pendinglogin.go): nothing is stored on the server.
func (oc *OpenIDConnect) startLogin(w http.ResponseWriter, r *http.Request, next string) {
	ctx := r.Context()
	p, err := oc.discover(ctx)
	if err != nil {
		oc.unavailable(w, r, err)
		return
	}
	pending := pendingLogin{
		State:    rand.Text(),
		Nonce:    rand.Text(),
		Verifier: oauth2.GenerateVerifier(),
		Next:     oc.SafeRedirect(next),
		Created:  oc.cfg.Now().Unix(),
	}
	if err := oc.pending.add(w, r, pending, oc.cfg.Now()); err != nil {
		oc.log.Error("httpoidc: starting login", "error", err)
		oc.writeError(w, r, http.StatusInternalServerError, "Login failed", "The login could not be started.")
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(pending.Nonce), oauth2.S256ChallengeOption(pending.Verifier)}
	if _, set := oc.cfg.AuthParams["prompt"]; !set && slices.Contains(oc.cfg.Scopes, "offline_access") {
		// OpenID Connect Core §11: providers ignore offline_access unless
		// the user is asked to consent, and then issue no refresh token.
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	for k, v := range oc.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	target, err := oc.authorizationURL(ctx, p, pending.State, opts)
	if err != nil {
		oc.unavailable(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// maxNextLength bounds return targets; longer ones are dropped.
const maxNextLength = 2048

// safeNext returns target if it is a path on this site, else "/".
// Browsers read "//host" and "/\host" as other sites, drop tabs and
// newlines before resolving, and remove dot segments ("/..//host") but
// keep the empty segment after them, where Go's resolver drops it; so the
// target must start with one slash, hold no space or control character,
// have no scheme or host, and, once percent-escapes are decoded, have no
// "." or ".." segment (with "/" or "\" as separators) and not start with
// "//" or "/\".
func safeNext(target string) string {
	if len(target) == 0 || len(target) > maxNextLength || target[0] != '/' || strings.HasPrefix(target, "//") {
		return "/"
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	path, err := url.PathUnescape(u.EscapedPath())
	if err != nil || strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return "/"
	}
	for _, segment := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' }) {
		if segment == "." || segment == ".." {
			return "/"
		}
	}
	return target
}

// page is the library's one HTML page, for errors and anything else it
// must tell a browser: a title, a sentence and, when Link is set, one link
// to go on. Its stylesheet is inline (no request for it, nothing for a
// Content-Security-Policy to allow but the inline style) and plain enough
// to sit next to any application's pages.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{margin:0;background:#f4f6fa;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:28rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #dfe3eb;border-radius:12px;box-shadow:0 1px 3px rgb(0 0 0/.06)}
h1{margin:0 0 .5rem;font-size:1.5rem}
p{margin:0 0 1.5rem}
a.button{display:inline-block;padding:.6rem 1.2rem;border-radius:8px;background:#2556d8;color:#fff;font-weight:600;text-decoration:none}
a.button:focus-visible{outline:3px solid #9db8f5;outline-offset:2px}
</style></head>
<body><main role="alert">
<h1>{{.Title}}</h1>
<p>{{.Detail}}</p>
{{with .Link}}<a class="button" id="retry" href="{{.Href}}">{{.Text}}</a>
{{end}}</main></body></html>
`))

// pageData is what page shows. Title and Detail are fixed sentences,
// never request input.
type pageData struct {
	Title, Detail string
	Link          *pageLink // nil: no link
}

// pageLink is the one way on from a page.
type pageLink struct{ Href, Text string }

// withRetry makes the error pages of r offer to log in again and come back
// to target, where the user started; the callback sets it, since its own
// URL holds a spent code.
func withRetry(r *http.Request, target string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), retryKey, target))
}

// retryLink is the link of an error page: log in again and come back to
// where the login started (set by withRetry), reload the page that failed,
// or, where reloading cannot help (a refusal, a form post), go home. Every
// target passes SafeRedirect: only paths of this site.
func (oc *OpenIDConnect) retryLink(r *http.Request, status int) *pageLink {
	if target, ok := r.Context().Value(retryKey).(string); ok {
		return &pageLink{Href: oc.SafeRedirect(target), Text: "Log in again"}
	}
	if status != http.StatusForbidden && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return &pageLink{Href: oc.SafeRedirect(oc.requestTarget(r)), Text: "Try again"}
	}
	return &pageLink{Href: oc.SafeRedirect("/"), Text: "Go to the home page"}
}

// writePage answers with page, uncached.
func writePage(w http.ResponseWriter, status int, data pageData) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = page.Execute(w, data)
}

// writeError answers a browser with page and a retryLink, and anything else
// with RFC 6749-style JSON. Details are fixed sentences, never request input.
func (oc *OpenIDConnect) writeError(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	if isNavigation(r) || r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/html") {
		writePage(w, status, pageData{Title: title, Detail: detail, Link: oc.retryLink(r, status)})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	code := map[int]string{
		http.StatusUnauthorized:       "login_required",
		http.StatusForbidden:          "access_denied",
		http.StatusServiceUnavailable: "temporarily_unavailable",
	}[status]
	if code == "" {
		code = "server_error"
		if status < 500 {
			code = "invalid_request"
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": detail})
}

// unavailable answers 503 when the provider cannot be reached.
func (oc *OpenIDConnect) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	oc.log.Warn("httpoidc: provider unavailable", "path", r.URL.Path, "error", err)
	w.Header().Set("Retry-After", "5")
	oc.writeError(w, r, http.StatusServiceUnavailable, "Login is temporarily unavailable",
		"The identity provider cannot be reached right now. Please try again in a moment.")
}

package oidctest

import (
	"bytes"
	"net/http"
)

// pagesHTML holds the provider's only HTML: the login form, an error page
// and the logged-out page. They are deliberately plain so that headless
// browser tests can drive them with simple selectors (form, input[name=
// username], button[type=submit]).
const pagesHTML = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.}} - oidctest</title>
</head>
<body>
{{end}}

{{define "login"}}{{template "head" "Sign in"}}<h1>Sign in</h1>
<p>Sign in to continue to <b>{{.ClientID}}</b>.</p>
{{with .Users}}<p id="users">Users: {{range $i, $u := .}}{{if $i}}, {{end}}<code>{{$u}}</code>{{end}}</p>
{{end}}
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>
{{end}}<form method="post" action="{{.Action}}">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" required autofocus>
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="deny" formnovalidate>Deny</button>
</form>
</body>
</html>
{{end}}

{{define "error"}}{{template "head" "Error"}}<h1>Error</h1>
<p id="error" role="alert">{{.}}</p>
</body>
</html>
{{end}}

{{define "logged_out"}}{{template "head" "Logged out"}}<h1>Logged out</h1>
<p>You have been logged out.</p>
</body>
</html>
{{end}}
`

type loginPage struct {
	ClientID  string
	Action    string
	RequestID string
	Username  string
	Error     string
	Users     []string // shown as a hint: this is a provider for tests and demos
}

// renderPage executes a page into a buffer first, so that a template
// failure becomes a clean 500 instead of a half-written 200.
func (s *Server) renderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("oidctest: rendering page", "page", name, "error", err)
		http.Error(w, "rendering page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is used where redirecting is unsafe: an unknown client, an
// unregistered redirect URI, an invalid id_token_hint.
func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.renderPage(w, status, "error", msg)
}

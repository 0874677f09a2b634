package oidctest

import (
	"bytes"
	"net/http"
)

// pagesHTML holds the provider's only HTML: the login form (which is also
// where the user consents or denies), an error page and the logged-out
// page. A small inline stylesheet makes them look finished next to an
// application's pages; the markup stays plain so that headless browser
// tests drive them with simple selectors (form, input[name=username],
// button[type=submit] is "Sign in", the first submit button).
const pagesHTML = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} - oidctest</title>
<style>
body{margin:0;background:#f4f6fa;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #dfe3eb;border-radius:12px;box-shadow:0 1px 3px rgb(0 0 0/.06)}
.brand{margin:0 0 1.5rem;color:#5b6675;font-size:.85rem;letter-spacing:.04em;text-transform:uppercase}
h1{margin:0 0 .5rem;font-size:1.5rem}
h2{margin:1.75rem 0 .5rem;font-size:1rem}
p{margin:0 0 1rem}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
input[type=text]{box-sizing:border-box;width:100%;padding:.6rem .75rem;border:1px solid #b8c0cc;border-radius:8px;font:inherit}
button{padding:.6rem 1.2rem;border:1px solid #2556d8;border-radius:8px;background:#2556d8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:#2556d8}
.actions{display:flex;gap:.75rem;margin-top:1rem}
input:focus-visible,button:focus-visible{outline:3px solid #9db8f5;outline-offset:2px}
.alert{padding:.75rem 1rem;border:1px solid #f3b4b4;border-radius:8px;background:#fdf0f0;color:#8a1c1c}
.notice{padding:.75rem 1rem;border:1px solid #a9dcc0;border-radius:8px;background:#effaf4;color:#1d5e3a}
ul.users{margin:0;padding:0;list-style:none}
ul.users li{margin:.5rem 0}
ul.users button{display:flex;justify-content:space-between;width:100%;background:#fff;color:#1f2933;border-color:#dfe3eb;font-weight:400;text-align:left}
ul.users button:hover{border-color:#2556d8}
ul.users .who{font-weight:600}
ul.users .mail{color:#5b6675}
</style>
</head>
<body>
<main>
<p class="brand">oidctest · OpenID Provider for tests and demos</p>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" "Sign in"}}<h1>Sign in</h1>
<p>to continue to <b>{{.ClientID}}</b></p>
{{if .Error}}<p id="error" class="alert" role="alert">{{.Error}}</p>
{{end}}<form method="post" action="{{.Action}}">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" required autofocus>
<div class="actions">
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="deny" class="secondary" formnovalidate>Deny</button>
</div>
{{with .Users}}<h2 id="users-heading">Demo users</h2>
<ul class="users" id="users" aria-labelledby="users-heading">
{{range .}}<li><button type="submit" name="user" value="{{.Subject}}" formnovalidate aria-label="Sign in as {{.Subject}}"><span class="who">{{.Subject}}</span> <span class="mail">{{.Email}}</span></button></li>
{{end}}</ul>
{{end}}</form>
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" "Error"}}<h1>Something went wrong</h1>
<p id="error" class="alert" role="alert">{{.}}</p>
{{template "foot"}}{{end}}

{{define "logged_out"}}{{template "head" "Logged out"}}<h1>Logged out</h1>
<p class="notice" role="status">You have been logged out.</p>
{{template "foot"}}{{end}}
`

type loginPage struct {
	ClientID  string
	Action    string
	RequestID string
	Username  string
	Error     string
	Users     []demoUser // shown to click: this is a provider for tests and demos
}

// demoUser is one entry of the login page's list of users.
type demoUser struct{ Subject, Email string }

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

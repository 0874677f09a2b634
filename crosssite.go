package httpoidc

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// sameOriginRequest reports whether r was sent by a page of this
// application, or by the user typing or bookmarking the URL, rather than by
// another site, so that no other site can make the browser change its
// state (cross-site request forgery). Browsers say so with W3C Fetch
// Metadata (Sec-Fetch-Site same-origin or none); those without it, with an
// Origin or Referer of this application's origin. "same-site" is not
// enough, as a sibling subdomain may be someone else's. A request that
// proves nothing (no header at all) is not same-origin.
func (oc *OpenIDConnect) sameOriginRequest(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		return oc.isOwnOrigin(origin)
	}
	return oc.isOwnOrigin(r.Header.Get("Referer"))
}

// isOwnOrigin reports whether raw (an Origin or Referer value) has the
// scheme, host and port of the redirect URL, which is the application's
// public address even behind a proxy that rewrites Host.
func (oc *OpenIDConnect) isOwnOrigin(raw string) bool {
	own, err := url.Parse(oc.origin)
	if err != nil || oc.origin == "" {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, own.Scheme) &&
		strings.EqualFold(u.Hostname(), own.Hostname()) &&
		portOrDefault(u) == portOrDefault(own)
}

func portOrDefault(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

var confirmLogoutPage = template.Must(template.New("logout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log out?</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>
<body><h1>Log out?</h1><p>Do you want to log out of this site?</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="next" value="{{.Next}}">
<button type="submit" id="logout-confirm">Log out</button> <a href="{{.Home}}">Stay logged in</a></form></body></html>
`))

// confirmLogout answers a logout request that may come from another site
// with a page whose button posts the logout from this one. The page
// cannot be framed, so another site cannot trick the user into clicking
// it (clickjacking).
func (oc *OpenIDConnect) confirmLogout(w http.ResponseWriter, next string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	base := oc.cfg.BasePath
	_ = confirmLogoutPage.Execute(w, struct{ Action, Next, Home string }{base + oc.cfg.LogoutPath, next, base + "/"})
}

package httpoidc

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// noCallbackError explains a client secrets file whose redirect URIs
// cannot reach the callback, the usual state of a Flask-OIDC 1.x file.
func (oc *OpenIDConnect) noCallbackError() error {
	source := "Config.ClientSecrets"
	if oc.cfg.ClientSecrets == nil && oc.cfg.ClientSecretsFile != "" {
		source = oc.cfg.ClientSecretsFile
	}
	callback := oc.cfg.BasePath + oc.cfg.CallbackPath
	return fmt.Errorf("%w: %s: no entry of \"web.redirect_uris\" %q ends in CallbackPath %q, so the provider could not send the login back: "+
		"register the application's URL ending in %s at the provider and add it to \"web.redirect_uris\", "+
		"or set CallbackPath (OIDC_CALLBACK_PATH) to the path registered there (Flask-OIDC 1.x used /oidc_callback: OIDC_CALLBACK_PATH=/oidc_callback), "+
		"or set RedirectURL (OIDC_OVERWRITE_REDIRECT_URI)",
		ErrInvalidConfig, source, oc.secrets.RedirectURIs, callback, callback)
}

// appPath is a request path without BasePath, for matching CallbackPath,
// LogoutPath and BackchannelLogoutPath whether or not a proxy or
// http.StripPrefix removed the prefix already.
func (oc *OpenIDConnect) appPath(path string) string {
	if base := oc.cfg.BasePath; base != "" && strings.HasPrefix(path, base+"/") {
		return path[len(base):]
	}
	return path
}

// requestTarget is the URL of r as the browser sees it, for coming back to
// it after login: under BasePath even when the prefix was stripped.
func (oc *OpenIDConnect) requestTarget(r *http.Request) string {
	uri := r.URL.RequestURI()
	base := oc.cfg.BasePath
	if base == "" || r.URL.Path == base || strings.HasPrefix(r.URL.Path, base+"/") {
		return uri
	}
	return base + uri
}

// SafeRedirect returns target if it is safe to redirect a browser to after
// login or logout, else the application's home, BasePath + "/". Safe means
// a path on this site (one leading slash, no scheme or host, no space or
// control character, nothing a browser would read as another host such as
// //host or /\host, at most 2048 bytes) and, when BasePath is set, inside
// it with no dot segments. These are the rules of the next parameter of
// LoginHandler and LogoutPath; use it for the application's own redirects
// to user-supplied targets (Flask-OIDC's validate_return_url, without its
// //host bypass).
func (oc *OpenIDConnect) SafeRedirect(target string) string {
	home := oc.cfg.BasePath + "/"
	safe := safeNext(target)
	if safe != target {
		return home
	}
	base := oc.cfg.BasePath
	if base == "" {
		return safe
	}
	u, err := url.Parse(safe)
	if err != nil {
		return home
	}
	path, err := url.PathUnescape(u.EscapedPath())
	// safeNext let through no dot segment that could lead out of base.
	if err != nil || path != base && !strings.HasPrefix(path, base+"/") {
		return home
	}
	return safe
}

// LoginHandler returns the handler of Flask-OIDC's /login route, to mount
// where the application wants it: GET ?next=target sends an anonymous
// user to the provider and back to target, and a logged-in user straight
// to target. A target that SafeRedirect refuses becomes BasePath + "/". It
// needs Handler around it.
func (oc *OpenIDConnect) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, installed := r.Context().Value(userKey).(*User)
		next := oc.SafeRedirect(r.URL.Query().Get("next"))
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			oc.writeError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "Log in with a GET request.")
		case !installed:
			oc.log.Error("httpoidc: LoginHandler used without OpenIDConnect.Handler around it", "path", r.URL.Path)
			oc.writeError(w, r, http.StatusInternalServerError, "Internal error", "Login is not set up for this page.")
		case u.LoggedIn() || oc.cfg.Disabled:
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, next, http.StatusFound)
		default:
			oc.startLogin(w, r, next)
		}
	})
}

// endSessionURL is where RP-initiated logout goes: Config.EndSessionURL,
// else the discovered end_session_endpoint; "" for a local logout only.
func (oc *OpenIDConnect) endSessionURL() string {
	if oc.cfg.EndSessionURL != "" {
		return oc.cfg.EndSessionURL
	}
	if p := oc.provider.Load(); p != nil {
		return p.endSessionURL
	}
	return ""
}

// addLogoutParams adds Config.LogoutParams to an end session query.
func (oc *OpenIDConnect) addLogoutParams(q url.Values) {
	replacer := strings.NewReplacer("{client_id}", oc.secrets.ClientID, "{post_logout_redirect_uri}", oc.postLogoutURL)
	for k, v := range oc.cfg.LogoutParams {
		q.Set(k, replacer.Replace(v))
	}
}

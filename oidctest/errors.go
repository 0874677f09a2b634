package oidctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// maxBodyBytes bounds every request body, so bad input costs bounded work.
const maxBodyBytes = 64 << 10

// oauthError is an RFC 6749 §5.2 error response (also used by the RFC 6750,
// 7009, 7591 and 7662 endpoints).
type oauthError struct {
	status      int
	code        string
	description string
	// authenticate is the WWW-Authenticate header value, if any.
	authenticate string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func invalidRequest(format string, args ...any) error {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: fmt.Sprintf(format, args...)}
}

func invalidGrant(format string, args ...any) error {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", description: fmt.Sprintf(format, args...)}
}

func invalidScope(format string, args ...any) error {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: fmt.Sprintf(format, args...)}
}

func unavailable(what string) error {
	return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: what + " is down (fault injected)"}
}

// writeOAuthError answers with err's oauthError, or a server_error for any
// other error.
func writeOAuthError(w http.ResponseWriter, err error) {
	var e *oauthError
	if !errors.As(err, &e) {
		e = &oauthError{status: http.StatusInternalServerError, code: "server_error", description: err.Error()}
	}
	if e.authenticate != "" {
		w.Header().Set("WWW-Authenticate", e.authenticate)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON sends v with no-store, as RFC 6749 §5.1 requires for anything
// carrying tokens; the other documents are cheap enough not to cache.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// methodNotAllowed answers with the RFC 6749 error shape so that clients
// parsing errors as JSON still get one.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeOAuthError(w, &oauthError{
		status:      http.StatusMethodNotAllowed,
		code:        "invalid_request",
		description: "method not allowed; use " + allow,
	})
}

// parseForm reads a bounded form body. bodyOnly restricts the parameters to
// the body, as RFC 6749 requires of the token endpoint.
func parseForm(w http.ResponseWriter, r *http.Request, bodyOnly bool) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("malformed form body: %v", err)
	}
	if bodyOnly {
		return r.PostForm, nil
	}
	return r.Form, nil
}

// param returns a parameter that must appear at most once (RFC 6749 §3.1).
func param(form url.Values, name string) (string, error) {
	switch v := form[name]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", invalidRequest("parameter %s repeated", name)
}

// params reads several single-valued parameters at once, stopping at the
// first repeated one.
func params(form url.Values, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := param(form, n)
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

package httpoidc

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
)

// writeBearerError answers as RFC 6750 §3 says: the challenge, a JSON body
// with the error code and a fixed description, and no caching.
func writeBearerError(w http.ResponseWriter, status int, challenge, code, description string) {
	h := w.Header()
	if challenge != "" {
		// The challenge of the request's scheme comes first, before any
		// other scheme's offer already set.
		h["Www-Authenticate"] = append([]string{challenge}, h["Www-Authenticate"]...)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
}

// invalidRequestError is a malformed request; its text is the fixed
// error_description.
type invalidRequestError string

func (e invalidRequestError) Error() string { return string(e) }

var errNoToken = errors.New("no bearer token")

// presentedToken is a request's access token as bearerToken found it.
type presentedToken struct {
	token  string
	dpop   bool // sent with the DPoP scheme (RFC 9449 §7.1)
	inForm bool // sent in the access_token field of a form body (RFC 6750 §2.2)
}

// notB64Token is the invalid_request description for a token that is not
// an RFC 6750 b64token. bearerToken leaves that check to its caller, which
// skips it for a token validated before (acceptor.serve).
func (t presentedToken) notB64Token() invalidRequestError {
	if t.inForm {
		return invalidRequestError("the form body does not hold exactly one well-formed access_token")
	}
	return invalidRequestError("the Authorization header does not hold a well-formed bearer token")
}

// bearerToken returns the request's access token, errNoToken when it has
// none, or an invalidRequestError. The token is not checked against the
// b64token syntax: see presentedToken.notB64Token.
func bearerToken(r *http.Request, acceptForm bool) (presentedToken, error) {
	var sent presentedToken
	switch values := r.Header["Authorization"]; len(values) {
	case 0:
	case 1:
		scheme, rest, _ := strings.Cut(values[0], " ")
		// Another scheme carries no bearer token (RFC 6750 §3.1).
		sent.dpop = strings.EqualFold(scheme, "DPoP")
		if sent.dpop || strings.EqualFold(scheme, "Bearer") {
			sent.token = strings.TrimLeft(rest, " ")
			if sent.token == "" {
				return sent, sent.notB64Token()
			}
		}
	default:
		return presentedToken{}, invalidRequestError("more than one Authorization header")
	}
	if acceptForm && r.Method == http.MethodPost && isFormBody(r) {
		if err := r.ParseForm(); err != nil {
			return sent, invalidRequestError("the form body cannot be read")
		}
		if values, found := r.PostForm["access_token"]; found {
			switch {
			case sent.token != "":
				return sent, invalidRequestError("the access token was sent in more than one way")
			case len(values) != 1 || values[0] == "":
				return presentedToken{}, presentedToken{inForm: true}.notB64Token()
			}
			sent.token, sent.inForm = values[0], true
		}
	}
	if sent.token == "" {
		return presentedToken{}, errNoToken
	}
	return sent, nil
}

func isFormBody(r *http.Request) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/x-www-form-urlencoded"
}

// b64TokenChars are the characters of RFC 6750's b64token, trailing "="
// aside.
var b64TokenChars = func() (set [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		set[c] = true
	}
	return set
}()

// isB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenChars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

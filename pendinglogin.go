package httpoidc

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// A login sent to the provider and not yet back lives in the browser, in a
// cookie of its own, not in the session store: an anonymous visitor makes
// the server store nothing, however many requests it sends (issue 11,
// finding 1). The server-side session starts when a login succeeds.
//
// Each login has its own cookie, named after its state, so several tabs can
// log in at once; a browser holds at most maxPendingLogins of them, the
// oldest going first. Every one of them travels with every request to the
// site for pendingLoginTTL, so each stays small: a return path longer than
// maxPendingNext is not kept, and the login returns home instead. Proxies
// refuse a Cookie header past 8 KB (nginx's large_client_header_buffers,
// HAProxy's tune.bufsize): a few long-URL navigations must not lock the
// browser out of the site. The cookie is sealed with AES-256-GCM under a key
// derived for its state alone, and its name is the additional data: it
// cannot be read, changed, or moved to another state. It lives
// pendingLoginTTL, and the callback clears it whatever the outcome, so each
// state is usable once.

const (
	// maxPendingLogins bounds the logins a browser may have in flight (one
	// per tab); the oldest is dropped first.
	maxPendingLogins = 3
	// maxPendingNext bounds the return path a pending-login cookie keeps,
	// in bytes once JSON-encoded; a longer one is replaced by home.
	maxPendingNext = 512
	// pendingLoginTTL is how long the provider may take to send the user
	// back.
	pendingLoginTTL = 10 * time.Minute
	// pendingCookieBase starts the name of every pending-login cookie; the
	// state follows it.
	pendingCookieBase = "httpoidc_login_"
	// pendingCookieVersion is the first byte of a sealed cookie, so that the
	// format can change without misreading old cookies.
	pendingCookieVersion = 1
)

// pendingLogin is a login sent to the provider and not yet back.
type pendingLogin struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Created  int64  `json:"created"`
}

// pendingCookies seals pending logins into cookies and opens them again.
type pendingCookies struct {
	key    []byte // 32 bytes; per-state keys are derived from it
	secure bool
	prefix string
	// home is where a login returns when its return path is too long to
	// keep: BasePath + "/".
	home string
}

// cookieKey returns the key that seals pending-login cookies, the same on
// every replica (sharedkey.go).
func (oc *OpenIDConnect) cookieKey() ([]byte, error) {
	return oc.sharedKey("httpoidc pending login cookie v1")
}

func newPendingCookies(key []byte, secure bool, home string) *pendingCookies {
	prefix := hostCookieName(pendingCookieBase, secure)
	return &pendingCookies{key: key, secure: secure, prefix: prefix, home: home}
}

// hostCookieName is name with the __Host- prefix when the cookie is
// Secure. RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and
// for the whole site, so a sibling subdomain cannot plant one.
func hostCookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// aead returns the cipher for one state's cookie. Each state has its own
// key, so a random nonce is never reused under a key however many logins
// there are, and a cookie sealed for one state cannot open for another.
func (c *pendingCookies) aead(state string) (cipher.AEAD, error) {
	key, err := hkdf.Expand(sha256.New, c.key, "httpoidc pending login "+state, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (c *pendingCookies) seal(p pendingLogin) (string, error) {
	aead, err := c.aead(p.State)
	if err != nil {
		return "", err
	}
	// The encoded length counts: JSON writes "<" or a byte of invalid
	// UTF-8 as six.
	if next, err := json.Marshal(p.Next); err != nil || len(next) > maxPendingNext {
		p.Next = c.home
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = pendingCookieVersion
	rand.Read(out[1:])
	out = aead.Seal(out, out[1:], plain, []byte(c.prefix+p.State))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open returns the pending login sealed in a cookie for state, and false
// for anything forged, changed, for another state or from another key.
func (c *pendingCookies) open(state, value string) (pendingLogin, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 1 || raw[0] != pendingCookieVersion {
		return pendingLogin{}, false
	}
	aead, err := c.aead(state)
	if err != nil || len(raw) < 1+aead.NonceSize() {
		return pendingLogin{}, false
	}
	nonce, sealed := raw[1:1+aead.NonceSize()], raw[1+aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, []byte(c.prefix+state))
	if err != nil {
		return pendingLogin{}, false
	}
	var p pendingLogin
	if json.Unmarshal(plain, &p) != nil || p.State != state {
		return pendingLogin{}, false
	}
	return p, true
}

func (c *pendingCookies) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

// add sets the cookie for p and deletes the browser's expired, unreadable
// and oldest pending-login cookies beyond maxPendingLogins.
func (c *pendingCookies) add(w http.ResponseWriter, r *http.Request, p pendingLogin, now time.Time) error {
	value, err := c.seal(p)
	if err != nil {
		return fmt.Errorf("sealing the pending login: %w", err)
	}
	type held struct {
		name    string
		created int64
	}
	var kept []held
	for _, ck := range r.Cookies() {
		state, ok := strings.CutPrefix(ck.Name, c.prefix)
		if !ok || state == p.State {
			continue
		}
		if old, ok := c.open(state, ck.Value); ok && !pendingExpired(old, now) {
			kept = append(kept, held{ck.Name, old.Created})
			continue
		}
		http.SetCookie(w, c.cookie(ck.Name, "", -1))
	}
	slices.SortFunc(kept, func(a, b held) int { return cmp.Compare(a.created, b.created) })
	for len(kept) >= maxPendingLogins {
		http.SetCookie(w, c.cookie(kept[0].name, "", -1))
		kept = kept[1:]
	}
	http.SetCookie(w, c.cookie(c.prefix+p.State, value, int(pendingLoginTTL/time.Second)))
	return nil
}

// take returns the pending login of state and clears its cookie: each
// state is usable once, whatever the outcome of the callback. It returns
// false when the browser has no valid, unexpired cookie for state.
func (c *pendingCookies) take(w http.ResponseWriter, r *http.Request, state string, now time.Time) (pendingLogin, bool) {
	if state == "" {
		return pendingLogin{}, false
	}
	ck, err := r.Cookie(c.prefix + state)
	if err != nil {
		return pendingLogin{}, false
	}
	http.SetCookie(w, c.cookie(ck.Name, "", -1))
	p, ok := c.open(state, ck.Value)
	if !ok || pendingExpired(p, now) {
		return pendingLogin{}, false
	}
	return p, true
}

func pendingExpired(p pendingLogin, now time.Time) bool {
	return now.Sub(time.Unix(p.Created, 0)) > pendingLoginTTL
}

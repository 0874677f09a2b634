package httpoidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// sessionKey is the one key this package uses in the scs session. Its value
// is a JSON string, so no gob registration is needed and every scs store
// and codec works.
const sessionKey = "httpoidc"

const (
	sessionVersion = 1
	// maxPendingLogins bounds the logins a browser may have in flight (one
	// per tab); the oldest is dropped first.
	maxPendingLogins = 5
	// pendingLoginTTL is how long the provider may take to send the user
	// back.
	pendingLoginTTL = 10 * time.Minute
)

// sessionData is everything httpoidc keeps in a session.
type sessionData struct {
	Version int            `json:"v"`
	Pending []pendingLogin `json:"pending,omitempty"`
	Logout  *pendingLogout `json:"logout,omitempty"`
	Login   *loginData     `json:"login,omitempty"`
}

// pendingLogin is a login sent to the provider and not yet back.
type pendingLogin struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Created  int64  `json:"created"`
}

// pendingLogout is an RP-initiated logout sent to the provider.
type pendingLogout struct {
	State   string `json:"state"`
	Next    string `json:"next"`
	Created int64  `json:"created"`
}

// loginData is a logged-in user: the profile and the tokens.
type loginData struct {
	Subject      string         `json:"sub"`
	SessionID    string         `json:"sid,omitempty"`
	Profile      map[string]any `json:"profile"`
	AccessToken  string         `json:"at,omitempty"`
	RefreshToken string         `json:"rt,omitempty"`
	IDToken      string         `json:"idt,omitempty"`
	Expiry       int64          `json:"exp,omitempty"`
}

// decodeSession parses a stored session value; anything unreadable,
// including another version's format, is an empty session rather than an
// error, so a bad cookie can never lock a user out.
func decodeSession(raw string) sessionData {
	var d sessionData
	if raw == "" || json.Unmarshal([]byte(raw), &d) != nil || d.Version != sessionVersion {
		return sessionData{Version: sessionVersion}
	}
	if d.Login != nil && d.Login.Subject == "" {
		d.Login = nil
	}
	return d
}

func (oc *OpenIDConnect) loadSession(ctx context.Context) sessionData {
	return decodeSession(oc.sessions.GetString(ctx, sessionKey))
}

func (oc *OpenIDConnect) saveSession(ctx context.Context, d sessionData) {
	if len(d.Pending) == 0 && d.Login == nil && d.Logout == nil {
		oc.sessions.Remove(ctx, sessionKey)
		return
	}
	d.Version = sessionVersion
	raw, err := json.Marshal(d)
	if err != nil {
		// Only values from json.Unmarshal are stored, so this cannot fail;
		// keeping the old session is the safe outcome if it ever did.
		oc.log.Error("httpoidc: encoding session", "error", err)
		return
	}
	oc.sessions.Put(ctx, sessionKey, string(raw))
}

// addPending records a login, dropping expired ones and the oldest beyond
// maxPendingLogins.
func (d *sessionData) addPending(p pendingLogin, now time.Time) {
	d.Pending = slices.DeleteFunc(d.Pending, func(old pendingLogin) bool {
		return now.Sub(time.Unix(old.Created, 0)) > pendingLoginTTL
	})
	d.Pending = append(d.Pending, p)
	if over := len(d.Pending) - maxPendingLogins; over > 0 {
		d.Pending = d.Pending[over:]
	}
}

// takePending removes and returns the login with this state: each state is
// usable once.
func (d *sessionData) takePending(state string, now time.Time) (pendingLogin, bool) {
	for i, p := range d.Pending {
		if state != "" && p.State == state {
			d.Pending = slices.Delete(d.Pending, i, i+1)
			if now.Sub(time.Unix(p.Created, 0)) > pendingLoginTTL {
				return pendingLogin{}, false
			}
			return p, true
		}
	}
	return pendingLogin{}, false
}

// tokenHash keys caches and store indexes by a digest, never by the token.
func tokenHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Back-channel logout needs to find the sessions of a provider session
// (sid) or user (sub). The index lives in the session store itself, so it
// is shared by every replica that shares the store.
func sidIndexKey(issuer, sid string) string { return "httpoidc-sid-" + tokenHash(issuer, sid) }
func subIndexKey(issuer, sub string) string { return "httpoidc-sub-" + tokenHash(issuer, sub) }

// maxIndexedSessions bounds the sessions remembered per user.
const maxIndexedSessions = 20

// sessionStore reaches the scs store with the request's context when the
// store takes one: some stores (goredisstore) only work that way.
type sessionStore struct {
	ctx   context.Context
	store scs.Store
}

func (oc *OpenIDConnect) store(ctx context.Context) sessionStore {
	return sessionStore{ctx: ctx, store: oc.sessions.Store}
}

func (s sessionStore) find(key string) ([]byte, bool, error) {
	if cs, ok := s.store.(scs.CtxStore); ok {
		return cs.FindCtx(s.ctx, key)
	}
	return s.store.Find(key)
}

func (s sessionStore) commit(key string, value []byte, expiry time.Time) error {
	if cs, ok := s.store.(scs.CtxStore); ok {
		return cs.CommitCtx(s.ctx, key, value, expiry)
	}
	return s.store.Commit(key, value, expiry)
}

func (s sessionStore) delete(key string) error {
	if cs, ok := s.store.(scs.CtxStore); ok {
		return cs.DeleteCtx(s.ctx, key)
	}
	return s.store.Delete(key)
}

func (oc *OpenIDConnect) indexSession(ctx context.Context, issuer string, login *loginData) {
	token := oc.sessions.Token(ctx)
	if token == "" {
		return
	}
	expiry := oc.cfg.Now().Add(oc.sessions.Lifetime)
	store := oc.store(ctx)
	if login.SessionID != "" {
		if err := store.commit(sidIndexKey(issuer, login.SessionID), []byte(token), expiry); err != nil {
			oc.log.Warn("httpoidc: indexing session for back-channel logout", "error", err)
		}
	}
	key := subIndexKey(issuer, login.Subject)
	var tokens []string
	if raw, found, err := store.find(key); err == nil && found {
		_ = json.Unmarshal(raw, &tokens)
	}
	tokens = append(slices.DeleteFunc(tokens, func(t string) bool { return t == token }), token)
	if over := len(tokens) - maxIndexedSessions; over > 0 {
		tokens = tokens[over:]
	}
	raw, _ := json.Marshal(tokens)
	if err := store.commit(key, raw, expiry); err != nil {
		oc.log.Warn("httpoidc: indexing session for back-channel logout", "error", err)
	}
}

// destroyIndexedSessions deletes the sessions a back-channel logout token
// names, calling ending with each session's token first, and returns how
// many index entries it found.
func (oc *OpenIDConnect) destroyIndexedSessions(ctx context.Context, issuer, sid, sub string, ending func(ctx context.Context, token string)) (int, error) {
	store := oc.store(ctx)
	var tokens []string
	if sid != "" {
		if raw, found, err := store.find(sidIndexKey(issuer, sid)); err != nil {
			return 0, err
		} else if found {
			tokens = append(tokens, string(raw))
		}
	}
	if sub != "" && sid == "" {
		if raw, found, err := store.find(subIndexKey(issuer, sub)); err != nil {
			return 0, err
		} else if found {
			var list []string
			_ = json.Unmarshal(raw, &list)
			tokens = append(tokens, list...)
		}
	}
	for _, t := range tokens {
		ending(ctx, t)
		if err := store.delete(t); err != nil {
			return 0, err
		}
	}
	return len(tokens), nil
}

// logoutTokenReplayed records a back-channel logout token ID until the
// token expires and reports whether it was already recorded. The record is
// in the session store, so replicas sharing the store share the guard.
func (oc *OpenIDConnect) logoutTokenReplayed(ctx context.Context, issuer, jti string, expiry time.Time) (bool, error) {
	key := "httpoidc-jti-" + tokenHash(issuer, jti)
	store := oc.store(ctx)
	if _, found, err := store.find(key); err != nil {
		return false, err
	} else if found {
		return true, nil
	}
	return false, store.commit(key, []byte{1}, expiry.Add(oc.cfg.ClockSkew))
}

// refresher makes one refresh per refresh token at a time, and remembers
// recent results: a request that loaded the session just before another
// request stored the rotated tokens still gets the new ones, instead of
// replaying a refresh token the provider has already retired.
type refresher struct {
	group  singleflight.Group
	mu     sync.Mutex
	recent map[string]refreshResult
}

type refreshResult struct {
	login *loginData
	at    time.Time
}

// recentRefreshTTL is how long a refresh result is reused for requests that
// still carry the old refresh token.
const recentRefreshTTL = time.Minute

// errRefreshRejected marks a refresh the provider refused: the login is over.
var errRefreshRejected = errors.New("refresh token rejected")

func (oc *OpenIDConnect) needsRefresh(login *loginData) bool {
	return login.Expiry != 0 && !oc.cfg.Now().Add(oc.cfg.ClockSkew).Before(time.Unix(login.Expiry, 0))
}

// refresh returns the login with fresh tokens. An error wrapping
// errRefreshRejected means the user must log in again; other errors are
// transient.
func (oc *OpenIDConnect) refresh(ctx context.Context, login *loginData) (*loginData, error) {
	if login.RefreshToken == "" {
		return nil, fmt.Errorf("%w: access token expired and no refresh token", errRefreshRejected)
	}
	key := tokenHash(login.RefreshToken)
	now := oc.cfg.Now()
	r := &oc.refreshes
	r.mu.Lock()
	if res, ok := r.recent[key]; ok && now.Sub(res.at) < recentRefreshTTL {
		r.mu.Unlock()
		return res.login, nil
	}
	r.mu.Unlock()
	v, err, _ := r.group.Do(key, func() (any, error) {
		fresh, err := oc.refreshOnce(context.WithoutCancel(ctx), login)
		if err != nil {
			return nil, err
		}
		if err := oc.authorizeRefreshed(context.WithoutCancel(ctx), fresh); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.recent == nil {
			r.recent = make(map[string]refreshResult)
		}
		for k, res := range r.recent {
			if now.Sub(res.at) >= recentRefreshTTL {
				delete(r.recent, k)
			}
		}
		r.recent[key] = refreshResult{login: fresh, at: now}
		return fresh, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*loginData), nil
}

func (oc *OpenIDConnect) refreshOnce(ctx context.Context, login *loginData) (*loginData, error) {
	p, err := oc.discover(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := oc.outbound(ctx)
	defer cancel()
	tok, err := p.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: login.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return nil, fmt.Errorf("%w: provider answered %q", errRefreshRejected, re.ErrorCode)
		}
		return nil, fmt.Errorf("%w: refreshing token: %w", ErrProviderUnavailable, err)
	}
	fresh := *login
	var idClaims map[string]any
	fresh.AccessToken = tok.AccessToken
	fresh.Expiry = oc.expiryUnix(tok)
	if tok.RefreshToken != "" {
		fresh.RefreshToken = tok.RefreshToken
	}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		idToken, err := p.idTokens.Verify(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: refreshed ID token: %w", errRefreshRejected, err)
		}
		if idToken.Subject != login.Subject {
			return nil, fmt.Errorf("%w: refreshed ID token is for another subject", errRefreshRejected)
		}
		fresh.IDToken = raw
		if err := idToken.Claims(&idClaims); err != nil {
			return nil, fmt.Errorf("%w: refreshed ID token: %w", errRefreshRejected, err)
		}
	}
	if err := oc.refreshProfile(ctx, p, &fresh, idClaims); err != nil {
		return nil, err
	}
	return &fresh, nil
}

// expiryUnix computes the access token's expiry on the package's clock
// (x/oauth2's Token.Expiry uses the wall clock).
func (oc *OpenIDConnect) expiryUnix(tok *oauth2.Token) int64 {
	switch {
	case tok.ExpiresIn > 0:
		return oc.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second).Unix()
	case !tok.Expiry.IsZero():
		return tok.Expiry.Unix()
	}
	return 0
}

// loadUser returns the request's login, refreshing its tokens when they are
// about to expire. The returned flag is true when a refresh was refused and
// the login cleared.
func (oc *OpenIDConnect) loadUser(r *http.Request) (*loginData, bool) {
	login, err := oc.currentLogin(r.Context())
	return login, err != nil
}

// currentLogin returns the session's login, nil for nobody, refreshing its
// tokens when they are about to expire. When the provider or Authorize
// refuses the refresh, the login is ended and the error is a
// *LoginEndedError.
func (oc *OpenIDConnect) currentLogin(ctx context.Context) (*loginData, error) {
	d := oc.loadSession(ctx)
	if d.Login == nil || !oc.needsRefresh(d.Login) {
		return d.Login, nil
	}
	fresh, err := oc.refresh(ctx, d.Login)
	switch {
	case err == nil:
		d.Login = fresh
		oc.saveSession(ctx, d)
		return fresh, nil
	case errors.Is(err, errRefreshRejected):
		reason := LogoutRefreshRefused
		if errors.Is(err, errAuthorizeRefused) {
			reason = LogoutAuthorizeRefused
		}
		oc.log.Info("httpoidc: login ended: token refresh refused", "sub", d.Login.Subject, "reason", err)
		oc.onLogout(ctx, oc.newUser(ctx, d.Login), reason)
		d.Login = nil
		oc.saveSession(ctx, d)
		return nil, &LoginEndedError{Reason: reason, cause: err}
	default:
		// The provider is unreachable: the login stays, with the old
		// access token, and the next request tries again.
		oc.log.Warn("httpoidc: token refresh failed", "sub", d.Login.Subject, "error", err)
		return d.Login, nil
	}
}

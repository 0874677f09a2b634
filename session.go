package httpoidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// sessionVersion is the format of the stored value. Fields added since
// are optional, so sessions stored by earlier releases stay readable;
// their pending logins, now kept in cookies, are ignored.
const sessionVersion = 1

// sessionData is everything httpoidc keeps in a session. It exists only
// for a logged-in user, or one coming back from the provider's logout.
type sessionData struct {
	Version int            `json:"v"`
	Logout  *pendingLogout `json:"logout,omitempty"`
	Login   *loginData     `json:"login,omitempty"`
}

// pendingLogout is an RP-initiated logout sent to the provider.
type pendingLogout struct {
	State   string `json:"state"`
	Next    string `json:"next"`
	Created int64  `json:"created"`
}

// loginData is a logged-in user: the profile and the tokens.
type loginData struct {
	Subject   string         `json:"sub"`
	SessionID string         `json:"sid,omitempty"`
	Profile   map[string]any `json:"profile"`
	loginTokens
	// Issuer is the provider's issuer, which scopes the logout records.
	Issuer string `json:"iss,omitempty"`
	// ID names this login when the provider sent no sid.
	ID string `json:"id,omitempty"`
	// UserEpoch and LoginEpoch are the logout records of the user and of
	// this login as they stood at login: a logout since has raised them.
	UserEpoch  int64 `json:"ue,omitempty"`
	LoginEpoch int64 `json:"le,omitempty"`
}

// loginTokens are the tokens of a login, which a refresh renews. Embedded,
// their fields are stored as the login's own.
type loginTokens struct {
	AccessToken  string `json:"at,omitempty"`
	RefreshToken string `json:"rt,omitempty"`
	IDToken      string `json:"idt,omitempty"`
	Expiry       int64  `json:"exp,omitempty"`
	// Obtained is when the access token was issued, on the package clock;
	// with Expiry it gives the token's lifetime. Zero in sessions stored
	// by earlier releases.
	Obtained int64 `json:"obtained,omitempty"`
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
	return oc.decoded.decode(oc.sessions.GetString(ctx, sessionKey))
}

func (oc *OpenIDConnect) saveSession(ctx context.Context, d sessionData) {
	if d.Login == nil && d.Logout == nil {
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

// tokenHash keys caches and store indexes by a digest, never by the token.
func tokenHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

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

// logoutTokenUsed reports whether a back-channel logout token ID was
// recorded by recordLogoutToken. The record is in the session store, so
// replicas sharing the store share the guard.
func (oc *OpenIDConnect) logoutTokenUsed(ctx context.Context, issuer, jti string) (bool, error) {
	_, found, err := oc.store(ctx).find(logoutTokenKey(issuer, jti))
	return found, err
}

// recordLogoutToken records a back-channel logout token ID until the token
// expires.
func (oc *OpenIDConnect) recordLogoutToken(ctx context.Context, issuer, jti string, expiry time.Time) error {
	return oc.store(ctx).commit(logoutTokenKey(issuer, jti), []byte{1}, expiry.Add(oc.cfg.ClockSkew))
}

func logoutTokenKey(issuer, jti string) string { return "httpoidc-jti-" + tokenHash(issuer, jti) }

// refresher makes one refresh per refresh token at a time, and remembers
// recent results: a request that loaded the session just before another
// request stored the rotated tokens still gets the new ones, instead of
// replaying a refresh token the provider has already retired. Across
// replicas, the session store does the same (sharedrefresh.go).
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

// The refresh margin is how long before its expiry an access token is
// renewed: a fifth of its lifetime, at most maxRefreshMargin. It is not
// ClockSkew: the expiry is counted on this server's clock from expires_in,
// so no clock difference applies, and a token living less than ClockSkew
// must still be used before it is renewed (issue 10: Hydra's 30-second
// tokens with the default 60-second skew expired as they arrived, and the
// login looped).
const (
	refreshMarginDivisor = 5
	maxRefreshMargin     = time.Minute
)

// needsRefresh reports whether the login's access token is expired or
// within the refresh margin of it, and can be renewed. Without a refresh
// token the login stays as long as the session does: the access token
// cannot be renewed, and its end must not end the login.
func (oc *OpenIDConnect) needsRefresh(login *loginData) bool {
	if login.Expiry == 0 || login.RefreshToken == "" {
		return false
	}
	expiry := time.Unix(login.Expiry, 0)
	margin := maxRefreshMargin
	if login.Obtained != 0 {
		margin = min(expiry.Sub(time.Unix(login.Obtained, 0))/refreshMarginDivisor, maxRefreshMargin)
	}
	return !oc.cfg.Now().Add(margin).Before(expiry)
}

// refresh returns the login, which needsRefresh chose (so it has a refresh
// token), with fresh tokens, making at most one refresh grant per refresh
// token across all requests and, with a shared session store, all
// replicas. An error wrapping errRefreshRejected means the user
// must log in again; other errors are transient.
func (oc *OpenIDConnect) refresh(ctx context.Context, login *loginData) (*loginData, error) {
	key := tokenHash(login.RefreshToken)
	now := oc.cfg.Now()
	r := &oc.refreshes
	r.mu.Lock()
	// A provider that does not rotate refresh tokens leaves the key the
	// same for the next refresh: a result that itself needs refreshing,
	// whose access token lived less than recentRefreshTTL, is not reused.
	if res, ok := r.recent[key]; ok && now.Sub(res.at) < recentRefreshTTL && !oc.needsRefresh(res.login) {
		r.mu.Unlock()
		return res.login, nil
	}
	r.mu.Unlock()
	v, err, _ := r.group.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		var fresh *loginData
		var err error
		if oc.sharedStore() {
			fresh, err = oc.refreshShared(ctx, key, login)
		} else {
			fresh, err = oc.refreshGrant(ctx, login)
		}
		if err != nil {
			return nil, err
		}
		if err := oc.authorizeRefreshed(ctx, fresh); err != nil {
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

// refreshGrant makes the refresh grant and notes when the new access token
// was obtained, for the refresh margin.
func (oc *OpenIDConnect) refreshGrant(ctx context.Context, login *loginData) (*loginData, error) {
	obtained := oc.cfg.Now().Unix()
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
	if err := oc.checkTokenType(tok); err != nil {
		return nil, fmt.Errorf("%w: %w", errRefreshRejected, err)
	}
	fresh := *login
	var idClaims map[string]any
	fresh.Obtained = obtained
	fresh.AccessToken = tok.AccessToken
	fresh.Expiry = oc.expiryUnix(tok)
	if tok.RefreshToken != "" {
		fresh.RefreshToken = tok.RefreshToken
	}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		// OpenID Connect Core §12.2: every check of the login, and the same
		// authentication as the login's ID token.
		origin, err := idTokenAtRefresh(login)
		if err == nil {
			_, idClaims, err = oc.verifyIDToken(ctx, p, raw, tok.AccessToken, origin)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: refreshed ID token: %w", errRefreshRejected, err)
		}
		fresh.IDToken = raw
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
// the login cleared. An error means the session store could not say whether
// a logout ended the login: the request must fail rather than guess.
func (oc *OpenIDConnect) loadUser(r *http.Request) (*loginData, bool, error) {
	login, err := oc.currentLogin(r.Context())
	var ended *LoginEndedError
	switch {
	case errors.As(err, &ended):
		return nil, ended.Reason == LogoutRefreshRefused || ended.Reason == LogoutAuthorizeRefused, nil
	case err != nil:
		return nil, false, err
	}
	return login, false, nil
}

// currentLogin returns the session's login, nil for nobody, refreshing its
// tokens when they are about to expire. When a logout elsewhere has ended
// the login, or the provider or Authorize refuses the refresh, the login is
// cleared and the error is a *LoginEndedError; any other error is the
// session store's.
func (oc *OpenIDConnect) currentLogin(ctx context.Context) (*loginData, error) {
	d := oc.loadSession(ctx)
	if d.Login == nil {
		return nil, nil
	}
	if err := oc.endIfLoggedOut(ctx, &d, "httpoidc: login ended by a logout elsewhere"); err != nil {
		return nil, err
	}
	if d.Login.ID == "" {
		// A session stored by an earlier release: give the login a name of
		// its own for its logout record.
		d.Login.ID = rand.Text()
		oc.saveSession(ctx, d)
	}
	if !oc.needsRefresh(d.Login) {
		return d.Login, nil
	}
	fresh, err := oc.refresh(ctx, d.Login)
	switch {
	case err == nil:
		// A logout during the refresh wins: the refreshed login is saved
		// only if no logout has ended it meanwhile.
		if err := oc.endIfLoggedOut(ctx, &d, "httpoidc: login ended by a logout during a token refresh"); err != nil {
			return nil, err
		}
		// Concurrent requests share one refresh's result: each takes its
		// own copy, as from the session memo, since User.Profile is the
		// request's to change. Once per refresh, not per request.
		fresh = sessionData{Login: fresh}.clone().Login
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

// endIfLoggedOut clears the session's login when a logout has ended it
// since it was made, and then returns a *LoginEndedError. OnLogout runs
// here for a back-channel logout, which cannot reach the sessions it ends;
// a logout in the app has run it already.
func (oc *OpenIDConnect) endIfLoggedOut(ctx context.Context, d *sessionData, message string) error {
	reason, over, err := oc.loggedOut(ctx, d.Login)
	if err != nil || !over {
		return err
	}
	oc.log.Info(message, "sub", d.Login.Subject, "reason", reason)
	if reason == LogoutBackchannel {
		oc.onLogout(ctx, oc.newUser(ctx, d.Login), reason)
	}
	d.Login = nil
	oc.saveSession(ctx, *d)
	return &LoginEndedError{Reason: reason}
}

package httpoidc

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A logout must end logins it cannot reach: the sessions of a user on
// other devices, however many (a back-channel logout token may name only
// the sub, OpenID Connect Back-Channel Logout 1.0 §2.4), and a copy of the
// session that a request still in flight, say one refreshing its tokens,
// is about to save again (issue 11, findings 3 and 4).
//
// So a logout does not look for sessions; it raises a logout epoch in the
// session store, shared by every replica: one per user (issuer, sub) and
// one per login (issuer, sid, or the login's own ID when the provider sent
// no sid). A login remembers both epochs as they stood when it was made,
// and is over as soon as either has risen: this is checked when a session
// loads and again before a refreshed login is saved, so a logout wins over
// any concurrent save.
//
// A record holds the epoch and why it rose (a LogoutReason), so that the
// sessions a back-channel logout ends report it to OnLogout when they are
// next used.
//
// An epoch is raised to max(old+1, now in nanoseconds): it always grows,
// even between replicas whose clocks disagree, and when its record has
// expired (a session lifetime after the last logout, when every session it
// ended has expired too) the new value is still above every value a live
// session can remember.

func userLogoutKey(issuer, sub string) string {
	return "httpoidc-logout-user-" + tokenHash(issuer, sub)
}

func loginLogoutKey(issuer, loginKey string) string {
	return "httpoidc-logout-login-" + tokenHash(issuer, loginKey)
}

// loginKey names the login for its logout record: the provider's session
// ID, which a back-channel logout token may carry, else the login's ID.
// It is "" for a login an earlier release stored without a sid, until
// currentLogin gives it an ID: such a login has no record of its own,
// since one name for all of them would let one logout end them all.
func (l *loginData) loginKey() string {
	switch {
	case l.SessionID != "":
		return "sid:" + l.SessionID
	case l.ID != "":
		return "id:" + l.ID
	}
	return ""
}

// loginIssuer returns the issuer that scopes the login's logout records.
func (oc *OpenIDConnect) loginIssuer(l *loginData) string {
	if l.Issuer != "" {
		return l.Issuer
	}
	return oc.providerIssuer()
}

// providerIssuer is the discovered issuer, else the configured one.
func (oc *OpenIDConnect) providerIssuer() string {
	if p := oc.provider.Load(); p != nil {
		return p.issuer
	}
	return oc.secrets.Issuer
}

// logoutRecord is a logout epoch and why it last rose.
type logoutRecord struct {
	epoch  int64
	reason LogoutReason
}

// readEpoch returns the logout record stored under key, zero if none.
func (oc *OpenIDConnect) readEpoch(ctx context.Context, key string) (logoutRecord, error) {
	raw, found, err := oc.store(ctx).find(key)
	if err != nil || !found {
		return logoutRecord{}, err
	}
	epoch, reason, _ := strings.Cut(string(raw), " ")
	n, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		// Unreadable: the safest reading is a logout that just happened.
		return logoutRecord{epoch: oc.cfg.Now().UnixNano(), reason: LogoutBackchannel}, nil
	}
	return logoutRecord{epoch: n, reason: LogoutReason(reason)}, nil
}

// logoutEpochs returns the current epochs of the login's user and of the
// login itself.
func (oc *OpenIDConnect) logoutEpochs(ctx context.Context, l *loginData) (user, login logoutRecord, err error) {
	issuer := oc.loginIssuer(l)
	if user, err = oc.readEpoch(ctx, userLogoutKey(issuer, l.Subject)); err != nil {
		return user, login, fmt.Errorf("reading logout records: %w", err)
	}
	key := l.loginKey()
	if key == "" {
		return user, login, nil
	}
	if login, err = oc.readEpoch(ctx, loginLogoutKey(issuer, key)); err != nil {
		return user, login, fmt.Errorf("reading logout records: %w", err)
	}
	return user, login, nil
}

// stampLogin gives a new login its issuer, its ID and the epochs it must
// outlive.
func (oc *OpenIDConnect) stampLogin(ctx context.Context, l *loginData) error {
	l.Issuer = oc.providerIssuer()
	l.ID = rand.Text()
	user, login, err := oc.logoutEpochs(ctx, l)
	l.UserEpoch, l.LoginEpoch = user.epoch, login.epoch
	return err
}

// loggedOut reports whether a logout has ended the login since it was
// made, and why.
func (oc *OpenIDConnect) loggedOut(ctx context.Context, l *loginData) (LogoutReason, bool, error) {
	user, login, err := oc.logoutEpochs(ctx, l)
	switch {
	case err != nil:
		return "", false, err
	case user.epoch > l.UserEpoch:
		return user.reason, true, nil
	case login.epoch > l.LoginEpoch:
		return login.reason, true, nil
	}
	return "", false, nil
}

// raiseEpoch records a logout under key: every login that remembers an
// older epoch is over.
func (oc *OpenIDConnect) raiseEpoch(ctx context.Context, key string, reason LogoutReason) error {
	old, err := oc.readEpoch(ctx, key)
	if err != nil {
		return err
	}
	epoch := max(old.epoch+1, oc.cfg.Now().UnixNano())
	// Stores expire entries by the wall clock, whatever Config.Now says.
	// Every session alive now ends within one session lifetime.
	expiry := time.Now().Add(oc.sessions.Lifetime)
	return oc.store(ctx).commit(key, []byte(strconv.FormatInt(epoch, 10)+" "+string(reason)), expiry)
}

// endUserLogins ends every login of a user (a back-channel logout by sub).
func (oc *OpenIDConnect) endUserLogins(ctx context.Context, issuer, sub string) error {
	return oc.raiseEpoch(ctx, userLogoutKey(issuer, sub), LogoutBackchannel)
}

// endProviderSession ends every login made in a provider session (a
// back-channel logout by sid).
func (oc *OpenIDConnect) endProviderSession(ctx context.Context, issuer, sid string) error {
	return oc.raiseEpoch(ctx, loginLogoutKey(issuer, "sid:"+sid), LogoutBackchannel)
}

// endThisLogin ends a login wherever a copy of it is, or is about to be,
// saved.
func (oc *OpenIDConnect) endThisLogin(ctx context.Context, l *loginData, reason LogoutReason) error {
	key := l.loginKey()
	if key == "" {
		// A login without a record: clearing its session (endLogin) is
		// all there is to do.
		return nil
	}
	return oc.raiseEpoch(ctx, loginLogoutKey(oc.loginIssuer(l), key), reason)
}

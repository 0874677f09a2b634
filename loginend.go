package httpoidc

import (
	"context"
	"errors"
	"fmt"
)

// LogoutReason says why a login ended; Config.OnLogout receives it.
type LogoutReason string

// The ends of a login.
const (
	// LogoutLocal: the user logged out at LogoutPath without being sent to
	// the provider, or the application called User.Logout.
	LogoutLocal LogoutReason = "local"
	// LogoutRPInitiated: the user logged out at LogoutPath and was sent on
	// to the provider's end session endpoint (RP-Initiated Logout 1.0).
	LogoutRPInitiated LogoutReason = "rp-initiated"
	// LogoutBackchannel: the provider ended the login with a back-channel
	// logout token (Back-Channel Logout 1.0). OnLogout runs when the
	// session is next used: the token may end any number of sessions, and
	// none is looked up when it arrives.
	LogoutBackchannel LogoutReason = "backchannel"
	// LogoutRefreshRefused: the provider refused to refresh the tokens.
	LogoutRefreshRefused LogoutReason = "refresh-refused"
	// LogoutAuthorizeRefused: after a refresh, the login policies or
	// Config.Authorize refused the user.
	LogoutAuthorizeRefused LogoutReason = "authorize-refused"
)

// ErrLoginEnded is matched (errors.Is) by every *LoginEndedError.
var ErrLoginEnded = errors.New("httpoidc: login ended")

// LoginEndedError is the error of User.TokenSource and OpenIDConnect.Client
// when there is no login to act for: nobody is logged in (Reason empty), or
// the login ended while the request ran (Reason says why). The user has to
// log in again.
type LoginEndedError struct {
	// Reason is why the login ended; empty when nobody was logged in.
	Reason LogoutReason
	cause  error
}

// Error says that the login ended and why.
func (e *LoginEndedError) Error() string {
	if e.Reason == "" {
		return "httpoidc: no user is logged in"
	}
	if e.cause != nil {
		return fmt.Sprintf("httpoidc: login ended (%s): %v", e.Reason, e.cause)
	}
	return fmt.Sprintf("httpoidc: login ended (%s)", e.Reason)
}

// Is makes errors.Is(err, ErrLoginEnded) true.
func (e *LoginEndedError) Is(target error) bool { return target == ErrLoginEnded }

// Unwrap returns what ended the login, such as the provider's refusal.
func (e *LoginEndedError) Unwrap() error { return e.cause }

// onLogout runs Config.OnLogout.
func (oc *OpenIDConnect) onLogout(ctx context.Context, u *User, reason LogoutReason) {
	if oc.cfg.OnLogout != nil {
		oc.cfg.OnLogout(ctx, u, reason)
	}
}

package httpoidc

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource returns the user's access token as an oauth2.TokenSource,
// for calling APIs as the user (Flask-OIDC's ensure_active_token, the
// Auth0 guide's auth0.get). Each Token call reads the login from the
// session, so it is safe for concurrent use by the request's goroutines;
// u itself keeps the tokens it was made with. When the access token is
// about to expire (within a fifth of its lifetime, at most a minute) it is
// refreshed through the same single-flight refresher the middleware uses,
// the policies and Config.Authorize run again, and the new tokens are
// saved in the session. Call it before the response is written: the
// session is saved with the response's headers.
//
// Token returns a *LoginEndedError (errors.Is ErrLoginEnded) when nobody
// is logged in, the login was ended meanwhile, or the provider or
// Authorize refused the refresh (the login is then ended, and OnLogout
// called); an error wrapping ErrProviderUnavailable when the access
// token has expired and the provider cannot be reached to refresh it; and
// one wrapping ErrInvalidToken when it has expired and the provider issued
// no refresh token (the login itself lasts as long as the session).
// The user must come from UserFrom in a request served by Handler.
func (u *User) TokenSource() oauth2.TokenSource {
	return userTokenSource{u}
}

type userTokenSource struct{ u *User }

func (s userTokenSource) Token() (*oauth2.Token, error) {
	u := s.u
	if !u.LoggedIn() || u.oc == nil || u.ctx == nil {
		return nil, &LoginEndedError{}
	}
	oc := u.oc
	if oc.cfg.Disabled {
		return &oauth2.Token{AccessToken: u.AccessToken, TokenType: oc.accessTokenType()}, nil
	}
	login, err := oc.currentLogin(u.ctx)
	if err != nil {
		return nil, err
	}
	if login == nil || login.Subject != u.Subject {
		// Logged out, or logged in as someone else, by another request.
		return nil, &LoginEndedError{Reason: LogoutLocal}
	}
	tok := &oauth2.Token{AccessToken: login.AccessToken, TokenType: oc.accessTokenType(), RefreshToken: login.RefreshToken}
	if login.Expiry != 0 {
		tok.Expiry = time.Unix(login.Expiry, 0)
		if !oc.cfg.Now().Before(tok.Expiry) {
			if login.RefreshToken == "" {
				return nil, fmt.Errorf("%w: the access token has expired and the provider issued no refresh token (ask for offline_access)", ErrInvalidToken)
			}
			return nil, fmt.Errorf("%w: the access token has expired and could not be refreshed", ErrProviderUnavailable)
		}
	}
	return tok, nil
}

// Client returns an HTTP client that sends the request's user's access
// token (see User.TokenSource) with every request, over the transport and
// timeout of Config.HTTPClient. Its requests fail with an error matching
// ErrLoginEnded when nobody is logged in or the login has ended, before
// anything is sent, and it follows redirects only to the same scheme and
// host: the token would go along. Use it within the request r, and only
// towards APIs that should see the user's token.
func (oc *OpenIDConnect) Client(r *http.Request) *http.Client {
	base := oc.cfg.HTTPClient
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &http.Client{
		Transport: &oauth2.Transport{Source: UserFrom(r.Context()).TokenSource(), Base: transport},
		Timeout:   base.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// The transport adds the token to every request, so net/http's
			// dropping of Authorization on redirects elsewhere does not
			// apply (RFC 6750 §5.3: do not send tokens to other parties).
			if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return fmt.Errorf("httpoidc: Client does not follow a redirect to %s://%s with the user's token", req.URL.Scheme, req.URL.Host)
			}
			if base.CheckRedirect != nil {
				return base.CheckRedirect(req, via)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
}

package httpoidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"golang.org/x/oauth2"
)

// protocolClaims are the ID token claims about the token rather than the
// user; they stay out of the profile, also when a provider repeats them in
// its userinfo response (Ory Hydra sends iss, aud, iat, auth_time and its
// own rat, the time of the authorization request). zitadel puts the
// client_id of RFC 9068 into its ID tokens.
var protocolClaims = []string{"iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "azp", "jti", "sid", "auth_time", "acr", "amr", "typ", "rat", "client_id"}

// addIdentityClaims copies into profile the claims that are about the
// user: all but protocolClaims.
func addIdentityClaims(profile, claims map[string]any) {
	for k, v := range claims {
		if !slices.Contains(protocolClaims, k) {
			profile[k] = v
		}
	}
}

// loginError is a failed callback: what the browser is told, and why for
// the log.
type loginError struct {
	status int
	title  string
	detail string
	cause  error
}

func (e *loginError) Error() string { return e.title + ": " + e.cause.Error() }

func (e *loginError) Unwrap() error { return e.cause }

func rejectLogin(detail string, cause error) *loginError {
	return &loginError{status: http.StatusBadRequest, title: "Login failed", detail: detail, cause: cause}
}

// handleCallback completes a login at the redirect URI.
func (oc *OpenIDConnect) handleCallback(w http.ResponseWriter, r *http.Request) {
	if oc.cfg.Disabled {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	ctx := r.Context()
	query := r.URL.Query()
	// The state is spent whatever happens next: its cookie is cleared, so
	// a failed attempt cannot be retried with another code.
	pending, found := oc.pending.take(w, r, query.Get("state"), oc.cfg.Now())
	login, err := oc.completeLogin(ctx, query, pending, found)
	// Whatever fails from here, the user may log in again and come back to
	// where this login started.
	retry := withRetry(r, pending.Next)
	if err != nil {
		var le *loginError
		if !errors.As(err, &le) {
			le = rejectLogin("The login could not be completed.", err)
		}
		oc.log.Warn("httpoidc: login failed", "reason", le.title, "error", le.cause)
		if errors.Is(err, ErrProviderUnavailable) {
			oc.unavailable(w, retry, err)
			return
		}
		oc.writeError(w, retry, le.status, le.title, le.detail)
		return
	}
	if err := oc.authorize(ctx, oc.newUser(ctx, login)); err != nil {
		// The application refused this user: logging in again as the
		// same user would only be refused again.
		oc.denyAccess(w, r, login.Subject, err)
		return
	}
	login.Obtained = oc.cfg.Now().Unix()
	// The server-side session starts here, with a new session token, which
	// also defeats session fixation.
	if err := oc.stampLogin(ctx, login); err != nil {
		oc.log.Error("httpoidc: login failed: session store", "error", err)
		oc.writeError(w, retry, http.StatusInternalServerError, "Login failed", "The session could not be saved.")
		return
	}
	if err := oc.sessions.RenewToken(ctx); err != nil {
		oc.writeError(w, retry, http.StatusInternalServerError, "Login failed", "The session could not be saved.")
		return
	}
	// The new session holds the login alone: a logout still pending in
	// the old one is over.
	oc.saveSession(ctx, sessionData{Login: login})
	u := oc.newUser(ctx, login)
	if oc.cfg.OnLogin != nil {
		oc.cfg.OnLogin(ctx, u)
	}
	oc.log.Info("httpoidc: user logged in", "user", u)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, oc.SafeRedirect(pending.Next), http.StatusFound)
}

// completeLogin checks the authorization response, redeems the code and
// validates everything the provider returned.
func (oc *OpenIDConnect) completeLogin(ctx context.Context, query url.Values, pending pendingLogin, found bool) (*loginData, error) {
	if code := query.Get("error"); code != "" {
		status := http.StatusBadRequest
		detail := "The identity provider did not log you in."
		if code == "access_denied" {
			status = http.StatusForbidden
			detail = "The login was cancelled or refused at the identity provider."
		}
		return nil, &loginError{status: status, title: "Login refused", detail: detail, cause: fmt.Errorf("provider error %q", code)}
	}
	if !found {
		return nil, rejectLogin("This login link is not valid for this browser or has already been used. Please start again.",
			errors.New("state missing, unknown, expired or already used"))
	}
	p, err := oc.discover(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207: the iss parameter defeats mix-up attacks between providers.
	if iss, present := query["iss"]; present || p.issParameterSupported {
		if !present || len(iss) != 1 || iss[0] != p.issuer {
			return nil, rejectLogin("The response did not come from the expected identity provider.",
				errors.New("authorization response iss parameter missing or wrong"))
		}
	}
	code := query.Get("code")
	if code == "" {
		return nil, rejectLogin("The identity provider sent no authorization code.", errors.New("no code"))
	}
	octx, cancel := oc.outbound(ctx)
	defer cancel()
	tok, err := p.oauth2.Exchange(octx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, rejectLogin("The identity provider refused the login.", fmt.Errorf("token endpoint: %q", re.ErrorCode))
		}
		return nil, fmt.Errorf("%w: token endpoint: %w", ErrProviderUnavailable, err)
	}
	if err := oc.checkTokenType(tok); err != nil {
		return nil, rejectLogin("The identity provider's answer could not be verified.", err)
	}
	rawIDToken, _ := tok.Extra("id_token").(string)
	if rawIDToken == "" {
		return nil, rejectLogin("The identity provider sent no ID token.", errors.New("no id_token in token response"))
	}
	idToken, claims, err := oc.verifyIDToken(octx, p, rawIDToken, tok.AccessToken, idTokenAtLogin(pending.Nonce))
	if err != nil {
		return nil, rejectLogin("The identity provider's answer could not be verified.", err)
	}
	profile := make(map[string]any, len(claims))
	addIdentityClaims(profile, claims)
	if !oc.cfg.DisableUserInfo && p.userInfoURL != "" {
		info, err := oc.userInfo(octx, p, tok.AccessToken, tok.TokenType)
		if err != nil {
			return nil, err
		}
		// OpenID Connect Core §5.3.2: a userinfo response for another
		// subject must not be used.
		if sub, _ := info["sub"].(string); sub != idToken.Subject {
			return nil, rejectLogin("The identity provider's answer could not be verified.", errors.New("userinfo sub does not match the ID token"))
		}
		addIdentityClaims(profile, info)
	}
	sid, _ := claims["sid"].(string)
	return &loginData{
		Subject:   idToken.Subject,
		SessionID: sid,
		Profile:   profile,
		loginTokens: loginTokens{
			AccessToken:  tok.AccessToken,
			RefreshToken: tok.RefreshToken,
			IDToken:      rawIDToken,
			Expiry:       oc.expiryUnix(tok),
		},
	}, nil
}

// userInfo fetches the userinfo claims for an access token.
func (oc *OpenIDConnect) userInfo(ctx context.Context, p *providerState, accessToken, tokenType string) (map[string]any, error) {
	info, err := p.oidc.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: tokenType}))
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrProviderUnavailable, err)
	}
	var claims map[string]any
	if err := info.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrProviderUnavailable, err)
	}
	return claims, nil
}

// handleLogout ends the login, on a GET or POST from this application's
// own pages (see sameOriginRequest); any other request gets a page whose
// button confirms the logout. With the provider's end_session_endpoint it
// continues there (RP-initiated logout), which sends the browser back to
// the logout path with the state, and from there to the next target.
func (oc *OpenIDConnect) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := oc.SafeRedirect(r.FormValue("next"))
	d := oc.loadSession(ctx)
	if d.Login == nil || oc.cfg.Disabled {
		// Coming back from the provider, or nobody to log out.
		if d.Logout != nil && d.Logout.State == r.URL.Query().Get("state") {
			next = oc.SafeRedirect(d.Logout.Next)
			d.Logout = nil
			oc.saveSession(ctx, d)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	// Ending a session is a change of state: only this site may ask for
	// it; a request that may come from another gets a button to confirm.
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost:
		w.Header().Set("Allow", "GET, HEAD, POST")
		oc.writeError(w, r, http.StatusMethodNotAllowed, "Logout failed", "Log out with GET or POST.")
		return
	case r.Method == http.MethodHead || !oc.sameOriginRequest(r):
		oc.confirmLogout(w, next)
		return
	}
	u := UserFrom(ctx)
	if !u.LoggedIn() {
		u = oc.newUser(ctx, d.Login)
	}
	endSession := oc.endSessionURL()
	reason := LogoutLocal
	if endSession != "" {
		reason = LogoutRPInitiated
	}
	if err := oc.endLogin(ctx, u, reason); err != nil {
		oc.writeError(w, r, http.StatusInternalServerError, "Logout failed", "The session could not be cleared.")
		return
	}
	target := next
	if endSession != "" {
		// endLogin cleared the login and renewed the session: the new one
		// holds the pending logout alone.
		state := rand.Text()
		oc.saveSession(ctx, sessionData{Logout: &pendingLogout{State: state, Next: next, Created: oc.cfg.Now().Unix()}})
		q := url.Values{
			"client_id":                {oc.secrets.ClientID},
			"post_logout_redirect_uri": {oc.postLogoutURL},
			"state":                    {state},
		}
		if u.IDToken != "" {
			q.Set("id_token_hint", u.IDToken)
		}
		oc.addLogoutParams(q)
		target = addQuery(endSession, q)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// endLogin clears the login from the session and renews the session token,
// so the old cookie no longer names any server-side state. It also raises
// the login's logout epoch, so that a copy of the login that a concurrent
// request saves afterwards is over too.
func (oc *OpenIDConnect) endLogin(ctx context.Context, u *User, reason LogoutReason) error {
	oc.onLogout(ctx, u, reason)
	d := oc.loadSession(ctx)
	if d.Login != nil {
		if err := oc.endThisLogin(ctx, d.Login, reason); err != nil {
			return err
		}
	}
	d.Login = nil
	oc.saveSession(ctx, d)
	if err := oc.sessions.RenewToken(ctx); err != nil {
		return err
	}
	oc.log.Info("httpoidc: user logged out", "user", u)
	return nil
}

func addQuery(endpoint string, q url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	merged := u.Query()
	for k, v := range q {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()
	return u.String()
}

// handleBackchannelLogout implements OpenID Connect Back-Channel Logout
// 1.0: the provider posts a signed logout token and the logins it names
// are over, on every replica sharing the session store (logoutepoch.go).
func (oc *OpenIDConnect) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, description string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	raw := r.PostFormValue("logout_token")
	if raw == "" {
		fail(http.StatusBadRequest, "invalid_request", "missing logout_token")
		return
	}
	p, err := oc.discover(r.Context())
	if err != nil {
		oc.log.Warn("httpoidc: back-channel logout: provider unavailable", "error", err)
		fail(http.StatusServiceUnavailable, "temporarily_unavailable", "provider unavailable")
		return
	}
	token, err := oc.verifyLogoutToken(r.Context(), p, raw)
	if err != nil {
		oc.log.Warn("httpoidc: back-channel logout token rejected", "error", err)
		fail(http.StatusBadRequest, "invalid_request", "invalid logout token")
		return
	}
	used, err := oc.logoutTokenUsed(r.Context(), p.issuer, token.TokenID)
	if err != nil {
		oc.log.Error("httpoidc: back-channel logout: session store", "error", err)
		fail(http.StatusInternalServerError, "server_error", "session store unavailable")
		return
	}
	if used {
		fail(http.StatusBadRequest, "invalid_request", "logout token already used")
		return
	}
	// Back-Channel Logout 1.0 §2.5: a sid ends the logins of that provider
	// session; a sub alone ends every login of the user.
	if token.SessionID != "" {
		err = oc.endProviderSession(r.Context(), p.issuer, token.SessionID)
	} else {
		err = oc.endUserLogins(r.Context(), p.issuer, token.Subject)
	}
	// The jti, which §2.6 lets a relying party refuse twice, is recorded
	// only once the logins are over: a provider that retries after an
	// error is then not told "already used" for a logout never done. Two
	// deliveries at once both end the logins, which is harmless.
	if err == nil {
		err = oc.recordLogoutToken(r.Context(), p.issuer, token.TokenID, token.Expiry)
	}
	if err != nil {
		oc.log.Error("httpoidc: back-channel logout: session store", "error", err)
		fail(http.StatusInternalServerError, "server_error", "session store unavailable")
		return
	}
	oc.log.Info("httpoidc: back-channel logout", "sub", token.Subject, "by_sid", token.SessionID != "")
	w.WriteHeader(http.StatusOK)
}

package oidctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// backchannelTimeout bounds how long a logout waits for a relying party's
// back-channel endpoint, so a dead receiver cannot stall the browser.
const backchannelTimeout = 5 * time.Second

// handleEndSession implements OpenID Connect RP-Initiated Logout 1.0 and
// triggers Back-Channel Logout 1.0.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	var form url.Values
	switch r.Method {
	case http.MethodGet:
		form = r.URL.Query()
	case http.MethodPost:
		var err error
		if form, err = parseForm(w, r, true); err != nil {
			s.errorPage(w, http.StatusBadRequest, err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "The end session endpoint accepts GET and POST only.")
		return
	}
	p, err := params(form, "id_token_hint", "client_id", "post_logout_redirect_uri", "state")
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	clientID := p["client_id"]
	var hint *hintClaims
	if p["id_token_hint"] != "" {
		if hint, err = s.parseIDTokenHint(p["id_token_hint"]); err != nil {
			// Redirecting on a forged hint would make the OP an open
			// redirector for whoever forged it.
			s.errorPage(w, http.StatusBadRequest, "Invalid id_token_hint: "+err.Error())
			return
		}
		switch {
		case clientID == "":
			clientID = hint.clientID()
		case !hint.Audience.Contains(clientID):
			s.errorPage(w, http.StatusBadRequest, "The client_id does not match the id_token_hint.")
			return
		}
	}
	c, known := s.client(clientID)
	if hint != nil && known && c.BackchannelLogoutURI != "" {
		s.sendBackchannelLogout(r.Context(), c, hint.Subject, hint.SID)
	}
	target := p["post_logout_redirect_uri"]
	if u, err := url.Parse(target); err == nil && target != "" && known && slices.Contains(c.PostLogoutRedirectURIs, target) {
		if p["state"] != "" {
			q := u.Query()
			q.Set("state", p["state"])
			u.RawQuery = q.Encode()
		}
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	s.renderPage(w, http.StatusOK, "logged_out", nil)
}

type hintClaims struct {
	jwt.Claims
	AZP string `json:"azp"`
	SID string `json:"sid"`
}

// clientID is the client an ID token was issued to.
func (h *hintClaims) clientID() string {
	if h.AZP != "" {
		return h.AZP
	}
	if len(h.Audience) > 0 {
		return h.Audience[0]
	}
	return ""
}

// parseIDTokenHint accepts ID tokens this provider signed with a key still
// in its JWKS. Expiry is deliberately not checked: RP-Initiated Logout §2
// expects hints that have expired.
func (s *Server) parseIDTokenHint(raw string) (*hintClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.opts.alg)})
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("expected exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	var c hintClaims
	verified := false
	for _, k := range s.verificationKeys() {
		if kid != "" && kid != k.kid {
			continue
		}
		if err := tok.Claims(k.priv.Public(), &c); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errors.New("signature does not verify with the provider's keys")
	}
	if c.Issuer != s.URL {
		return nil, fmt.Errorf("issuer %q is not this provider", c.Issuer)
	}
	return &c, nil
}

// sendBackchannelLogout POSTs a logout token to the client (Back-Channel
// Logout 1.0 §2.5). Failures are logged, not returned: the user is logged
// out at the OP whatever the relying party answers.
func (s *Server) sendBackchannelLogout(ctx context.Context, c Client, subject, sid string) {
	token := s.LogoutToken(c.ID, subject, sid)
	if token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, backchannelTimeout)
	defer cancel()
	stop := context.AfterFunc(s.closing, cancel)
	defer stop()
	body := strings.NewReader(url.Values{"logout_token": {token}}.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, body)
	if err != nil {
		s.log.Warn("oidctest: back-channel logout", "client_id", c.ID, "error", err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.backchannel.Do(req)
	if err != nil {
		s.log.Warn("oidctest: back-channel logout", "client_id", c.ID, "error", err)
		return
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	if resp.StatusCode != http.StatusOK {
		s.log.Warn("oidctest: back-channel logout refused", "client_id", c.ID, "status", resp.StatusCode)
	}
}

package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	fs := s.faultsNow()
	if fs.has(FaultTokenEndpointHang) {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing.Done():
			writeOAuthError(w, unavailable("the token endpoint"))
			return
		}
	}
	if fs.has(FaultTokenEndpointError) {
		writeOAuthError(w, &oauthError{status: http.StatusInternalServerError, code: "server_error", description: "token endpoint failure (fault injected)"})
		return
	}
	form, c, ok := s.clientPost(w, r)
	if !ok {
		return
	}
	// RFC 9449 §5: a valid proof binds the tokens to its key.
	jkt, err := s.checkDPoP(w, r, pathToken, "")
	if err != nil {
		writeOAuthError(w, tokenEndpointDPoPError(err))
		return
	}
	c.dpopJKT = jkt
	grantType, err := param(form, "grant_type")
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	var resp map[string]any
	switch grantType {
	case "authorization_code":
		resp, err = s.codeGrant(c, form)
	case "refresh_token":
		resp, err = s.refreshGrant(c, form)
	case "client_credentials":
		resp, err = s.clientCredentialsGrant(c, form)
	case "":
		err = invalidRequest("grant_type is required")
	default:
		err = &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "unsupported grant_type " + grantType}
	}
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientPost reads a POSTed form and authenticates the client that sent it,
// as the token, introspection, revocation and PAR endpoints all require
// (RFC 6749 §2.3, RFC 7662 §2.1, RFC 7009 §2.1, RFC 9126 §2). It answers the
// error itself and returns false when either fails.
func (s *Server) clientPost(w http.ResponseWriter, r *http.Request) (url.Values, Client, bool) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return nil, Client{}, false
	}
	form, err := parseForm(w, r, true)
	if err != nil {
		writeOAuthError(w, err)
		return nil, Client{}, false
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		writeOAuthError(w, err)
		return nil, Client{}, false
	}
	return form, c, true
}

// authenticateClient implements client_secret_basic and client_secret_post
// (RFC 6749 §2.3.1).
func (s *Server) authenticateClient(r *http.Request, form url.Values) (Client, error) {
	if form.Has("client_assertion_type") || form.Has("client_assertion") {
		return s.authenticateAssertion(r, form)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		if _, inForm := form["client_secret"]; inForm {
			return Client{}, invalidRequest("more than one client authentication method")
		}
		// The credentials are form-encoded before base64 (RFC 6749 §2.3.1),
		// which is what golang.org/x/oauth2 sends.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return Client{}, invalidRequest("client_id does not match the Authorization header")
		}
	} else {
		p, err := params(form, "client_id", "client_secret")
		if err != nil {
			return Client{}, err
		}
		id, secret = p["client_id"], p["client_secret"]
	}
	invalid := &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}
	if basic {
		invalid.authenticate = `Basic realm="oidctest"`
	}
	if id == "" {
		invalid.description = "no client credentials (use client_secret_basic or client_secret_post)"
		return Client{}, invalid
	}
	c, ok := s.client(id)
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return Client{}, invalid
	}
	return c, nil
}

func (s *Server) codeGrant(c Client, form url.Values) (map[string]any, error) {
	p, err := params(form, "code", "redirect_uri", "code_verifier")
	if err != nil {
		return nil, err
	}
	if p["code"] == "" {
		return nil, invalidRequest("code is required")
	}
	resources, err := checkResources(form["resource"])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	ac, ok := s.codes[p["code"]]
	// Whatever the outcome, a presented code is spent: this bounds guessing
	// of the PKCE verifier and makes replay fail (RFC 6749 §4.1.2).
	delete(s.codes, p["code"])
	expired := ok && !s.nowLocked().Before(ac.expiry)
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, invalidGrant("unknown or already used authorization code")
	case expired:
		return nil, invalidGrant("authorization code expired")
	case ac.req.clientID != c.ID:
		return nil, invalidGrant("authorization code was issued to another client")
	case p["redirect_uri"] != ac.req.redirectURI:
		return nil, invalidGrant("redirect_uri does not match the authorization request")
	}
	if err := checkVerifier(ac.req, p["code_verifier"]); err != nil {
		return nil, err
	}
	if len(resources) == 0 {
		resources = ac.grant.resources
	}
	return s.issueTokens(c, ac.grant, ac.grant.scopes, resources, ac.req.nonce, !s.opts.noRefreshTokens, s.opts.accessTokenTTL)
}

// checkVerifier implements RFC 7636 §4.6.
func checkVerifier(req authRequest, verifier string) error {
	switch {
	case req.challenge == "" && verifier == "":
		return nil
	case req.challenge == "":
		// Rejecting an unexpected verifier exposes PKCE downgrade attacks.
		return invalidGrant("code_verifier sent but the authorization request had no code_challenge")
	case verifier == "":
		return invalidGrant("code_verifier is required")
	case !validPKCEString(verifier):
		return invalidGrant("code_verifier must be 43 to 128 unreserved characters")
	}
	want := verifier
	if req.challengeMethod == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(req.challenge)) != 1 {
		return invalidGrant("code_verifier does not match code_challenge")
	}
	return nil
}

func (s *Server) refreshGrant(c Client, form url.Values) (map[string]any, error) {
	p, err := params(form, "refresh_token", "scope")
	if err != nil {
		return nil, err
	}
	if p["refresh_token"] == "" {
		return nil, invalidRequest("refresh_token is required")
	}
	resources, err := checkResources(form["resource"])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	rt, ok := s.refresh[p["refresh_token"]]
	if ok && rt.grant.clientID == c.ID && !s.opts.noRotation {
		// Rotation: the presented token is spent (and stays spent even if
		// the rest of this request fails).
		delete(s.refresh, p["refresh_token"])
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, invalidGrant("unknown, used or revoked refresh token")
	case rt.grant.clientID != c.ID:
		return nil, invalidGrant("refresh token was issued to another client")
	}
	scopes := rt.grant.scopes
	if p["scope"] != "" {
		scopes = strings.Fields(p["scope"])
		for _, sc := range scopes {
			if !slices.Contains(rt.grant.scopes, sc) {
				return nil, invalidScope("scope %q was not granted originally", sc)
			}
		}
	}
	if len(resources) == 0 {
		resources = rt.grant.resources
	}
	return s.issueTokens(c, rt.grant, scopes, resources, "", !s.opts.noRotation, s.opts.accessTokenTTL)
}

func (s *Server) clientCredentialsGrant(c Client, form url.Values) (map[string]any, error) {
	scope, err := param(form, "scope")
	if err != nil {
		return nil, err
	}
	scopes := strings.Fields(scope)
	if err := checkScopes(c, scopes); err != nil {
		return nil, err
	}
	resources, err := checkResources(form["resource"])
	if err != nil {
		return nil, err
	}
	g := grant{clientID: c.ID, subject: c.ID, scopes: scopes, resources: resources}
	return s.issueTokens(c, g, scopes, resources, "", false, s.opts.accessTokenTTL)
}

// issueTokens builds a token response for g: an access token limited to
// scopes and living ttl, a refresh token if withRefresh, and an ID token
// when g includes openid.
func (s *Server) issueTokens(c Client, g grant, scopes, resources []string, nonce string, withRefresh bool, ttl time.Duration) (map[string]any, error) {
	if spec := s.spec(); spec != nil {
		return s.issueProfileTokens(spec, c, g, scopes, resources, nonce, withRefresh, ttl)
	}
	asJWT := c.AccessTokenFormat == JWT || len(resources) > 0
	aud := resources
	if len(aud) == 0 {
		aud = []string{c.ID}
	}
	g.jkt = c.dpopJKT
	at, err := s.mintAccessToken(g, scopes, aud, asJWT, ttl, c.Secret)
	if err != nil {
		return nil, err
	}
	tokenType := "Bearer"
	if g.jkt != "" {
		tokenType = "DPoP"
	}
	resp := map[string]any{
		"access_token": at,
		"token_type":   tokenType,
		"expires_in":   int64(ttl / time.Second),
	}
	if len(scopes) > 0 {
		resp["scope"] = scopeString(scopes)
	}
	if withRefresh {
		rt := rand.Text()
		s.mu.Lock()
		s.refresh[rt] = &refreshToken{grant: g, issued: s.nowLocked()}
		s.mu.Unlock()
		resp["refresh_token"] = rt
	}
	if slices.Contains(scopes, "openid") {
		// Claims follow the scopes of this response, which a refresh may
		// have narrowed.
		g.scopes = scopes
		idt, err := s.mintIDToken(idTokenParams{client: c, grant: g, nonce: nonce, accessToken: at})
		if err != nil {
			return nil, err
		}
		resp["id_token"] = idt
	}
	return resp, nil
}

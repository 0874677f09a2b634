package oidctest

import (
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"time"
)

const (
	codeTTL        = time.Minute
	loginTTL       = 10 * time.Minute
	logoutTokenTTL = 2 * time.Minute
	sweepInterval  = time.Minute
)

// grant is what one authorization (or client credentials request) allowed.
// Every token issued from it shares its id, so revoking a refresh token can
// revoke the access tokens that came with it (RFC 7009 §2.1).
type grant struct {
	id        string
	clientID  string
	subject   string
	scopes    []string
	resources []string
	sid       string
	authTime  time.Time
	// claims are TokenRequest.Claims, for IssueAccessToken only.
	claims map[string]any
	// jkt binds the access tokens to a DPoP key (RFC 9449 §6).
	jkt string
}

type accessToken struct {
	grantID  string
	clientID string
	subject  string
	scopes   []string
	audience []string
	issued   time.Time
	expiry   time.Time
	// claims are what a provider profile reports about the token: its JWT
	// claims, what the provider records for an opaque token, or
	// TokenRequest.Claims.
	claims map[string]any
	// jkt is the thumbprint of the DPoP key the token is bound to.
	jkt string
}

type refreshToken struct {
	grant  grant
	issued time.Time
	claims map[string]any // a provider profile's JWT refresh token's claims
}

// TokenRequest describes an access token for IssueAccessToken.
type TokenRequest struct {
	// ClientID is the client the token is issued to (client_id claim).
	ClientID string
	// Subject is the sub claim; usually a user's Subject.
	Subject string
	// Scopes become the space-separated scope claim.
	Scopes []string
	// Audience is the aud claim; it defaults to ClientID. With a provider
	// Profile it is the requested audience, which each provider turns into
	// aud its own way (see Profile).
	Audience []string
	// Format selects an opaque or an RFC 9068 JWT access token; a provider
	// Profile honours it only where the provider offers the choice.
	Format AccessTokenFormat
	// TTL is the token lifetime; zero means the server's access token TTL.
	TTL time.Duration
	// Nonce is the ID token's nonce, for IssueTokens; without one the ID
	// token has none, like an ID token from a refresh.
	Nonce string
	// DPoPKeyThumbprint, if set, binds the token to the DPoP key with
	// this RFC 7638 thumbprint (DPoPKey.Thumbprint): a JWT carries
	// cnf.jkt, introspection answers cnf and token_type DPoP, and userinfo
	// takes it only with a proof by that key.
	DPoPKeyThumbprint string
	// Claims are extra claims of the JWT and of its introspection answer,
	// such as groups or a nested realm_access.roles; not used with a
	// provider profile. Registered claims (iss, sub, aud, exp, scope,
	// client_id, ...) are ignored.
	Claims map[string]any
}

// IssueAccessToken mints an access token without any flow, e.g. to test an
// API that accepts bearer tokens. The token is live for introspection and
// userinfo. JWT tokens are subject to the active claim and signature faults.
// It returns "" only if signing fails, which is logged.
func (s *Server) IssueAccessToken(req TokenRequest) string {
	ttl := req.TTL
	if ttl <= 0 {
		ttl = s.opts.accessTokenTTL
	}
	aud := req.Audience
	if len(aud) == 0 {
		aud = []string{req.ClientID}
	}
	c, _ := s.client(req.ClientID)
	g := grant{clientID: req.ClientID, subject: req.Subject, scopes: req.Scopes}
	if spec := s.spec(); spec != nil {
		c.ID, c.AccessTokenFormat = req.ClientID, req.Format
		tok, err := s.mintProfileAccessToken(spec, c, g, req.Scopes, req.Audience, "", ttl)
		if err != nil {
			s.log.Error("oidctest: issuing access token", "error", err)
			return ""
		}
		return tok
	}
	// The registered claims are the provider's own (see TokenRequest.Claims).
	g.claims = maps.Clone(req.Claims)
	maps.DeleteFunc(g.claims, func(name string, _ any) bool { return registeredClaim(name) })
	g.jkt = req.DPoPKeyThumbprint
	tok, err := s.mintAccessToken(g, req.Scopes, aud, req.Format == JWT, ttl, c.Secret)
	if err != nil {
		s.log.Error("oidctest: issuing access token", "error", err)
		return ""
	}
	return tok
}

// mintAccessToken creates and stores an access token for g.
func (s *Server) mintAccessToken(g grant, scopes, aud []string, asJWT bool, ttl time.Duration, secret string) (string, error) {
	key, fs, now := s.signingState()
	at := &accessToken{
		grantID:  g.id,
		clientID: g.clientID,
		subject:  g.subject,
		scopes:   slices.Clone(scopes),
		audience: slices.Clone(aud),
		issued:   now,
		expiry:   now.Add(ttl),
		claims:   g.claims,
		jkt:      g.jkt,
	}
	tok := rand.Text()
	if asJWT {
		// Introspection must agree with what the token itself claims, so the
		// record takes the fault-shifted times too.
		at.issued, at.expiry = fs.lifetime(now, ttl)
		claims := withClaims(g.claims, map[string]any{
			"iss":       s.URL,
			"sub":       g.subject,
			"aud":       audClaim(aud),
			"exp":       at.expiry.Unix(),
			"iat":       at.issued.Unix(),
			"jti":       tok,
			"client_id": g.clientID,
		})
		if len(scopes) > 0 {
			claims["scope"] = scopeString(scopes)
		}
		if g.jkt != "" {
			claims["cnf"] = map[string]any{"jkt": g.jkt}
		}
		fs.applyClaimFaults(claims, aud)
		var err error
		tok, err = signJWT(key, fs, "at+jwt", claims, secret)
		if err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access[tok] = at
	s.sweepLocked()
	return tok, nil
}

// idTokenParams is the input of an ID token.
type idTokenParams struct {
	client      Client
	grant       grant
	nonce       string
	accessToken string
	audience    []string // requested audiences, for profiles that add them (Dex, zitadel)
}

func (s *Server) mintIDToken(p idTokenParams) (string, error) {
	if spec := s.spec(); spec != nil {
		return s.mintProfileIDToken(spec, p)
	}
	key, fs, now := s.signingState()
	iat, exp := fs.lifetime(now, s.opts.idTokenTTL)
	claims := s.userClaims(p.grant.subject, p.grant.scopes)
	claims["iss"] = s.URL
	claims["sub"] = p.grant.subject
	claims["aud"] = p.client.ID
	claims["azp"] = p.client.ID
	claims["iat"] = iat.Unix()
	claims["exp"] = exp.Unix()
	claims["auth_time"] = p.grant.authTime.Unix()
	claims["sid"] = p.grant.sid
	claims["at_hash"] = key.halfHash(p.accessToken)
	switch {
	case fs.has(FaultMissingNonce):
	case fs.has(FaultWrongNonce):
		claims["nonce"] = "wrong-" + rand.Text()
	case p.nonce != "":
		claims["nonce"] = p.nonce
	}
	fs.applyClaimFaults(claims, []string{p.client.ID})
	return signJWT(key, fs, "JWT", claims, p.client.Secret)
}

// LogoutToken returns a signed OpenID Connect Back-Channel Logout token for
// clientID: iss, aud, iat, exp, jti, the back-channel logout event, and sub
// and sid when not empty; never a nonce. A provider Profile shapes it as
// its provider does. The active claim and signature faults apply. It
// returns "" if signing fails, which is logged, or if the profile's
// provider has no back-channel logout.
func (s *Server) LogoutToken(clientID, subject, sid string) string {
	if spec := s.spec(); spec != nil {
		return s.profileLogoutToken(spec, clientID, subject, sid)
	}
	key, fs, now := s.signingState()
	iat, exp := fs.lifetime(now, logoutTokenTTL)
	claims := map[string]any{
		"iss":    s.URL,
		"aud":    clientID,
		"iat":    iat.Unix(),
		"exp":    exp.Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if subject != "" {
		claims["sub"] = subject
	}
	if sid != "" {
		claims["sid"] = sid
	}
	fs.applyClaimFaults(claims, []string{clientID})
	c, _ := s.client(clientID)
	tok, err := signJWT(key, fs, "logout+jwt", claims, c.Secret)
	if err != nil {
		s.log.Error("oidctest: issuing logout token", "error", err)
		return ""
	}
	return tok
}

// SignJWT signs claims, as they are, with the server's current key and
// typ as the JWS typ header (none when typ is empty); the signature faults
// apply. It builds the tokens a correct provider never issues, such as a
// logout token without iat, to test that a relying party refuses them. It
// returns "" only if signing fails, which is logged.
func (s *Server) SignJWT(typ string, claims map[string]any) string {
	key, fs, _ := s.signingState()
	tok, err := signJWT(key, fs, typ, claims, "")
	if err != nil {
		s.log.Error("oidctest: signing JWT", "error", err)
		return ""
	}
	return tok
}

// Revoke makes an access or refresh token inactive. Revoking a refresh
// token also revokes the access tokens issued with it. Unknown tokens are
// ignored.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeLocked(token)
}

func (s *Server) revokeLocked(token string) {
	if _, ok := s.access[token]; ok {
		delete(s.access, token)
		return
	}
	rt, ok := s.refresh[token]
	if !ok {
		return
	}
	delete(s.refresh, token)
	for k, at := range s.access {
		if at.grantID == rt.grant.id {
			delete(s.access, k)
		}
	}
}

// tokenOwner reports which client a live access or refresh token belongs
// to.
func (s *Server) tokenOwner(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.access[token]; ok {
		return at.clientID, true
	}
	if rt, ok := s.refresh[token]; ok {
		return rt.grant.clientID, true
	}
	return "", false
}

// liveAccessToken returns the access token's record if it is known,
// unrevoked and not expired by the server clock.
func (s *Server) liveAccessToken(token string) (accessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[token]
	if !ok || !s.nowLocked().Before(at.expiry) {
		return accessToken{}, false
	}
	return *at, true
}

func (s *Server) signingState() (*signingKey, faultSet, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key, s.faults, s.nowLocked()
}

// sweepLocked drops expired codes, login requests and access tokens, at
// most once per sweepInterval of server time, so that memory stays bounded
// under load without a background goroutine.
func (s *Server) sweepLocked() {
	now := s.nowLocked()
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(sweepInterval)
	for k, c := range s.codes {
		if !now.Before(c.expiry) {
			delete(s.codes, k)
		}
	}
	for k, p := range s.pending {
		if !now.Before(p.expiry) {
			delete(s.pending, k)
		}
	}
	for k, at := range s.access {
		if !now.Before(at.expiry) {
			delete(s.access, k)
		}
	}
	for k, it := range s.idTokens {
		if !now.Before(it.expiry) {
			delete(s.idTokens, k)
		}
	}
}

// userClaims returns the claims of subject released by scopes.
func (s *Server) userClaims(subject string, scopes []string) map[string]any {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	out := map[string]any{}
	if !ok {
		return out
	}
	// u.Claims is a private copy that is replaced, never mutated, so it can
	// be read without the lock.
	for name, v := range u.Claims {
		if registeredClaim(name) {
			continue
		}
		if scope := claimScope(name); scope == "" || slices.Contains(scopes, scope) {
			out[name] = v
		}
	}
	return out
}

// claimScope returns the scope that releases a standard claim, or "" for a
// custom claim (always released).
func claimScope(name string) string {
	switch name {
	case "email", "email_verified":
		return "email"
	case "name", "family_name", "given_name", "middle_name", "nickname",
		"preferred_username", "profile", "picture", "website", "gender",
		"birthdate", "zoneinfo", "locale", "updated_at":
		return "profile"
	case "address":
		return "address"
	case "phone_number", "phone_number_verified":
		return "phone"
	case "groups":
		return "groups"
	}
	return ""
}

// registeredClaim reports claims the provider sets itself, which user
// claims must not override.
func registeredClaim(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "nonce",
		"auth_time", "sid", "at_hash", "c_hash", "acr", "amr",
		"client_id", "scope", "events", "cnf":
		return true
	}
	return false
}

// withClaims returns a copy of base with more claims set.
func withClaims(base map[string]any, more map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, more)
	return out
}

// audClaim encodes a single audience as a string, the common form.
func audClaim(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	return aud
}

// scopeString joins scopes for responses.
func scopeString(scopes []string) string { return strings.Join(scopes, " ") }

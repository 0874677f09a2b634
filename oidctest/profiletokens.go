package oidctest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// This file holds how the server mints and introspects tokens as a provider
// Profile's provider does, and IssueTokens, which mints them without a flow.

// Tokens are the tokens of one token response.
type Tokens struct {
	// AccessToken is the access_token.
	AccessToken string
	// IDToken is the id_token; "" unless the scopes include openid.
	IDToken string
	// RefreshToken is the refresh_token.
	RefreshToken string
}

// IssueTokens mints what the token endpoint would return for req without
// any flow: an access token, a refresh token and, when req.Scopes include
// openid, an ID token, shaped as the server's Profile shapes them. Without
// req.Nonce the ID token is the kind a refresh returns. All are live for
// introspection, userinfo and the refresh grant. The error reports a
// signing failure.
func (s *Server) IssueTokens(req TokenRequest) (Tokens, error) {
	c, ok := s.client(req.ClientID)
	if !ok {
		c = Client{ID: req.ClientID}
	}
	if req.Format == JWT {
		c.AccessTokenFormat = JWT
	}
	s.mu.Lock()
	now := s.nowLocked()
	s.mu.Unlock()
	g := grant{
		id:        rand.Text(),
		clientID:  req.ClientID,
		subject:   req.Subject,
		scopes:    slices.Clone(req.Scopes),
		resources: slices.Clone(req.Audience),
		sid:       rand.Text(),
		authTime:  now,
	}
	ttl := req.TTL
	if ttl <= 0 {
		ttl = s.opts.accessTokenTTL
	}
	resp, err := s.issueTokens(c, g, g.scopes, g.resources, req.Nonce, true, ttl)
	if err != nil {
		return Tokens{}, err
	}
	var t Tokens
	t.AccessToken, _ = resp["access_token"].(string)
	t.IDToken, _ = resp["id_token"].(string)
	t.RefreshToken, _ = resp["refresh_token"].(string)
	return t, nil
}

// tokenFacts is what a provider knows when it issues a token.
type tokenFacts struct {
	issuer   string
	clientID string
	subject  string
	scopes   []string
	// audience is what was requested (resource parameter or
	// TokenRequest.Audience), often empty: each provider has its default.
	audience []string
	issued   time.Time
	expiry   time.Time
	authTime time.Time
	sid      string
	nonce    string
	jti      string
	// user holds the user's claims released by the scopes; rawUser all of
	// them, for providers that release some claims regardless of scope.
	user, rawUser map[string]any
	// atHash is the ID token's at_hash of the access token; Dex computes
	// one for its access tokens too, of a random value.
	atHash string
}

// introspected is what the provider recorded about a token it is asked
// about.
type introspected struct {
	kind     tokenKind
	claims   map[string]any // the JWT's claims, or what the provider records for an opaque token
	clientID string
	subject  string
	scopes   []string
	issued   time.Time
	expiry   time.Time // zero: no expiry
}

type tokenKind int

const (
	kindAccess tokenKind = iota
	kindRefresh
	kindID
)

// idTokenRecord keeps a profile's ID token for introspection, which some
// providers answer for ID tokens (Keycloak, Dex, Okta).
type idTokenRecord struct {
	clientID string
	subject  string
	claims   map[string]any
	issued   time.Time
	expiry   time.Time
}

// profileFacts collects what a profile's token builders need.
func (s *Server) profileFacts(g grant, scopes, audience []string, nonce string, iat, exp time.Time) *tokenFacts {
	s.mu.Lock()
	u := s.users[g.subject]
	s.mu.Unlock()
	return &tokenFacts{
		issuer:   s.URL,
		clientID: g.clientID,
		subject:  g.subject,
		scopes:   slices.Clone(scopes),
		audience: slices.Clone(audience),
		issued:   iat,
		expiry:   exp,
		authTime: g.authTime,
		sid:      g.sid,
		nonce:    nonce,
		jti:      rand.Text(),
		user:     s.userClaims(g.subject, scopes),
		rawUser:  u.Claims, // replaced, never mutated: safe to share
	}
}

// issueProfileTokens is issueTokens for a provider profile.
func (s *Server) issueProfileTokens(spec *profileSpec, c Client, g grant, scopes, resources []string, nonce string, withRefresh bool, ttl time.Duration) (map[string]any, error) {
	access, err := s.mintProfileAccessToken(spec, c, g, scopes, resources, nonce, ttl)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int64(ttl / time.Second),
	}
	if len(scopes) > 0 {
		resp["scope"] = scopeString(scopes)
	}
	if withRefresh {
		rt, claims, err := s.profileRefreshToken(spec, g, scopes, resources)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.refresh[rt] = &refreshToken{grant: g, issued: s.nowLocked(), claims: claims}
		s.mu.Unlock()
		resp["refresh_token"] = rt
	}
	if slices.Contains(scopes, "openid") {
		g.scopes = scopes
		idt, err := s.mintIDToken(idTokenParams{client: c, grant: g, nonce: nonce, accessToken: access, audience: resources})
		if err != nil {
			return nil, err
		}
		resp["id_token"] = idt
	}
	return resp, nil
}

// mintProfileAccessToken creates and stores an access token shaped as the
// profile's provider shapes it; nonce is the authorization request's,
// which only Dex puts in access tokens.
func (s *Server) mintProfileAccessToken(spec *profileSpec, c Client, g grant, scopes, resources []string, nonce string, ttl time.Duration) (string, error) {
	key, fs, now := s.signingState()
	iat, exp := fs.lifetime(now, ttl)
	shape := spec.access(s.profileFacts(g, scopes, resources, nonce, iat, exp))
	access := spec.accessPrefix + rand.Text()
	if spec.accessJWT(c.AccessTokenFormat, resources) {
		fs.applyClaimFaults(shape.claims, claimAudience(shape.claims))
		var err error
		if access, err = signJWT(key, fs, shape.typ, shape.claims, c.Secret); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access[access] = &accessToken{
		grantID:  g.id,
		clientID: g.clientID,
		subject:  g.subject,
		scopes:   slices.Clone(scopes),
		audience: claimAudience(shape.claims),
		issued:   iat,
		expiry:   exp,
		claims:   shape.claims,
	}
	s.sweepLocked()
	return access, nil
}

// profileRefreshToken returns a refresh token in the provider's format and
// the claims introspection reports about it.
func (s *Server) profileRefreshToken(spec *profileSpec, g grant, scopes, resources []string) (string, map[string]any, error) {
	_, _, now := s.signingState()
	t := s.profileFacts(g, scopes, resources, "", now, now.Add(spec.refreshTTL))
	switch {
	case spec.refresh != nil:
		shape := spec.refresh(t)
		tok, err := s.signHS512(shape)
		return tok, shape.claims, err
	case spec.encryptedRefresh:
		return opaqueJWE(), nil, nil
	}
	return spec.refreshPrefix + rand.Text(), nil, nil
}

// mintProfileIDToken is mintIDToken for a provider profile.
func (s *Server) mintProfileIDToken(spec *profileSpec, p idTokenParams) (string, error) {
	key, fs, now := s.signingState()
	iat, exp := fs.lifetime(now, s.opts.idTokenTTL)
	nonce := p.nonce
	switch {
	case fs.has(FaultMissingNonce):
		nonce = ""
	case fs.has(FaultWrongNonce):
		nonce = "wrong-" + rand.Text()
	}
	t := s.profileFacts(p.grant, p.grant.scopes, p.audience, nonce, iat, exp)
	t.atHash = key.halfHash(p.accessToken)
	shape := spec.id(t)
	fs.applyClaimFaults(shape.claims, claimAudience(shape.claims))
	tok, err := signJWT(key, fs, shape.typ, shape.claims, p.client.Secret)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.idTokens[tok] = &idTokenRecord{clientID: p.client.ID, subject: p.grant.subject, claims: shape.claims, issued: iat, expiry: exp}
	s.mu.Unlock()
	return tok, nil
}

// profileLogoutToken is LogoutToken for a provider profile: "" when the
// provider has no back-channel logout.
func (s *Server) profileLogoutToken(spec *profileSpec, clientID, subject, sid string) string {
	if spec.logout == nil {
		return ""
	}
	key, fs, now := s.signingState()
	iat, exp := fs.lifetime(now, logoutTokenTTL)
	t := &tokenFacts{issuer: s.URL, clientID: clientID, subject: subject, sid: sid, issued: iat, expiry: exp, jti: rand.Text()}
	shape := spec.logout(t)
	fs.applyClaimFaults(shape.claims, []string{clientID})
	c, _ := s.client(clientID)
	tok, err := signJWT(key, fs, shape.typ, shape.claims, c.Secret)
	if err != nil {
		s.log.Error("oidctest: issuing logout token", "error", err)
		return ""
	}
	return tok
}

// profileIntrospection answers an introspection request as the profile's
// provider does.
func (s *Server) profileIntrospection(spec *profileSpec, token, caller string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	var t introspected
	if at, ok := s.access[token]; ok && now.Before(at.expiry) {
		t = introspected{kind: kindAccess, claims: at.claims, clientID: at.clientID, subject: at.subject, scopes: at.scopes, issued: at.issued, expiry: at.expiry}
	} else if rt, ok := s.refresh[token]; ok {
		t = introspected{kind: kindRefresh, claims: rt.claims, clientID: rt.grant.clientID, subject: rt.grant.subject, scopes: rt.grant.scopes, issued: rt.issued}
		if spec.refreshTTL > 0 {
			t.expiry = rt.issued.Add(spec.refreshTTL)
		}
	} else if it, ok := s.idTokens[token]; ok && now.Before(it.expiry) {
		t = introspected{kind: kindID, claims: it.claims, clientID: it.clientID, subject: it.subject, issued: it.issued, expiry: it.expiry}
	} else {
		return inactive()
	}
	if t.claims == nil {
		t.claims = map[string]any{}
	}
	return spec.introspection.answer(t, caller)
}

func inactive() map[string]any { return map[string]any{"active": false} }

// signHS512 signs with a key of the provider's own that is in no JWKS, as
// Keycloak signs its refresh tokens.
func (s *Server) signHS512(shape jwtShape) (string, error) {
	payload, err := json.Marshal(shape.claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encoding claims: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(shape.typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS512, Key: s.refreshKey}, opts)
	if err != nil {
		return "", fmt.Errorf("oidctest: creating signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// opaqueJWE returns a compact JWE shaped like Cognito's refresh tokens
// (RSA-OAEP, A256GCM). Only Cognito can decrypt those; nobody decrypts
// these, so random parts are as good as ciphertext.
func opaqueJWE() string {
	enc := base64.RawURLEncoding.EncodeToString
	part := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return enc(b)
	}
	return enc([]byte(`{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}`)) + "." + part(256) + "." + part(12) + "." + part(600) + "." + part(16)
}

// claimAudience reads a JWT's aud claim as a list.
func claimAudience(claims map[string]any) []string {
	switch v := claims["aud"].(type) {
	case string:
		return []string{v}
	case []string:
		return slices.Clone(v)
	}
	return nil
}

// profileIntrospectionRequest authenticates an introspection request as the
// profile's provider does and answers it.
func (s *Server) profileIntrospectionRequest(w http.ResponseWriter, r *http.Request, spec *profileSpec, form url.Values) {
	var caller string
	switch _, _, basic := r.BasicAuth(); {
	case spec.introspection.anyCaller:
		// Dex reads no client credentials; Hydra's admin port has none to
		// read (it is meant to be reachable by trusted callers only).
	case spec.introspection.basicOnly && !basic:
		writeOAuthError(w, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication must be client_secret_basic"})
		return
	default:
		c, err := s.authenticateClient(r, form)
		if err != nil {
			writeOAuthError(w, err)
			return
		}
		caller = c.ID
	}
	token, err := tokenParam(form)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.profileIntrospection(spec, token, caller))
}

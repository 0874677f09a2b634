package oidctest

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// The FAPI 2.0 parts of the provider: private_key_jwt client
// authentication (RFC 7523, OpenID Connect Core §9), pushed authorization
// requests (RFC 9126) and DPoP (RFC 9449).

const (
	pathPAR = "/par"
	// EndpointPAR is /par, the pushed authorization request endpoint
	// (served with WithPAR or WithRequiredPAR).
	EndpointPAR Endpoint = "par"

	assertionType  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	requestURIBase = "urn:ietf:params:oauth:request_uri:"
	parTTL         = time.Minute
	// assertionMaxLifetime bounds exp - now of a client assertion, so a
	// stolen one is short-lived and its jti need not be kept for long.
	assertionMaxLifetime = 10 * time.Minute
	// dpopMaxAge is how old a proof's iat may be; dpopLeeway the clock skew
	// allowed both ways.
	dpopMaxAge = time.Minute
	dpopLeeway = 5 * time.Second
)

// WithPAR serves a pushed authorization request endpoint (RFC 9126) and
// advertises it as pushed_authorization_request_endpoint.
func WithPAR() Option {
	return func(o *options) { o.par = true }
}

// WithRequiredPAR is WithPAR, and the authorization endpoint refuses any
// request that was not pushed (require_pushed_authorization_requests, as
// FAPI 2.0 does).
func WithRequiredPAR() Option {
	return func(o *options) { o.par, o.requirePAR = true, true }
}

// WithDPoPNonce makes the token and userinfo endpoints require a server
// nonce in DPoP proofs (RFC 9449 §8 and §9): a proof without the current
// nonce is answered use_dpop_nonce with a DPoP-Nonce header.
func WithDPoPNonce() Option {
	return func(o *options) { o.dpopNonce = true }
}

// fapiState is what the FAPI parts remember; its zero value is ready.
type fapiState struct {
	mu         sync.Mutex
	pushed     map[string]pushedRequest
	seen       map[string]time.Time // jti of assertions and proofs, until they expire
	nonce      string
	nonceIssue time.Time
}

type pushedRequest struct {
	form     url.Values
	clientID string
	expiry   time.Time
}

// remember records id (a jti) until expiry and reports whether it was
// new: a replayed jti is refused (RFC 7523 §3 item 7, RFC 9449 §11.1).
func (f *fapiState) remember(id string, now, expiry time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]time.Time{}
	}
	for k, exp := range f.seen {
		if !now.Before(exp) {
			delete(f.seen, k)
		}
	}
	if _, replayed := f.seen[id]; replayed {
		return false
	}
	f.seen[id] = expiry
	return true
}

// currentNonce returns the server's DPoP nonce, changed every minute.
func (f *fapiState) currentNonce(now time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nonce == "" || now.Sub(f.nonceIssue) > time.Minute {
		f.nonce, f.nonceIssue = rand.Text(), now
	}
	return f.nonce
}

// authenticateAssertion implements private_key_jwt: a JWT signed by one of
// the client's Keys, with iss and sub the client_id, aud this provider
// (its issuer, or the endpoint's URL), a short exp and a jti never seen
// before (RFC 7523 §3, OpenID Connect Core §9).
func (s *Server) authenticateAssertion(r *http.Request, form url.Values) (Client, error) {
	p, err := params(form, "client_assertion_type", "client_assertion", "client_id")
	if err != nil {
		return Client{}, err
	}
	invalid := func(desc string) error {
		return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: desc}
	}
	if _, _, basic := r.BasicAuth(); basic || form.Has("client_secret") {
		return Client{}, invalidRequest("more than one client authentication method")
	}
	if p["client_assertion_type"] != assertionType {
		return Client{}, invalid("unsupported client_assertion_type")
	}
	tok, err := jwt.ParseSigned(p["client_assertion"], dpop.Algorithms)
	if err != nil {
		return Client{}, invalid("client_assertion is not a JWT signed with an asymmetric algorithm")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Client{}, invalid("client_assertion claims are malformed")
	}
	c, ok := s.client(unverified.Issuer)
	if !ok || len(c.Keys) == 0 {
		return Client{}, invalid("the assertion's client is unknown or has no keys")
	}
	if id := p["client_id"]; id != "" && id != c.ID {
		return Client{}, invalid("client_id does not match the assertion's iss")
	}
	var claims jwt.Claims
	verified := false
	for _, k := range c.Keys {
		if kid := tok.Headers[0].KeyID; kid != "" && k.KeyID != "" && kid != k.KeyID {
			continue
		}
		if tok.Claims(k.Key, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Client{}, invalid("client_assertion is not signed by a key of the client")
	}
	now := s.Now()
	endpoint := s.URL + strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(issuerPath(s.URL), "/"))
	switch {
	case claims.Subject != c.ID:
		return Client{}, invalid("client_assertion sub is not the client_id")
	case !slices.ContainsFunc(claims.Audience, func(a string) bool { return a == s.URL || a == s.URL+pathToken || a == endpoint }):
		return Client{}, invalid("client_assertion aud is not this provider")
	case claims.Expiry == nil || !now.Before(claims.Expiry.Time()):
		return Client{}, invalid("client_assertion has expired or has no exp")
	case claims.Expiry.Time().After(now.Add(assertionMaxLifetime)):
		return Client{}, invalid("client_assertion lives too long")
	case claims.ID == "":
		return Client{}, invalid("client_assertion has no jti")
	case !s.fapi.remember("assertion:"+c.ID+":"+claims.ID, now, claims.Expiry.Time()):
		return Client{}, invalid("client_assertion jti was used before")
	}
	return c, nil
}

func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return u.Path
}

// handlePAR implements RFC 9126 §2: an authenticated client posts its
// authorization request and gets a one-time request_uri for it.
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) {
	form, c, ok := s.clientPost(w, r)
	if !ok {
		return
	}
	// RFC 9126 §2.1: request_uri cannot itself be pushed.
	if form.Has("request_uri") {
		writeOAuthError(w, invalidRequest("request_uri is not allowed in a pushed request"))
		return
	}
	pushed := url.Values{}
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
		default:
			pushed[k] = v
		}
	}
	if id := pushed.Get("client_id"); id == "" {
		pushed.Set("client_id", c.ID)
	} else if id != c.ID {
		writeOAuthError(w, invalidRequest("client_id is not the authenticated client"))
		return
	}
	// The request is checked now, as the authorization endpoint would.
	_, redirectURI, msg := s.checkClient(pushed)
	if msg != "" {
		writeOAuthError(w, invalidRequest("%s", msg))
		return
	}
	if _, err := newAuthRequest(pushed, c, redirectURI); err != nil {
		writeOAuthError(w, err)
		return
	}
	uri := requestURIBase + rand.Text()
	now := s.Now()
	s.fapi.mu.Lock()
	if s.fapi.pushed == nil {
		s.fapi.pushed = map[string]pushedRequest{}
	}
	for k, p := range s.fapi.pushed {
		if !now.Before(p.expiry) {
			delete(s.fapi.pushed, k)
		}
	}
	s.fapi.pushed[uri] = pushedRequest{form: pushed, clientID: c.ID, expiry: now.Add(parTTL)}
	s.fapi.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int64(parTTL / time.Second)})
}

// pushedForm replaces an authorization request by the one pushed under
// its request_uri, which is used once (RFC 9126 §4). Without request_uri
// it returns form, unless pushing is required.
func (s *Server) pushedForm(form url.Values) (url.Values, string) {
	uri, err := param(form, "request_uri")
	if err != nil {
		return nil, err.Error()
	}
	if uri == "" {
		if s.opts.requirePAR {
			return nil, "This provider requires pushed authorization requests (RFC 9126)."
		}
		return form, ""
	}
	s.fapi.mu.Lock()
	p, ok := s.fapi.pushed[uri]
	delete(s.fapi.pushed, uri)
	s.fapi.mu.Unlock()
	switch {
	case !ok || !s.Now().Before(p.expiry):
		return nil, "The request_uri is unknown, expired or already used."
	case form.Get("client_id") != p.clientID:
		return nil, "The request_uri was pushed by another client."
	}
	return p.form, ""
}

// errUseDPoPNonce is the token endpoint's answer to a proof without the
// current nonce (RFC 9449 §8).
var errUseDPoPNonce = errors.New("use_dpop_nonce")

// checkDPoP verifies the DPoP proof of a request to endpoint path, if
// there is one, and returns its key's thumbprint ("" without a proof).
// accessToken is the token the proof must be bound to by ath, if any.
func (s *Server) checkDPoP(w http.ResponseWriter, r *http.Request, path, accessToken string) (string, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		return "", nil
	}
	if len(proofs) > 1 {
		return "", dpop.ErrInvalidProof
	}
	now := s.Now()
	p, err := dpop.Verify(proofs[0], dpop.Request{
		Method: r.Method, URL: s.URL + path, AccessToken: accessToken,
		Now: now, MaxAge: dpopMaxAge, Leeway: dpopLeeway,
	})
	if err != nil {
		return "", err
	}
	if s.opts.dpopNonce {
		nonce := s.fapi.currentNonce(now)
		w.Header().Set("DPoP-Nonce", nonce)
		if p.Nonce != nonce {
			return "", errUseDPoPNonce
		}
	}
	if !s.fapi.remember("dpop:"+p.ID, now, p.IssuedAt.Time().Add(dpopMaxAge+2*dpopLeeway)) {
		return "", errors.New("the proof's jti was used before")
	}
	return p.Thumbprint, nil
}

// tokenEndpointDPoPError is the token endpoint's error for a bad proof.
func tokenEndpointDPoPError(err error) error {
	if errors.Is(err, errUseDPoPNonce) {
		return &oauthError{status: http.StatusBadRequest, code: "use_dpop_nonce", description: "the DPoP proof needs the server's nonce"}
	}
	return &oauthError{status: http.StatusBadRequest, code: "invalid_dpop_proof", description: err.Error()}
}

// presentedToken returns the access token of an Authorization header with
// the Bearer or DPoP scheme, and whether the scheme is DPoP.
func presentedToken(r *http.Request) (token string, isDPoP, ok bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !found || token == "" {
		return "", false, false
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return token, false, true
	case strings.EqualFold(scheme, "DPoP"):
		return token, true, true
	}
	return "", false, false
}

// checkBinding enforces RFC 9449 §7 at a protected resource (userinfo): a
// DPoP-bound token comes with the DPoP scheme and a proof for this request
// and token signed by the key it is bound to; a bearer token with the
// Bearer scheme.
func (s *Server) checkBinding(w http.ResponseWriter, r *http.Request, path, token string, isDPoP bool, at accessToken) error {
	challenge := func(code, desc string) error {
		return &oauthError{status: http.StatusUnauthorized, code: code, description: desc,
			authenticate: `DPoP algs="` + algNames() + `", error="` + code + `", error_description="` + desc + `"`}
	}
	if !isDPoP {
		if at.jkt != "" {
			return challenge("invalid_token", "a DPoP-bound token must be sent with the DPoP scheme")
		}
		return nil
	}
	jkt, err := s.checkDPoP(w, r, path, token)
	switch {
	case errors.Is(err, errUseDPoPNonce):
		return challenge("use_dpop_nonce", "the DPoP proof needs the server's nonce")
	case err != nil:
		return challenge("invalid_dpop_proof", "the DPoP proof is invalid")
	case jkt == "":
		return challenge("invalid_dpop_proof", "no DPoP proof")
	case at.jkt == "" || jkt != at.jkt:
		return challenge("invalid_token", "the token is not bound to the proof's key")
	}
	return nil
}

func algNames() string {
	names := make([]string, len(dpop.Algorithms))
	for i, a := range dpop.Algorithms {
		names[i] = string(a)
	}
	return strings.Join(names, " ")
}

package httpoidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// resourceServer is the state behind AcceptToken.
type resourceServer struct {
	// cache holds validated tokens. rejected holds recent "active": false
	// introspection answers, in a cache of its own, so that a flood of
	// garbage tokens can only evict other rejections, never a valid token.
	cache    *tokenCache
	rejected *tokenCache
	// flight makes concurrent requests with one new token share a single
	// verification or introspection; it is keyed by the token's digest.
	flight singleflight.Group
	// budget bounds the introspection calls for tokens not seen before
	// (Config.IntrospectionsPerSecond); nil when unlimited.
	budget *tokenBucket
	// deadline bounds the introspection calls made with
	// introspectionClient, Config.HTTPClient without a Timeout of its own.
	deadline            *sharedDeadline
	introspectionClient *http.Client
	// basicAuthorization is the Authorization header of
	// client_secret_basic, written once.
	basicAuthorization string
	bearer             introspectionBearer
	policy             *tokenPolicy
	dpop               *dpopState
}

// rejectionTTL bounds how long an inactive token is remembered: long
// enough that a client retrying a revoked token in a loop costs one
// introspection every few seconds, short enough not to matter if the
// provider changes its mind.
const rejectionTTL = 5 * time.Second

func (rs *resourceServer) init(cfg *Config, secrets *ClientSecrets) {
	clientID := secrets.ClientID
	// RFC 6749 §2.3.1: the credentials are form-encoded first.
	credentials := url.QueryEscape(clientID) + ":" + url.QueryEscape(secrets.ClientSecret)
	rs.basicAuthorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(credentials))
	rs.policy = newTokenPolicy(cfg, clientID)
	rs.cache = newTokenCache(cfg.TokenCacheSize)
	rs.rejected = newTokenCache(cfg.TokenCacheSize)
	rs.budget = newTokenBucket(cfg.IntrospectionsPerSecond)
	rs.dpop = newDPoPState(cfg)
	rs.deadline, rs.introspectionClient = newSharedDeadline(cfg.HTTPClient, cfg.Timeout)
}

// AcceptToken returns middleware that passes a request to the next handler
// only if it carries a valid OAuth 2.0 bearer token granting every one of
// scopes, and puts the token in the request context (see TokenFrom). It
// needs no Handler around it. Unlike Flask-OIDC's accept_token, all the
// scopes are required, not one of them.
//
// The token is read from the Authorization header (RFC 6750 §2.1; the
// scheme in any case) and, with Config.AcceptFormToken, from the
// access_token field of a POST application/x-www-form-urlencoded body
// (§2.2; the form is then parsed, so the handler reads it from r.PostForm);
// never from the URL. A token sent with the DPoP scheme needs a DPoP proof,
// and a token bound to a key (cnf.jkt) must be sent that way: see "DPoP"
// in the package documentation. Config.AccessTokenValidation chooses the check. By
// default a JWS is validated as an RFC 9068 JWT access token against the
// provider's keys (asymmetric algorithms only), issuer, Config.Audience,
// exp, nbf and iat, and any other token is sent to the provider's RFC 7662
// introspection endpoint; a JWT that fails is not introspected. Either way
// the token must be an access token meant for this API, as the package
// documentation's "Token policy" says. The scopes
// are those of the scope and scp claims. A valid token is remembered, by
// its SHA-256, until it expires and at most Config.TokenCacheTTL (JWTs) or
// Config.IntrospectionCacheTTL (introspection); an inactive one for five
// seconds at most, apart from the valid ones so that garbage cannot evict
// them. Concurrent requests with the same new token share one check.
//
// Failures are answered as RFC 6750 §3 says, with Content-Type
// application/json, Cache-Control no-store and the body
// {"error":code,"error_description":text}; the token is never echoed or
// logged:
//   - no bearer token (none, or another scheme such as Basic): 401 with the
//     challenge Bearer realm="…" holding no error code, as §3.1 asks, and
//     the code "unauthorized" in the body, which RFC 6750 does not define,
//     so that no client mistakes it for one it does;
//   - a malformed request (an empty token or one with characters outside
//     RFC 6750's b64token, several Authorization headers, several
//     access_token fields, or a token sent both ways): 400 invalid_request;
//   - an invalid, expired or revoked token: 401 invalid_token;
//   - a token lacking a scope: 403 insufficient_scope, the challenge's
//     scope attribute naming all the required scopes;
//   - a provider that cannot be reached: 503 temporarily_unavailable with
//     Retry-After and no challenge;
//   - a token that needs introspecting while Config.IntrospectionsPerSecond
//     is spent: the same 503, with Retry-After: 1 and without calling the
//     provider (tokens already validated are served from the cache);
//   - a configuration that keeps any token from being validated (the
//     introspection endpoint refuses the API's credentials, or the token
//     endpoint the client credentials grant AuthBearer needs): 500
//     server_error, no challenge, and the fix logged at error level once a
//     minute.
//
// In the 400, 401 invalid_token and 403 answers the challenge carries the
// body's code and description as error and error_description.
//
// With Config.Disabled no provider is contacted: any well-formed bearer
// token stands for Config.TestingProfile, with Config.Scopes as its scopes;
// without a TestingProfile every token is refused with 401 invalid_token.
//
// AcceptToken panics if a scope is not an RFC 6749 scope-token (empty, or
// holding a space, a quote or a backslash).
func (oc *OpenIDConnect) AcceptToken(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !isScopeToken(s) {
			panic(fmt.Sprintf("httpoidc: AcceptToken: %q is not an OAuth 2.0 scope", s))
		}
	}
	required := slices.Clone(scopes)
	a := &acceptor{oc: oc, required: required}
	a.bearer = newChallenges(fmt.Sprintf("Bearer realm=%q", oc.cfg.Realm), "", required)
	a.initDPoP()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, next) })
	}
}

// The error descriptions are fixed sentences: nothing from the request, the
// token or the provider's answer ever reaches a response.
const (
	descMissing           = "missing bearer token"
	descInvalidToken      = "the access token is invalid, expired or revoked"
	descInsufficientScope = "the access token lacks a required scope"
	descUnavailable       = "the identity provider cannot be reached; try again later"
	descMisconfigured     = "the API cannot validate access tokens until its operator fixes its configuration"
)

// acceptor is one AcceptToken middleware, with its challenges prepared.
type acceptor struct {
	oc       *OpenIDConnect
	required []string
	// bearer answers requests with a bearer token or none, dpop those with
	// a DPoP-bound token (dpop.go).
	bearer, dpop challenges
}

// challenges are the WWW-Authenticate values of one scheme's answers.
type challenges struct {
	realm, invalidToken, insufficient string
	// offers are the challenges of the other schemes accepted, added after
	// realm or invalidToken to 401 answers.
	offers []string
}

// newChallenges prepares the challenges of scheme (its name and realm),
// whose parameters end with extra (such as DPoP's algs).
func newChallenges(scheme, extra string, required []string) challenges {
	return challenges{
		realm:        scheme + extra,
		invalidToken: scheme + `, error="invalid_token", error_description="` + descInvalidToken + `"` + extra,
		insufficient: scheme + `, error="insufficient_scope", error_description="` + descInsufficientScope +
			`", scope="` + strings.Join(required, " ") + `"` + extra,
	}
}

// unauthorized answers 401 with challenge, then the other schemes' offers.
func (c *challenges) unauthorized(w http.ResponseWriter, challenge, code, description string) {
	// Header keys are canonical: Www-Authenticate, as Set would write it.
	w.Header()["Www-Authenticate"] = c.offers
	writeBearerError(w, http.StatusUnauthorized, challenge, code, description)
}

func (a *acceptor) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	sent, err := bearerToken(r, a.oc.cfg.AcceptFormToken)
	raw := sent.token
	ch := &a.bearer
	if sent.dpop {
		ch = &a.dpop
	}
	if err != nil {
		var malformed invalidRequestError
		if errors.As(err, &malformed) {
			ch.invalidRequest(w, malformed)
			return
		}
		ch.unauthorized(w, ch.realm, "unauthorized", descMissing)
		return
	}
	// A token in the cache is the very token (the digest is of its bytes)
	// that passed the RFC 6750 b64token check before it was validated, so
	// only a token not seen before is checked again: on a cache hit the
	// check cost 14% of the request.
	d := tokenDigest(raw)
	tok := a.oc.cachedToken(&d)
	if tok == nil && !isB64Token(raw) {
		ch.invalidRequest(w, sent.notB64Token())
		return
	}
	// DPoP (RFC 9449, dpop.go): the proof is checked before the token, so
	// that a request without a valid one costs no introspection.
	proof, ok := a.checkProof(w, r, raw, sent.dpop)
	if !ok {
		return
	}
	ctx := r.Context()
	if tok == nil {
		tok, err = a.oc.validateToken(ctx, raw, d)
	}
	switch {
	case errors.Is(err, ErrInvalidToken):
		a.oc.log.Debug("httpoidc: bearer token refused", "path", r.URL.Path, "reason", err)
		a.oc.resource.policy.logRefusal(r.URL.Path, err)
		ch.unauthorized(w, ch.invalidToken, "invalid_token", descInvalidToken)
		return
	case errors.Is(err, ErrInvalidConfig):
		// Not the token's fault, and not an outage that retrying mends:
		// the operator must change a setting, which the log says.
		a.oc.resource.policy.logConfigError(r.URL.Path, err)
		writeBearerError(w, http.StatusInternalServerError, "", "server_error", descMisconfigured)
		return
	case isBudgetSpent(err):
		// A flood of new tokens: answered at once, and logged at debug
		// level only, since the flood would flood the log too.
		a.oc.log.Debug("httpoidc: bearer token not introspected: Config.IntrospectionsPerSecond spent", "path", r.URL.Path)
		w.Header().Set("Retry-After", "1")
		writeBearerError(w, http.StatusServiceUnavailable, "", "temporarily_unavailable", descUnavailable)
		return
	case err != nil:
		a.oc.log.Warn("httpoidc: bearer token not validated: provider unavailable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "5")
		writeBearerError(w, http.StatusServiceUnavailable, "", "temporarily_unavailable", descUnavailable)
		return
	}
	if !a.checkBinding(w, r, tok, proof) {
		return
	}
	for _, s := range a.required {
		if !slices.Contains(tok.Scopes, s) {
			writeBearerError(w, http.StatusForbidden, ch.insufficient, "insufficient_scope", descInsufficientScope)
			return
		}
	}
	// The request gets its own copy of the Token, holding the token itself
	// for UserInfo: the cached one does not keep it, which halves the
	// memory a cached token takes.
	tc := &tokenContext{Context: ctx, tok: *tok}
	tc.tok.raw = raw
	next.ServeHTTP(w, r.WithContext(tc))
}

// invalidRequest answers 400 invalid_request (RFC 6750 §3.1).
func (c *challenges) invalidRequest(w http.ResponseWriter, malformed invalidRequestError) {
	writeBearerError(w, http.StatusBadRequest,
		c.realm+`, error="invalid_request", error_description="`+string(malformed)+`"`, "invalid_request", string(malformed))
}

// cachedToken returns the valid token cached under d, or nil.
func (oc *OpenIDConnect) cachedToken(d *digest) *Token {
	if oc.cfg.Disabled {
		return nil
	}
	e, _ := oc.resource.cache.get(d, oc.cfg.Now())
	return e.tok
}

// validateToken returns the Token for raw, whose digest is d, when the
// cache has none. Errors wrap ErrInvalidToken when the token is refused,
// and anything else (ErrProviderUnavailable) when it could not be checked.
func (oc *OpenIDConnect) validateToken(ctx context.Context, raw string, d digest) (*Token, error) {
	if oc.cfg.Disabled {
		return oc.testingToken(raw)
	}
	p, err := oc.discover(ctx)
	if err != nil {
		return nil, err
	}
	mode := oc.cfg.AccessTokenValidation
	jws := splitJWS(raw)
	switch {
	case mode != ValidateIntrospection && jws != nil:
		// A JWT that fails is not retried by introspection: an attacker
		// must not get two chances, and the provider's keys are the
		// authority on its own JWTs.
		return oc.checkJWT(ctx, p, jws, d)
	case mode == ValidateJWT:
		return nil, fmt.Errorf("%w: not a JWT", ErrInvalidToken)
	case p.introspectionURL != "":
		return oc.checkIntrospection(ctx, p, raw, d)
	}
	// New refuses ValidateIntrospection without an endpoint, so this is
	// ValidateAuto with an opaque token.
	return nil, &refusal{"token", "not a JWT, and the provider's discovery document has no introspection_endpoint", fixIntrospectionEndpoint}
}

func (oc *OpenIDConnect) testingToken(raw string) (*Token, error) {
	login := oc.testingLogin()
	if login == nil {
		return nil, fmt.Errorf("%w: Config.Disabled is set and there is no TestingProfile", ErrInvalidToken)
	}
	profile, err := json.Marshal(login.Profile)
	if err != nil {
		return nil, fmt.Errorf("%w: Config.TestingProfile cannot be written as JSON: %w", ErrInvalidConfig, err)
	}
	return &Token{
		Subject:  login.Subject,
		ClientID: oc.secrets.ClientID,
		Issuer:   oc.secrets.Issuer,
		Scopes:   slices.Clone(oc.cfg.Scopes),
		Audience: []string{oc.cfg.Audience},
		claims:   &tokenClaims{json: string(profile)},
		raw:      raw,
	}, nil
}

// checkJWT verifies a JWT access token, once for all the requests that
// present it at the same time.
func (oc *OpenIDConnect) checkJWT(ctx context.Context, p *providerState, jws *compactJWS, key digest) (*Token, error) {
	rs := &oc.resource
	d := &key
	// Do, not DoChan as introspection uses: verification is CPU-bound and
	// runs on the caller's goroutine; moving it to a fresh goroutine (whose
	// small stack grows during the RSA arithmetic) cost 17% in BenchmarkJWT.
	v, err, _ := rs.flight.Do(string(d[:]), func() (any, error) {
		now := oc.cfg.Now()
		// A request that missed the cache just before the previous flight
		// stored the token finds it here.
		if e, ok := rs.cache.get(d, now); ok {
			return e.tok, nil
		}
		// Other requests wait for this verification, so the caller leaving
		// must not abort it; only a JWKS fetch can wait, for at most
		// Config.Timeout.
		thumbprint, err := p.keys.verifyJWS(context.WithoutCancel(ctx), jws)
		if err != nil {
			return nil, err
		}
		// The payload is this JWS's own, never changed: the claims read
		// from it share its memory.
		tok, err := oc.jwtAccessToken(p, stringOf(jws.payload), jws.header, now)
		if err != nil {
			return nil, err
		}
		if ttl := oc.cfg.TokenCacheTTL; ttl > 0 {
			// The entry lives as long as the token would pass validation,
			// so a cached answer is never more lenient than a fresh one.
			expires := earliest(now.Add(ttl), tok.Expiry.Add(oc.cfg.ClockSkew))
			rs.cache.put(d, cacheEntry{tok: tok, expires: expires, keys: p.keys, thumbprint: thumbprint}, now)
		}
		return tok, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Token), nil
}

// jwtAccessToken checks the header and claims of a JWT access token whose
// signature is verified (RFC 9068 §4).
func (oc *OpenIDConnect) jwtAccessToken(p *providerState, payload string, header jwsHeader, now time.Time) (*Token, error) {
	pol := oc.resource.policy
	typed, err := pol.jwtTyped(header.Type)
	if err != nil {
		return nil, err
	}
	var claims claimValues
	if err := readClaims(payload, &claims); err != nil {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrInvalidToken)
	}
	if r := pol.otherTokenMark(&claims); r != nil {
		return nil, r
	}
	tok, err := newToken(payload, &claims)
	if err != nil {
		return nil, err
	}
	if !typed && !pol.saysAccessToken(&claims, tok.Audience) {
		return nil, errNoEvidence
	}
	if tok.Issuer != p.issuer {
		return nil, &refusal{"iss", fmt.Sprintf("%s is not the provider", quoteShort(tok.Issuer)), ""}
	}
	if err := pol.forThisAPI(tok, false); err != nil {
		return nil, err
	}
	skew := oc.cfg.ClockSkew
	nbf, err := numericDate(claims.nbf, "nbf")
	switch {
	case err != nil:
		return nil, err
	case tok.Expiry.IsZero():
		return nil, fmt.Errorf("%w: no exp", ErrInvalidToken)
	case !now.Before(tok.Expiry.Add(skew)):
		return nil, fmt.Errorf("%w: expired", ErrInvalidToken)
	case nbf.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: not valid yet (nbf)", ErrInvalidToken)
	case tok.IssuedAt.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	case tok.Subject == "":
		return nil, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	return tok, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

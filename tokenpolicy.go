package httpoidc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// tokenPolicy decides whether a token whose signature, or whose provider,
// vouches for it is an access token meant for this API: not an ID,
// logout or refresh token, and not another API's or another client's
// token. The rules are written out in the package documentation ("Token
// policy"); every refusal says which claim failed and, when a setting
// would accept a legitimate token, which one.
type tokenPolicy struct {
	clientID string
	// audience is Config.Audience, or the client ID by default;
	// audienceIsClientID says that it is also the aud of ID tokens, so that
	// aud alone proves nothing about the kind of token.
	audience           string
	audienceIsClientID bool
	allowedClients     []string
	idTokenShaped      bool // Config.InsecureAcceptIDTokenShapedAccessTokens
	strictType         bool // Config.StrictAccessTokenType

	log *slog.Logger
	now func() time.Time
	// nextWarning and nextConfigError (Unix nanoseconds) rate-limit the
	// log lines that tell the operator what to fix to one a minute each.
	nextWarning     atomic.Int64
	nextConfigError atomic.Int64
}

// logInterval is the least time between two log lines about the same kind
// of trouble: the first one tells the operator, the rest would only flood
// the log.
const logInterval = time.Minute

func newTokenPolicy(cfg *Config, clientID string) *tokenPolicy {
	audience := cfg.Audience
	if audience == "" {
		audience = clientID
	}
	return &tokenPolicy{
		clientID:           clientID,
		audience:           audience,
		audienceIsClientID: audience == clientID,
		allowedClients:     slices.Clone(cfg.AllowedClients),
		idTokenShaped:      cfg.InsecureAcceptIDTokenShapedAccessTokens,
		strictType:         cfg.StrictAccessTokenType,
		log:                cfg.Logger,
		now:                cfg.Now,
	}
}

// refusal is a token the policy refuses. It wraps ErrInvalidToken.
type refusal struct {
	claim  string // the header or claim that failed
	reason string
	// fix names the setting that accepts the token if it really is meant
	// for this API; empty when no setting should.
	fix string
}

func (r *refusal) Error() string {
	return ErrInvalidToken.Error() + ": " + r.claim + ": " + r.reason
}

func (r *refusal) Unwrap() error { return ErrInvalidToken }

// Fixes named by refusals.
const (
	fixAudience = "set Config.Audience (OIDC_AUDIENCE) to this API's audience and have the provider issue tokens " +
		"for it (Keycloak: an audience mapper; Auth0: the audience parameter), or list the clients whose tokens " +
		"this API accepts in Config.AllowedClients (OIDC_ALLOWED_CLIENTS)"
	fixAllowedClients = "add the client to Config.AllowedClients (OIDC_ALLOWED_CLIENTS) if this API accepts its tokens"
	fixIDTokenShaped  = "if the provider is Dex, whose access tokens look like ID tokens, set " +
		"Config.InsecureAcceptIDTokenShapedAccessTokens (this accepts its ID tokens too)"
	fixEvidence = "have the provider issue RFC 9068 at+jwt access tokens or put a scope or client_id claim in " +
		"them, or set Config.Audience (OIDC_AUDIENCE) to an audience of this API other than the client ID; " + fixIDTokenShaped
	fixIntrospectionEndpoint = "set \"token_introspection_uri\" in client_secrets.json (ClientSecrets.IntrospectionURI); " +
		"Ory Hydra serves it on its admin port at /admin/oauth2/introspect"
)

// errNoEvidence refuses a JWT without the at+jwt type that shows nothing
// of an access token.
var errNoEvidence = &refusal{"typ", "no at+jwt header, no scope, scp or client_id claim, and aud is the client ID: this may be an ID token", fixEvidence}

// jwtTyped checks a JWT's typ header (RFC 9068 §2.1, RFC 8725 §3.11) and
// reports whether it types the JWT as an access token.
func (pol *tokenPolicy) jwtTyped(typ string) (bool, error) {
	switch strings.ToLower(typ) {
	case "at+jwt", "application/at+jwt":
		return true, nil
	case "", "jwt":
		if pol.strictType {
			return false, &refusal{"typ", "the header is not at+jwt, which StrictAccessTokenType requires",
				"the provider does not issue RFC 9068 access tokens: unset Config.StrictAccessTokenType"}
		}
		return false, nil
	}
	// Another explicit type, such as logout+jwt, is some other
	// provider-signed JWT for this client: never an access token.
	return false, &refusal{"typ", fmt.Sprintf("the header %s is not an access token type", quoteShort(typ)), ""}
}

// otherTokenMark returns a refusal when claims (of a JWT, or an
// introspection answer) carry what only an ID token, a logout token or a
// refresh token carries. ID tokens travel further than access tokens
// (id_token_hint in logout URLs, front ends that forward them), and
// refresh tokens live for weeks: neither may ever open the API.
func (pol *tokenPolicy) otherTokenMark(claims *claimValues) *refusal {
	// Keycloak names the kind of every token in a typ claim: Bearer for
	// access tokens; ID, Refresh, Offline and Logout for the others.
	// Before version 25 it also copied the nonce into access tokens.
	keycloakAccess := false
	if claims.typ.present() {
		typ, _ := claims.typ.str()
		if !strings.EqualFold(typ, "Bearer") {
			return &refusal{"typ", fmt.Sprintf("the claim %s marks another kind of token than an access token", quoteShort(typ)), ""}
		}
		keycloakAccess = true
	}
	// Cognito's token_use is id or access; Ory Hydra and Dex answer
	// introspection with access_token or refresh_token.
	if claims.tokenUse.present() {
		if use, _ := claims.tokenUse.str(); use != "access" && use != "access_token" {
			return &refusal{"token_use", fmt.Sprintf("%s is not an access token", quoteShort(use)), ""}
		}
	}
	// OpenID Connect Back-Channel Logout §2.4 and RFC 8417: events makes
	// a logout token or another security event token.
	if claims.events.present() {
		return &refusal{"events", "present: a logout or security event token", ""}
	}
	// OpenID Connect Core §3.3.2.11 and FAPI: only ID tokens hash the code
	// or the state.
	if claims.cHash.present() {
		return &refusal{"c_hash", "present: an ID token", ""}
	}
	if claims.sHash.present() {
		return &refusal{"s_hash", "present: an ID token", ""}
	}
	if pol.idTokenShaped {
		return nil
	}
	if claims.atHash.present() {
		return &refusal{"at_hash", "present: an ID token", fixIDTokenShaped}
	}
	if claims.nonce.present() && !keycloakAccess {
		return &refusal{"nonce", "present: an ID token", fixIDTokenShaped}
	}
	return nil
}

// saysAccessToken reports whether the verified claims of a JWT without the
// at+jwt type positively show an access token, so that an ID token, which
// carries the client ID as aud like access tokens for the default
// Audience, is never taken for one. otherTokenMark has passed, so a typ
// claim is Keycloak's Bearer and a token_use is access.
func (pol *tokenPolicy) saysAccessToken(claims *claimValues, audience []string) bool {
	if claims.scope.present() || claims.scp.present() || claims.typ.present() || claims.tokenUse.present() {
		return true
	}
	// client_id names the client an access token was issued to (RFC 9068
	// §2.2), but zitadel puts it into its ID tokens too, beside azp, the
	// ID token's authorized party (OpenID Connect Core §2), which its
	// access tokens lack; its ID tokens from a token exchange (RFC 8693)
	// carry neither nonce nor at_hash.
	if claims.clientID.present() && !claims.azp.present() {
		return true
	}
	// An audience configured for this API, other than the client ID, is
	// never an ID token's.
	if !pol.audienceIsClientID && slices.Contains(audience, pol.audience) {
		return true
	}
	return pol.idTokenShaped
}

// forThisAPI checks that a token is meant for this API: its aud names the
// Audience (RFC 9068 §4, RFC 7662 §4), its client is allowed, and an
// introspection answer, whose aud providers fill with audiences of their
// own, is bound to the API by its client when the Audience is the client
// ID and aud names no other API.
func (pol *tokenPolicy) forThisAPI(tok *Token, introspected bool) error {
	if len(pol.allowedClients) > 0 && !slices.Contains(pol.allowedClients, tok.ClientID) {
		return &refusal{"client_id", fmt.Sprintf("the client %s is not in AllowedClients", quoteShort(tok.ClientID)), fixAllowedClients}
	}
	switch {
	case slices.Contains(tok.Audience, pol.audience):
		return nil
	case len(tok.Audience) == 0 && len(pol.allowedClients) > 0:
		// Cognito's access tokens and Hydra's introspection answers name
		// no audience: the client, checked above, binds them.
		return nil
	case introspected && pol.audienceIsClientID && (tok.ClientID == pol.clientID || len(pol.allowedClients) > 0):
		// The client binds the answer only when aud names no other API:
		// a token of this client for another API (RFC 9068 §4, RFC 7662
		// §4) must not be replayed here.
		if other := pol.otherAudience(tok.Audience); other != "" {
			return &refusal{"aud", fmt.Sprintf("%s names another API, %s, and not %s (the token's client is %s)",
				quoteList(tok.Audience), quoteShort(other), quoteShort(pol.audience), quoteShort(tok.ClientID)), fixAudience}
		}
		return nil
	case introspected && pol.audienceIsClientID:
		return &refusal{"client_id", fmt.Sprintf("the answer's client %s is not this client and its aud %s does not contain %s",
			quoteShort(tok.ClientID), quoteList(tok.Audience), quoteShort(pol.audience)), fixAllowedClients}
	case len(tok.Audience) == 0:
		return &refusal{"aud", "absent", fixAudience}
	}
	return &refusal{"aud", fmt.Sprintf("%s does not contain %s (the token's client is %s)",
		quoteList(tok.Audience), quoteShort(pol.audience), quoteShort(tok.ClientID)), fixAudience}
}

// providerAudiences are audiences providers put into every access token
// whatever API it is for, so that they name no other API: Keycloak's
// "account", the account console's client, whose roles every user has.
var providerAudiences = []string{"account"}

// otherAudience returns the first value of an introspection answer's aud
// that names neither this client, nor an allowed client, nor a provider's
// own audience (providerAudiences), or "" if there is none.
func (pol *tokenPolicy) otherAudience(audience []string) string {
	for _, aud := range audience {
		if aud != pol.clientID && !slices.Contains(pol.allowedClients, aud) && !slices.Contains(providerAudiences, aud) {
			return aud
		}
	}
	return ""
}

// judgeIntrospection checks an active introspection answer (RFC 7662
// §2.2) for anything but a bearer access token of this provider. raw is
// the token itself: when it is a JWT, which the provider has just vouched
// for, its claims are checked for ID-token marks too, because providers
// (Dex) answer for their ID tokens as if they were access tokens.
func (pol *tokenPolicy) judgeIntrospection(claims *claimValues, raw, issuer string) error {
	// A refresh token is not a bearer access token. A DPoP-bound token
	// (RFC 9449 §6.2) is accepted only with the cnf.jkt that AcceptToken
	// then checks its proof against (dpop.go): without it, no proof can
	// be checked.
	if claims.tokenType.present() {
		typ, _ := claims.tokenType.str()
		_, bound := claims.confirmation()
		if !strings.EqualFold(typ, "Bearer") && typ != "access_token" && !(strings.EqualFold(typ, "DPoP") && bound) {
			return &refusal{"token_type", fmt.Sprintf("%s is not a bearer access token", quoteShort(typ)), ""}
		}
	}
	if r := pol.otherTokenMark(claims); r != nil {
		return r
	}
	if jws := splitJWS(raw); jws != nil {
		// The provider vouches for the token, so it is judged as a
		// verified JWT would be.
		typed, err := pol.jwtTyped(jws.header.Type)
		if err != nil {
			return err
		}
		var payload claimValues
		decoded, err := base64.RawURLEncoding.DecodeString(jws.encodedPayload)
		if err == nil && readClaims(stringOf(decoded), &payload) == nil {
			if r := pol.otherTokenMark(&payload); r != nil {
				return r
			}
			aud, err := stringsClaim(payload.aud, "aud", oneString)
			if !typed && (err != nil || !pol.saysAccessToken(&payload, aud)) {
				return errNoEvidence
			}
		}
	}
	// RFC 7662 §2.2: iss is optional; when present it must be the provider
	// this API trusts.
	if claims.iss.present() {
		if iss, _ := claims.iss.str(); iss != issuer {
			return &refusal{"iss", fmt.Sprintf("%s is not the provider", quoteShort(iss)), ""}
		}
	}
	return nil
}

// logRefusal tells the operator, at most once a minute, why a token was
// refused and which setting fixes it, when one does. The token itself is
// never logged.
func (pol *tokenPolicy) logRefusal(path string, err error) {
	var r *refusal
	if !errors.As(err, &r) || r.fix == "" || !allowLog(&pol.nextWarning, pol.now()) {
		return
	}
	pol.log.Warn("httpoidc: access token refused: "+r.claim+": "+r.reason+"; "+r.fix,
		"path", path, "claim", r.claim, "reason", r.reason, "fix", r.fix)
}

// logConfigError tells the operator, at most once a minute, that tokens
// cannot be validated at all because of the configuration.
func (pol *tokenPolicy) logConfigError(path string, err error) {
	if !allowLog(&pol.nextConfigError, pol.now()) {
		return
	}
	pol.log.Error("httpoidc: access tokens cannot be validated: "+err.Error(), "path", path)
}

// allowLog reports whether a rate-limited log line may be written now, and
// if so holds the next one back for logInterval.
func allowLog(next *atomic.Int64, now time.Time) bool {
	at := next.Load()
	return now.UnixNano() >= at && next.CompareAndSwap(at, now.Add(logInterval).UnixNano())
}

// quoteShort quotes a claim value for a message, cut to a length that
// keeps log lines readable.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func quoteList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = quoteShort(v)
	}
	return "[" + strings.Join(quoted, " ") + "]"
}

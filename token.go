package httpoidc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Token is a validated OAuth 2.0 access token. AcceptToken puts it in the
// request context; read it with TokenFrom. Each request gets a copy of its
// own; the Scopes and Audience slices are shared by the requests
// presenting the same token: treat them as read-only.
type Token struct {
	// Subject is the sub claim: the user, or the client for a client
	// credentials token.
	Subject string
	// ClientID is the client the token was issued to: client_id, else
	// azp, else Okta's cid or Entra ID v1's appid.
	ClientID string
	// Issuer is the provider that issued the token.
	Issuer string
	// Scopes are the granted scopes, from the space-separated scope claim
	// and the scp claim (an array or a space-separated string).
	Scopes []string
	// Audience is the aud claim.
	Audience []string
	// Expiry is the exp claim; zero if an introspection answer had none.
	Expiry time.Time
	// IssuedAt is the iat claim; zero if absent.
	IssuedAt time.Time

	// claims are shared by the requests presenting the token.
	claims *tokenClaims
	raw    string
}

// tokenClaims are a token's claims as JSON, decoded into a map only when
// something reads a claim that Token has no field for.
type tokenClaims struct {
	json string
	// jkt and bound are the cnf.jkt (RFC 9449 §6) that every request with
	// the token is checked against (acceptor.checkBinding).
	jkt   string
	bound bool

	decode sync.Once
	m      map[string]any
}

// Claims decodes the token's claims into v, as json.Unmarshal does: every
// claim of the JWT, or every member of the introspection answer; with
// Config.Disabled, the TestingProfile. v is a pointer to a struct with
// json tags, or to a map[string]any. It returns json.Unmarshal's error
// when the claims do not fit v.
func (t *Token) Claims(v any) error {
	doc := "{}"
	if t.claims != nil {
		doc = t.claims.json
	}
	return json.Unmarshal([]byte(doc), v)
}

// claimMap returns the token's claims as a map, decoded once for all the
// requests presenting the token; nil for a Token without claims. The map
// is shared: read it, never change it.
func (t *Token) claimMap() map[string]any {
	c := t.claims
	if c == nil {
		return nil
	}
	c.decode.Do(func() { _ = json.Unmarshal([]byte(c.json), &c.m) })
	return c.m
}

// newTokenClaims keeps doc, the claims c were read from, for Token.Claims.
func newTokenClaims(doc string, c *claimValues) *tokenClaims {
	jkt, bound := c.confirmation()
	return &tokenClaims{json: doc, jkt: jkt, bound: bound}
}

// tokenContext is the request context AcceptToken passes on: the request's
// copy of its Token and the context in one allocation.
type tokenContext struct {
	context.Context
	tok Token
}

func (c *tokenContext) Value(key any) any {
	if key == any(tokenKey) {
		return &c.tok
	}
	return c.Context.Value(key)
}

// String describes the token without the token itself.
func (t Token) String() string {
	return fmt.Sprintf("Token{Subject: %q, ClientID: %q, Scopes: %q}", t.Subject, t.ClientID, t.Scopes)
}

// GoString is like String, so %#v does not print the token either.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer so that logging a Token never logs the
// token itself.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sub", t.Subject), slog.String("client_id", t.ClientID), slog.Any("scopes", t.Scopes))
}

// TokenFrom returns the token AcceptToken validated for the request, and
// false when there is none.
func TokenFrom(ctx context.Context) (*Token, bool) {
	tok, ok := ctx.Value(tokenKey).(*Token)
	return tok, ok && tok != nil
}

// newToken builds a Token from claims, read from doc (JWT claims or an
// introspection answer), refusing registered claims of the wrong type. The
// Token does not hold the token itself: each request's copy does
// (acceptor.serve), the cache does not.
func newToken(doc string, claims *claimValues) (*Token, error) {
	tok := &Token{claims: newTokenClaims(doc, claims)}
	var err error
	str := func(name string, v jsonValue) string {
		s, ok := v.str()
		if v.present() && !ok && err == nil {
			err = fmt.Errorf("%w: claim %s is not a string", ErrInvalidToken, name)
		}
		return s
	}
	tok.Subject, tok.Issuer = str("sub", claims.sub), str("iss", claims.iss)
	// The client is client_id (RFC 9068, RFC 7662), else azp (OpenID
	// Connect, Keycloak, Entra ID v2), else Okta's cid or Entra ID v1's
	// appid.
	for _, c := range []struct {
		name  string
		value jsonValue
	}{{"client_id", claims.clientID}, {"azp", claims.azp}, {"cid", claims.cid}, {"appid", claims.appid}} {
		if tok.ClientID == "" {
			tok.ClientID = str(c.name, c.value)
		}
	}
	tok.Scopes = strings.Fields(str("scope", claims.scope))
	if err != nil {
		return nil, err
	}
	// RFC 7519 §4.1.3: a single string is one audience, spaces and all.
	if tok.Audience, err = stringsClaim(claims.aud, "aud", oneString); err != nil {
		return nil, err
	}
	// Entra ID v2 and Okta's scp is an array, or one space-separated string.
	scp, err := stringsClaim(claims.scp, "scp", strings.Fields)
	if err != nil {
		return nil, err
	}
	for _, s := range scp {
		if !slices.Contains(tok.Scopes, s) {
			tok.Scopes = append(tok.Scopes, s)
		}
	}
	if tok.Expiry, err = numericDate(claims.exp, "exp"); err != nil {
		return nil, err
	}
	if tok.IssuedAt, err = numericDate(claims.iat, "iat"); err != nil {
		return nil, err
	}
	return tok, nil
}

// stringsClaim reads a claim that is one string, made a list by split, or
// an array of strings; nil if absent or null.
func stringsClaim(v jsonValue, name string, split func(string) []string) ([]string, error) {
	values, ok := v.strs(split)
	switch {
	case ok:
		return values, nil
	case len(v) > 0 && v[0] == '[':
		return nil, fmt.Errorf("%w: claim %s holds a non-string", ErrInvalidToken, name)
	}
	return nil, fmt.Errorf("%w: claim %s is neither a string nor an array", ErrInvalidToken, name)
}

// numericDate reads an RFC 7519 NumericDate claim; zero if absent.
func numericDate(v jsonValue, name string) (time.Time, error) {
	if !v.present() {
		return time.Time{}, nil
	}
	// Beyond the year 30000 is not a date any provider means.
	if f, ok := v.number(); ok && f >= 0 && f < 9e11 {
		return time.Unix(int64(f), 0), nil
	}
	return time.Time{}, fmt.Errorf("%w: claim %s is not a NumericDate", ErrInvalidToken, name)
}

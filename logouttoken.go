package httpoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// logoutTokenMaxAge is how long after its iat a logout token without exp
// is accepted with Config.InsecureAcceptLogoutTokensWithoutExp: providers
// post logout tokens as soon as the user logs out, so a minute or two
// covers delivery, and the replay guard remembers the jti that long.
const logoutTokenMaxAge = 2 * time.Minute

// backchannelLogoutEvent is the member of events that makes a JWT a
// logout token (OpenID Connect Back-Channel Logout 1.0 §2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// verifyLogoutToken validates a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.6) with go-oidc, which requires the exp claim.
// With Config.InsecureAcceptLogoutTokensWithoutExp a token without exp is
// checked here on the same rules, its age bounded by iat instead.
func (oc *OpenIDConnect) verifyLogoutToken(ctx context.Context, p *providerState, raw string) (*oidc.LogoutToken, error) {
	now := oc.cfg.Now()
	if oc.cfg.InsecureAcceptLogoutTokensWithoutExp {
		if _, claims := unverifiedJWT(raw); claims != nil {
			if _, hasExp := claims["exp"]; !hasExp {
				return oc.verifyLogoutTokenWithoutExp(ctx, p, raw, now)
			}
		}
	}
	token, err := p.idTokens.VerifyLogout(ctx, raw)
	if err != nil {
		return nil, err
	}
	if token.IssuedAt.After(now.Add(oc.cfg.ClockSkew)) {
		return nil, errors.New("logout token issued in the future")
	}
	return token, nil
}

func (oc *OpenIDConnect) verifyLogoutTokenWithoutExp(ctx context.Context, p *providerState, raw string, now time.Time) (*oidc.LogoutToken, error) {
	payload, header, _, err := p.keys.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	// §2.4 recommends typ logout+jwt; an explicit other type (at+jwt) is
	// another kind of token.
	switch typ, _ := header.ExtraHeaders[jose.HeaderType].(string); strings.ToLower(typ) {
	case "", "jwt", "logout+jwt", "application/logout+jwt":
	default:
		return nil, fmt.Errorf("logout token typ %s is not logout+jwt", quoteShort(typ))
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, errors.New("logout token claims are not a JSON object")
	}
	tok, err := newToken(raw, claims)
	if err != nil {
		return nil, err
	}
	jti, _ := claims["jti"].(string)
	sid, _ := claims["sid"].(string)
	events, _ := claims["events"].(map[string]any)
	_, isLogout := events[backchannelLogoutEvent].(map[string]any)
	_, hasNonce := claims["nonce"]
	skew := oc.cfg.ClockSkew
	switch {
	case tok.Issuer != p.issuer:
		return nil, errors.New("logout token issued by another provider")
	case !slices.Contains(tok.Audience, oc.secrets.ClientID):
		return nil, errors.New("logout token aud is not this client")
	case !isLogout:
		return nil, errors.New("logout token lacks the back-channel logout event")
	case hasNonce:
		// §2.4: a nonce makes it an ID token posted as a logout token.
		return nil, errors.New("logout token has a nonce")
	case jti == "":
		return nil, errors.New("logout token has no jti")
	case tok.Subject == "" && sid == "":
		return nil, errors.New("logout token has neither sub nor sid")
	// Without exp, only a recent iat bounds the token's life, and the
	// replay guard remembers its jti for exactly that life.
	case tok.IssuedAt.IsZero():
		return nil, errors.New("logout token has neither exp nor iat")
	case tok.IssuedAt.After(now.Add(skew)):
		return nil, errors.New("logout token issued in the future")
	case now.Sub(tok.IssuedAt) > logoutTokenMaxAge+skew:
		return nil, fmt.Errorf("logout token without exp issued more than %s ago", logoutTokenMaxAge)
	}
	return &oidc.LogoutToken{
		TokenID:   jti,
		Subject:   tok.Subject,
		Issuer:    tok.Issuer,
		Audience:  tok.Audience,
		IssuedAt:  tok.IssuedAt,
		Expiry:    tok.IssuedAt.Add(logoutTokenMaxAge),
		SessionID: sid,
	}, nil
}

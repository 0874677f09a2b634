package httpoidc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// logoutTokenMaxAge is how long after its iat a logout token without exp
// is accepted with Config.InsecureAcceptLogoutTokensWithoutExp: providers
// post logout tokens as soon as the user logs out, so a minute or two
// covers delivery, and the replay guard remembers the jti that long.
const logoutTokenMaxAge = 2 * time.Minute

// backchannelLogoutEvent is the member of events that makes a JWT a
// logout token (OpenID Connect Back-Channel Logout 1.0 §2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// verifyLogoutToken validates a back-channel logout token exactly as OpenID
// Connect Back-Channel Logout 1.0 §2.6 says, doing itself what go-oidc's
// VerifyLogout leaves out (iat, the type of the event member, typ). It is
// the one place logout tokens are checked. A token without exp is refused
// unless Config.InsecureAcceptLogoutTokensWithoutExp bounds its life by
// iat instead.
func (oc *OpenIDConnect) verifyLogoutToken(ctx context.Context, p *providerState, raw string) (*oidc.LogoutToken, error) {
	// Step 2: the signature, with the asymmetric algorithms of ID tokens
	// (never none, never HMAC).
	payload, header, _, err := p.keys.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	// §2.4: logout tokens are explicitly typed logout+jwt (RFC 8725 §3.11),
	// so that no other JWT of this provider passes for one; another
	// explicit type (at+jwt) is another kind of token. Keycloak sends the
	// generic typ JWT, which says no more than an absent typ.
	switch strings.ToLower(header.Type) {
	case "", "jwt", "logout+jwt", "application/logout+jwt":
	default:
		return nil, fmt.Errorf("%w: logout token typ %s is not logout+jwt", ErrInvalidToken, quoteShort(header.Type))
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: logout token claims are not a JSON object", ErrInvalidToken)
	}
	// newToken refuses iss, sub, aud, iat and exp of the wrong type.
	var registered claimValues
	if err := readClaims(stringOf(payload), &registered); err != nil {
		return nil, fmt.Errorf("%w: logout token claims are not a JSON object", ErrInvalidToken)
	}
	tok, err := newToken(stringOf(payload), &registered)
	if err != nil {
		return nil, err
	}
	jti, jtiIsString := claims["jti"].(string)
	sid, sidIsString := claims["sid"].(string)
	_, hasSID := claims["sid"]
	events, _ := claims["events"].(map[string]any)
	_, isLogout := events[backchannelLogoutEvent].(map[string]any)
	_, hasNonce := claims["nonce"]
	now, skew := oc.cfg.Now(), oc.cfg.ClockSkew
	expiry := tok.Expiry
	if expiry.IsZero() && oc.cfg.InsecureAcceptLogoutTokensWithoutExp {
		// Without exp, only a recent iat bounds the token's life, and the
		// replay guard remembers its jti for exactly that life.
		expiry = tok.IssuedAt.Add(logoutTokenMaxAge)
	}
	switch {
	// Step 3: iss, aud, iat and exp as for ID tokens (Core §3.1.3.7);
	// §2.4 makes iat and jti required.
	case tok.Issuer != p.issuer:
		return nil, fmt.Errorf("%w: logout token issued by another provider", ErrInvalidToken)
	case !slices.Contains(tok.Audience, oc.secrets.ClientID):
		return nil, fmt.Errorf("%w: logout token aud is not this client", ErrInvalidToken)
	case tok.IssuedAt.IsZero():
		return nil, fmt.Errorf("%w: logout token has no iat", ErrInvalidToken)
	case tok.IssuedAt.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: logout token issued in the future", ErrInvalidToken)
	case expiry.IsZero():
		return nil, fmt.Errorf("%w: logout token has no exp (see Config.InsecureAcceptLogoutTokensWithoutExp)", ErrInvalidToken)
	case !now.Before(expiry.Add(skew)):
		return nil, fmt.Errorf("%w: logout token expired", ErrInvalidToken)
	case !jtiIsString || jti == "":
		return nil, fmt.Errorf("%w: logout token has no jti", ErrInvalidToken)
	// Step 4.
	case hasSID && !sidIsString:
		return nil, fmt.Errorf("%w: logout token sid is not a string", ErrInvalidToken)
	case tok.Subject == "" && sid == "":
		return nil, fmt.Errorf("%w: logout token has neither sub nor sid", ErrInvalidToken)
	// Step 5: events is a JSON object whose back-channel logout member is
	// a JSON object; null, a string or an array is not.
	case !isLogout:
		return nil, fmt.Errorf("%w: logout token events has no back-channel logout member that is a JSON object", ErrInvalidToken)
	// Step 6: a nonce, even null, marks an ID token posted as a logout
	// token.
	case hasNonce:
		return nil, fmt.Errorf("%w: logout token has a nonce", ErrInvalidToken)
	}
	return &oidc.LogoutToken{
		TokenID:   jti,
		Subject:   tok.Subject,
		Issuer:    tok.Issuer,
		Audience:  tok.Audience,
		IssuedAt:  tok.IssuedAt,
		Expiry:    expiry,
		SessionID: sid,
	}, nil
}

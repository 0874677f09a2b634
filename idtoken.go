package httpoidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// idTokenOrigin is what an ID token must match besides the provider: the
// nonce of the login, or, for an ID token from a refresh, the ID token of
// the login it continues.
type idTokenOrigin struct {
	nonce    string
	original map[string]any // nil at login
}

// idTokenAtLogin expects the nonce sent in the authentication request.
func idTokenAtLogin(nonce string) idTokenOrigin { return idTokenOrigin{nonce: nonce} }

// idTokenAtRefresh expects the ID token of the login that a refresh
// continues. The stored token was verified at login, so reading it back
// needs no signature check.
func idTokenAtRefresh(login *loginData) (idTokenOrigin, error) {
	original := unverifiedJWT(login.IDToken)
	if original == nil {
		return idTokenOrigin{}, errors.New("the login's ID token cannot be read")
	}
	nonce, _ := original["nonce"].(string)
	return idTokenOrigin{nonce: nonce, original: original}, nil
}

// unverifiedJWT returns the claims of raw if it is a compact JWS, else a
// nil map. They serve only to refuse a token, never to accept one.
func unverifiedJWT(raw string) map[string]any {
	jws := splitJWS(raw)
	if jws == nil {
		return nil
	}
	var claims map[string]any
	decoded, err := base64.RawURLEncoding.DecodeString(jws.encodedPayload)
	if err != nil || json.Unmarshal(decoded, &claims) != nil {
		return nil
	}
	return claims
}

// verifyIDToken checks an ID token from the token endpoint, at login and
// at every refresh alike: go-oidc's checks (signature, iss, aud, exp) and
// those OpenID Connect Core §3.1.3.7 leaves to the caller (sub, iat, nbf,
// azp, nonce; at_hash against accessToken, §3.1.3.8), all with ClockSkew.
// A refreshed ID token must also continue the original authentication
// (§12.2).
func (oc *OpenIDConnect) verifyIDToken(ctx context.Context, p *providerState, raw, accessToken string, origin idTokenOrigin) (*oidc.IDToken, map[string]any, error) {
	idToken, err := p.idTokens.Verify(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		return nil, nil, err
	}
	now := oc.cfg.Now()
	switch {
	case idToken.Subject == "":
		return nil, nil, errors.New("ID token has no sub")
	case idToken.IssuedAt.IsZero():
		return nil, nil, errors.New("ID token has no iat")
	case idToken.IssuedAt.After(now.Add(oc.cfg.ClockSkew)):
		return nil, nil, errors.New("ID token issued in the future")
	}
	if nbf, ok := claims["nbf"].(float64); ok && time.Unix(int64(nbf), 0).After(now.Add(oc.cfg.ClockSkew)) {
		return nil, nil, errors.New("ID token not valid yet (nbf)")
	}
	azp, hasAZP := claims["azp"].(string)
	if (len(idToken.Audience) > 1 || hasAZP) && azp != oc.secrets.ClientID {
		return nil, nil, errors.New("ID token azp is not this client")
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(accessToken); err != nil {
			return nil, nil, err
		}
	}
	if origin.original == nil {
		// §3.1.3.7 step 11: the nonce binds the token to this login.
		if idToken.Nonce != origin.nonce {
			return nil, nil, errors.New("ID token nonce does not match")
		}
		return idToken, claims, nil
	}
	// A refreshed ID token carries no nonce or repeats the login's
	// (Keycloak does); another one belongs to another login.
	if _, present := claims["nonce"]; present && idToken.Nonce != origin.nonce {
		return nil, nil, errors.New("refreshed ID token nonce is not the login's")
	}
	if err := sameAuthentication(origin.original, claims); err != nil {
		return nil, nil, err
	}
	return idToken, claims, nil
}

// sameAuthentication checks OpenID Connect Core §12.2: an ID token from a
// refresh has the iss, sub, aud and azp (present or absent alike) of the
// login's ID token, and an auth_time, if it has one, of the original
// authentication.
func sameAuthentication(original, fresh map[string]any) error {
	for _, name := range []string{"iss", "sub", "azp"} {
		if !sameScalarClaim(original, fresh, name) {
			return fmt.Errorf("refreshed ID token %s differs from the login's", name)
		}
	}
	originalAud, ok1 := audiences(original)
	freshAud, ok2 := audiences(fresh)
	slices.Sort(originalAud)
	slices.Sort(freshAud)
	if !ok1 || !ok2 || !slices.Equal(originalAud, freshAud) {
		return errors.New("refreshed ID token aud differs from the login's")
	}
	_, hasAuthTime := fresh["auth_time"]
	_, hadAuthTime := original["auth_time"]
	if hasAuthTime && hadAuthTime && !sameScalarClaim(original, fresh, "auth_time") {
		return errors.New("refreshed ID token auth_time is not the original authentication's")
	}
	return nil
}

// sameScalarClaim reports whether two claim sets agree on a string or
// number claim: both without it, or both with the same value. Any other
// JSON value never matches.
func sameScalarClaim(a, b map[string]any, name string) bool {
	x, inA := a[name]
	y, inB := b[name]
	if !inA || !inB {
		return inA == inB
	}
	switch x := x.(type) {
	case string:
		y, ok := y.(string)
		return ok && x == y
	case float64:
		y, ok := y.(float64)
		return ok && x == y
	}
	return false
}

// audiences returns the aud claim of an ID token's claims (RFC 7519
// §4.1.3: one string, or an array of strings; nil if absent), and false
// if it is neither.
func audiences(claims map[string]any) ([]string, bool) {
	switch v := claims["aud"].(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		values := make([]string, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			values[i] = s
		}
		return values, true
	}
	return nil, false
}

package httpoidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
)

// UserInfo returns the provider's userinfo claims for tok, a token from
// TokenFrom (Flask-OIDC's userinfo(token=…)). The error wraps
// ErrInvalidToken when the provider refuses the token or answers for
// another subject, and ErrProviderUnavailable when it cannot be reached or
// has no userinfo endpoint. With Config.Disabled it returns a copy of
// Config.TestingProfile without contacting anybody.
func (oc *OpenIDConnect) UserInfo(ctx context.Context, tok *Token) (map[string]any, error) {
	if tok == nil || tok.raw == "" {
		return nil, fmt.Errorf("%w: UserInfo needs a token from TokenFrom", ErrInvalidToken)
	}
	if oc.cfg.Disabled {
		if len(oc.cfg.TestingProfile) == 0 {
			return nil, fmt.Errorf("%w: Config.Disabled is set and there is no TestingProfile", ErrInvalidToken)
		}
		return maps.Clone(oc.cfg.TestingProfile), nil
	}
	p, err := oc.discover(ctx)
	if err != nil {
		return nil, err
	}
	if p.userInfoURL == "" {
		return nil, fmt.Errorf("%w: the provider has no userinfo endpoint", ErrProviderUnavailable)
	}
	ctx, cancel := oc.outbound(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.userInfoURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo request: %w", ErrInvalidConfig, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.raw)
	req.Header.Set("Accept", "application/json")
	resp, err := oc.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: reading userinfo: %w", ErrProviderUnavailable, err)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: userinfo endpoint answered %d", ErrInvalidToken, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: userinfo endpoint answered %d", ErrProviderUnavailable, resp.StatusCode)
	}
	if mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mediaType == "application/jwt" {
		// OpenID Connect Core §5.3.2: a signed answer is verified with the
		// provider's keys.
		if body, _, _, err = p.keys.verify(ctx, string(body)); err != nil {
			return nil, fmt.Errorf("%w: userinfo: the signed answer does not verify", ErrProviderUnavailable)
		}
	}
	var info map[string]any
	if err := json.Unmarshal(body, &info); err != nil || info == nil {
		return nil, fmt.Errorf("%w: userinfo answer is not a JSON object", ErrProviderUnavailable)
	}
	// OpenID Connect Core §5.3.2: an answer for another subject must not
	// be used.
	if sub, _ := info["sub"].(string); tok.Subject != "" && sub != tok.Subject {
		return nil, fmt.Errorf("%w: userinfo is for another subject", ErrInvalidToken)
	}
	return info, nil
}

package httpoidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// ErrAccessDenied is wrapped by the errors of the built-in login policies
// (AllowedEmailDomains, RequireVerifiedEmail, AllowedGroups): the user is
// who they say, but may not use the application.
var ErrAccessDenied = errors.New("httpoidc: access denied")

// validatePolicy checks the login policy settings.
func (c *Config) validatePolicy() error {
	domains := make([]string, 0, len(c.AllowedEmailDomains))
	for _, d := range c.AllowedEmailDomains {
		clean := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if clean == "" || strings.ContainsAny(clean, "@*/ ") || strings.HasPrefix(clean, ".") {
			return fmt.Errorf("%w: AllowedEmailDomains: %q is not a domain such as example.com (leave the list empty to admit every domain)", ErrInvalidConfig, d)
		}
		domains = append(domains, clean)
	}
	if len(domains) > 0 {
		c.AllowedEmailDomains = domains
	}
	if c.RequireVerifiedEmail && c.InsecureAllowUnverifiedEmail {
		return fmt.Errorf("%w: RequireVerifiedEmail and InsecureAllowUnverifiedEmail contradict each other", ErrInvalidConfig)
	}
	if slices.Contains(c.AllowedGroups, "") {
		return fmt.Errorf("%w: AllowedGroups holds an empty group", ErrInvalidConfig)
	}
	if _, err := parseClaimPath(c.GroupsClaim); err != nil {
		return fmt.Errorf("%w: GroupsClaim: %w", ErrInvalidConfig, err)
	}
	return nil
}

// emailVerified reads email_verified, which some providers (Cognito's
// userinfo) send as the string "true".
func emailVerified(claims map[string]any) bool {
	switch v := claims["email_verified"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// emailDomain returns the lower-cased domain of an address: what follows
// its last @, which is the part a mail system delivers to (RFC 5321 §4.1.2;
// a quoted local part may itself hold @).
func emailDomain(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 {
		return ""
	}
	return strings.ToLower(address[at+1:])
}

// authorize runs the built-in policies and Config.Authorize for u.
func (oc *OpenIDConnect) authorize(ctx context.Context, u *User) error {
	cfg := &oc.cfg
	// An address the provider has not verified may belong to anyone who
	// typed it at sign-up, so it cannot prove membership of a domain
	// (OpenID Connect Core §5.1, email_verified).
	if (cfg.RequireVerifiedEmail || len(cfg.AllowedEmailDomains) > 0 && !cfg.InsecureAllowUnverifiedEmail) && !u.EmailVerified {
		return fmt.Errorf("%w: email address not verified by the provider", ErrAccessDenied)
	}
	if len(cfg.AllowedEmailDomains) > 0 {
		// Exact comparison of the whole domain: a suffix test would admit
		// evil-example.com for example.com, a prefix test example.com.evil.
		if domain := emailDomain(u.Email); !slices.Contains(cfg.AllowedEmailDomains, domain) {
			return fmt.Errorf("%w: email domain %q is not allowed", ErrAccessDenied, domain)
		}
	}
	if len(cfg.AllowedGroups) > 0 && !inAnyGroup(u.Groups, cfg.AllowedGroups) {
		return fmt.Errorf("%w: not in any of the allowed groups", ErrAccessDenied)
	}
	if cfg.Authorize != nil {
		if err := cfg.Authorize(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// denyAccess answers a refused login with 403 and logs why.
func (oc *OpenIDConnect) denyAccess(w http.ResponseWriter, r *http.Request, sub string, err error) {
	oc.log.Warn("httpoidc: login refused", "sub", sub, "error", err)
	oc.writeError(w, r, http.StatusForbidden, "Access denied", "You are not allowed to use this application.")
}

func inAnyGroup(have, want []string) bool {
	for _, g := range want {
		if slices.Contains(have, g) {
			return true
		}
	}
	return false
}

// parseClaimPath splits a GroupsClaim into keys: on dots not preceded by
// a backslash, with "\." standing for a dot inside a key.
func parseClaimPath(path string) ([]string, error) {
	var keys []string
	var key strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && i+1 < len(path) && path[i+1] == '.':
			key.WriteByte('.')
			i++
		case c == '.':
			keys = append(keys, key.String())
			key.Reset()
		default:
			key.WriteByte(c)
		}
	}
	keys = append(keys, key.String())
	if slices.Contains(keys, "") {
		return nil, fmt.Errorf("%q has an empty key", path)
	}
	return keys, nil
}

// groupsFrom reads the groups from claims at Config.GroupsClaim.
func (oc *OpenIDConnect) groupsFrom(claims map[string]any) []string {
	value, found := claims[oc.cfg.GroupsClaim]
	if !found {
		var node any = claims
		for _, k := range oc.groupsPath {
			if k == "{client_id}" && oc.secrets != nil {
				k = oc.secrets.ClientID
			}
			m, ok := node.(map[string]any)
			if !ok {
				return nil
			}
			if node, ok = m[k]; !ok {
				return nil
			}
		}
		value = node
	}
	var groups []string
	switch v := value.(type) {
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok && s != "" {
				groups = append(groups, s)
			}
		}
	case []string:
		groups = slices.Clone(v)
	case string:
		if v != "" {
			groups = []string{v}
		}
	case map[string]any:
		for k := range v {
			groups = append(groups, k)
		}
		sort.Strings(groups)
	}
	return groups
}

// RequireGroup returns middleware that lets through logged-in users in at
// least one of groups (read from Config.GroupsClaim). An anonymous user is
// treated as by RequireLogin (sent to log in, or 401); a logged-in user in
// none of the groups gets 403 "Access denied". It needs Handler around it,
// and panics when given no group: that is a mistake in the program, not
// input.
func (oc *OpenIDConnect) RequireGroup(groups ...string) func(http.Handler) http.Handler {
	if len(groups) == 0 || slices.Contains(groups, "") {
		panic("httpoidc: RequireGroup needs at least one non-empty group")
	}
	groups = slices.Clone(groups)
	return func(next http.Handler) http.Handler {
		return oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := UserFrom(r.Context())
			if r.Method != http.MethodOptions && !inAnyGroup(u.Groups, groups) {
				oc.log.Info("httpoidc: not in a required group", "sub", u.Subject, "path", r.URL.Path)
				oc.writeError(w, r, http.StatusForbidden, "Access denied", "You are not allowed to see this page.")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// descNotInGroup is the 403 description of RequireTokenGroup.
const descNotInGroup = "the access token's subject is not in a required group"

// RequireTokenGroup returns middleware for APIs that lets through requests
// whose bearer token's claims (a JWT access token's, or the introspection
// answer's) name at least one of groups at Config.GroupsClaim, and puts the
// token in the request context. Placed inside AcceptToken it checks the
// token AcceptToken validated; on its own it validates the token as
// AcceptToken() does, with the same answers. A valid token outside the
// groups gets 403 with the RFC 6750 error insufficient_scope ("the request
// requires higher privileges"). It panics when given no group.
func (oc *OpenIDConnect) RequireTokenGroup(groups ...string) func(http.Handler) http.Handler {
	if len(groups) == 0 || slices.Contains(groups, "") {
		panic("httpoidc: RequireTokenGroup needs at least one non-empty group")
	}
	groups = slices.Clone(groups)
	accept := oc.AcceptToken()
	realm := fmt.Sprintf("Bearer realm=%q", oc.cfg.Realm)
	challenge := realm + `, error="insufficient_scope", error_description="` + descNotInGroup + `"`
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ := TokenFrom(r.Context())
			if !inAnyGroup(oc.groupsFrom(tok.claimMap()), groups) {
				writeBearerError(w, http.StatusForbidden, challenge, "insufficient_scope", descNotInGroup)
				return
			}
			next.ServeHTTP(w, r)
		})
		validated := accept(check)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := TokenFrom(r.Context()); ok {
				check.ServeHTTP(w, r)
				return
			}
			validated.ServeHTTP(w, r)
		})
	}
}

// errAuthorizeRefused marks a refresh whose user the policies refused.
var errAuthorizeRefused = errors.New("refreshed user refused")

// authorizeRefreshed runs the login policies on a refreshed login, so that
// a user removed from a group or disabled at the provider loses access at
// the next refresh; then Config.OnRefresh.
func (oc *OpenIDConnect) authorizeRefreshed(ctx context.Context, fresh *loginData) error {
	u := oc.newUser(ctx, fresh)
	if err := oc.authorize(ctx, u); err != nil {
		return fmt.Errorf("%w: %w: %w", errRefreshRejected, errAuthorizeRefused, err)
	}
	if oc.cfg.OnRefresh != nil {
		oc.cfg.OnRefresh(ctx, u)
	}
	return nil
}

// refreshProfile updates a refreshed login's profile from the refreshed ID
// token's claims and, unless DisableUserInfo, a new userinfo answer. The
// groups claim is replaced, not merged, when either is there, so that a
// group the provider no longer names is gone. A userinfo failure keeps the
// rest of the refresh (the provider has already rotated the refresh token)
// and is logged.
func (oc *OpenIDConnect) refreshProfile(ctx context.Context, p *providerState, fresh *loginData, idClaims map[string]any) error {
	var info map[string]any
	if !oc.cfg.DisableUserInfo && p.userInfoURL != "" {
		var err error
		info, err = oc.userInfo(ctx, p, fresh.AccessToken, oc.accessTokenType())
		if err != nil {
			oc.log.Warn("httpoidc: userinfo after refresh failed; keeping the profile", "sub", fresh.Subject, "error", err)
			info = nil
		} else if sub, _ := info["sub"].(string); sub != fresh.Subject {
			// OpenID Connect Core §5.3.2.
			return fmt.Errorf("%w: userinfo sub does not match the login", errRefreshRejected)
		}
	}
	if idClaims == nil && info == nil {
		return nil
	}
	profile := maps.Clone(fresh.Profile)
	if profile == nil {
		profile = map[string]any{}
	}
	if _, literal := profile[oc.cfg.GroupsClaim]; literal {
		delete(profile, oc.cfg.GroupsClaim)
	} else if len(oc.groupsPath) > 0 {
		delete(profile, oc.groupsPath[0])
	}
	addIdentityClaims(profile, idClaims)
	addIdentityClaims(profile, info)
	fresh.Profile = profile
	return nil
}

// warnInsecurePolicy logs, at New, the policy settings that weaken login.
func (oc *OpenIDConnect) warnInsecurePolicy() {
	if oc.cfg.InsecureAllowUnverifiedEmail {
		oc.log.Warn("httpoidc: InsecureAllowUnverifiedEmail is set: AllowedEmailDomains admits email addresses the provider has not verified",
			"allowed_email_domains", oc.cfg.AllowedEmailDomains)
	}
}

package oidctest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Profile selects whose token shapes, introspection answers and discovery
// document the provider reproduces. The zero value, Standard, is oidctest's
// own standards-following behaviour; the others reproduce real providers
// from their public documentation (and, where it is public, their source),
// so that relying parties can be tested against providers that cannot run
// in a test. They are reproductions, not the providers: each one names its
// sources in providers.go or cloudproviders.go.
type Profile int

// The profiles. Each says which access tokens it issues; "the requested
// format" is Client.AccessTokenFormat at the token endpoint and
// TokenRequest.Format for IssueTokens, and "the requested audience" the
// resource parameter or TokenRequest.Audience.
const (
	// Standard is oidctest's own behaviour, described in the package
	// documentation: RFC 9068 JWT or opaque access tokens, typed ID and
	// logout tokens, introspection for everything.
	Standard Profile = iota
	// Keycloak 26: JWT access tokens typed JWT with aud "account" plus the
	// requested audience (what an audience mapper adds), azp and typ
	// "Bearer"; ID, refresh (HS512, with a key outside the JWKS) and logout
	// tokens carry typ "ID", "Refresh" and "Logout"; introspection answers
	// active only to a client in the token's aud.
	Keycloak
	// Dex: access tokens are JWTs shaped exactly like its ID tokens (no typ,
	// aud the client, at_hash, the nonce); the requested audience becomes
	// cross-client peers. Introspection takes no client authentication and
	// answers refresh tokens as active with token_use "refresh_token". No
	// logout token, no end_session_endpoint.
	Dex
	// Hydra is Ory Hydra v2: opaque ory_at_ access tokens, or JWTs (typ
	// JWT, scp, client_id, aud the requested audience, often empty) when
	// JWT is requested. Its introspection endpoint is on the admin port:
	// served here at IntrospectionURL without client authentication, absent
	// from discovery. Logout tokens have no exp.
	Hydra
	// Zitadel: opaque access tokens, or JWTs (typ JWT, client_id, no scope)
	// when JWT is requested. Introspection accepts client_secret_basic only
	// and answers active only to a client in the token's aud.
	Zitadel
	// Auth0: JWT access tokens (typ JWT, aud the API and /userinfo, azp,
	// scope) only with a requested audience, opaque ones without. No
	// introspection and no end_session_endpoint: logout is /v2/logout
	// with client_id and returnTo.
	Auth0
	// Okta, custom authorization server: JWT access tokens without typ,
	// with cid, scp and aud api://default unless an audience is requested.
	// Introspection answers ID and refresh tokens as active Bearer tokens.
	// No back-channel logout.
	Okta
	// EntraID is Microsoft Entra ID (Azure AD) v2.0 tokens: JWT access
	// tokens typed JWT with scp, azp and aud the requested API (Microsoft
	// Graph by default). No introspection, no back-channel logout.
	EntraID
	// Cognito is Amazon Cognito user pools: JWT access tokens without typ
	// and without aud, with client_id and token_use "access"; ID tokens
	// with token_use "id"; encrypted (JWE) refresh tokens. No
	// introspection, no end_session_endpoint (logout is /logout with
	// client_id and logout_uri), no back-channel logout.
	Cognito
	// Google: opaque access tokens that nobody but Google can validate (no
	// introspection endpoint); ID tokens typed JWT. No end_session_endpoint,
	// no back-channel logout.
	Google

	profileEnd // one past the last profile, to validate WithProfile
)

// Profiles returns every provider profile, Standard excluded, in a stable
// order, for table tests.
func Profiles() []Profile {
	out := make([]Profile, 0, profileEnd-1)
	for p := Standard + 1; p < profileEnd; p++ {
		out = append(out, p)
	}
	return out
}

// String returns the provider's name, e.g. "Keycloak" or "Entra ID".
func (p Profile) String() string {
	switch p {
	case Standard:
		return "Standard"
	case Keycloak:
		return "Keycloak"
	case Dex:
		return "Dex"
	case Hydra:
		return "Ory Hydra"
	case Zitadel:
		return "zitadel"
	case Auth0:
		return "Auth0"
	case Okta:
		return "Okta"
	case EntraID:
		return "Entra ID"
	case Cognito:
		return "Amazon Cognito"
	case Google:
		return "Google"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// WithProfile makes the provider reproduce p's tokens, introspection
// answers and discovery document (see Profile). Flows, users, clients,
// faults and the clock work as with Standard. NewServer and NewHandler
// panic on an unknown profile, as on an unknown signing algorithm: it is a
// mistake in the test set-up.
func WithProfile(p Profile) Option {
	return func(o *options) { o.profile = p }
}

// IntrospectionURL returns the URL of the provider's RFC 7662
// introspection endpoint, also where discovery does not list it (Hydra's
// admin port), or "" when the provider has none (WithoutIntrospection,
// Auth0, EntraID, Cognito, Google). It is what a relying party would be
// configured with as Flask-OIDC's token_introspection_uri.
func (s *Server) IntrospectionURL() string {
	if !s.servesIntrospection() {
		return ""
	}
	return s.URL + pathIntrospection
}

func (s *Server) servesIntrospection() bool {
	if s.opts.noIntrospection {
		return false
	}
	if spec := s.spec(); spec != nil {
		return spec.introspection.answer != nil
	}
	return true
}

// spec returns the server's profile, or nil for Standard.
func (s *Server) spec() *profileSpec {
	return s.profile
}

// profileSpec is how one provider shapes what a relying party sees.
type profileSpec struct {
	// accessJWT reports whether the provider issues a JWT access token for
	// the requested format and audiences; otherwise it is opaque, and
	// access still describes what introspection reports about it.
	accessJWT func(format AccessTokenFormat, audience []string) bool
	access    func(t *tokenFacts) jwtShape
	id        func(t *tokenFacts) jwtShape
	// refresh, when set, makes refresh tokens JWTs signed with HS512 and a
	// key of the provider's own (Keycloak); otherwise they are opaque, or
	// encrypted when encryptedRefresh is set (Cognito).
	refresh          func(t *tokenFacts) jwtShape
	encryptedRefresh bool
	// refreshTTL is the refresh token lifetime introspection reports.
	refreshTTL time.Duration
	// logout is nil for a provider without back-channel logout.
	logout func(t *tokenFacts) jwtShape
	// accessPrefix and refreshPrefix start opaque tokens, as the
	// provider's do (ory_at_, ya29., ...).
	accessPrefix, refreshPrefix string
	introspection               introspectionSpec
	tokenAuthMethods            []string
	endSession                  bool
	// logoutURL is a logout endpoint of the provider's own, outside
	// discovery (Auth0's /v2/logout, Cognito's /logout).
	logoutURL providerLogout
}

// providerLogout is a non-standard logout endpoint: path, relative to the
// issuer, takes client_id and the return URL in returnParam.
type providerLogout struct {
	path, returnParam string
}

// introspectionSpec is a provider's RFC 7662 endpoint.
type introspectionSpec struct {
	// answer builds the answer to caller, the authenticated client ("" when
	// the endpoint takes no client authentication); nil when the provider
	// has no introspection endpoint.
	answer func(t introspected, caller string) map[string]any
	// unlisted leaves the endpoint out of discovery (Hydra's admin port).
	unlisted bool
	// anyCaller serves requests without client authentication.
	anyCaller bool
	// basicOnly refuses client_secret_post (zitadel).
	basicOnly bool
	// authMethods is introspection_endpoint_auth_methods_supported; nil
	// leaves it out.
	authMethods []string
}

// jwtShape is a JWT to sign: its typ header ("" for none) and claims.
type jwtShape struct {
	typ    string
	claims map[string]any
}

// discovery rewrites the metadata the profile's provider publishes
// differently from Standard; introspection is the endpoint's URL or "".
func (spec *profileSpec) discovery(d *discovery, introspection string) {
	d.TokenEndpointAuthMethodsSupported = spec.tokenAuthMethods
	d.IntrospectionEndpoint, d.IntrospectionEndpointAuthMethodsSupported = "", nil
	if introspection != "" && !spec.introspection.unlisted {
		d.IntrospectionEndpoint = introspection
		d.IntrospectionEndpointAuthMethodsSupported = spec.introspection.authMethods
	}
	if !spec.endSession {
		d.EndSessionEndpoint = ""
	}
	d.BackchannelLogoutSupported = spec.logout != nil
	d.BackchannelLogoutSessionSupported = spec.logout != nil
}

// handleProviderLogout serves a provider's own logout endpoint: it ends
// nothing oidctest keeps, and sends the browser to the return URL when the
// client registered it (Client.PostLogoutRedirectURIs, Auth0's "Allowed
// Logout URLs"), else shows the logged-out page.
func (s *Server) handleProviderLogout(returnParam string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			s.errorPage(w, http.StatusMethodNotAllowed, "The logout endpoint accepts GET only.")
			return
		}
		p, err := params(r.URL.Query(), "client_id", returnParam)
		if err != nil {
			s.errorPage(w, http.StatusBadRequest, err.Error())
			return
		}
		c, known := s.client(p["client_id"])
		if target := p[returnParam]; known && target != "" && slices.Contains(c.PostLogoutRedirectURIs, target) {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		s.renderPage(w, http.StatusOK, "logged_out", nil)
	}
}

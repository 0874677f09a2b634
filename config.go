package httpoidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers can test them with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every error about an unusable Config.
	ErrInvalidConfig = errors.New("httpoidc: invalid configuration")
	// ErrInvalidClientSecrets is wrapped by every error about a
	// client_secrets.json document; the message names the file and the key.
	ErrInvalidClientSecrets = errors.New("httpoidc: invalid client secrets")
	// ErrProviderUnavailable is wrapped when the OpenID Provider cannot be
	// reached or answers with a server error.
	ErrProviderUnavailable = errors.New("httpoidc: provider unavailable")
	// ErrInvalidToken is wrapped when a token fails validation.
	ErrInvalidToken = errors.New("httpoidc: invalid token")
)

// Token validation modes for Config.AccessTokenValidation.
const (
	// ValidateAuto validates JWT access tokens locally and sends any other
	// token to the provider's introspection endpoint, if it has one.
	ValidateAuto = ""
	// ValidateJWT accepts only RFC 9068 JWT access tokens, validated locally.
	ValidateJWT = "jwt"
	// ValidateIntrospection sends every token to the RFC 7662 introspection
	// endpoint, as Flask-OIDC does.
	ValidateIntrospection = "introspection"
)

// Client authentication methods for Config.ClientAuthMethod and
// Config.IntrospectionAuthMethod.
const (
	AuthClientSecretPost  = "client_secret_post"
	AuthClientSecretBasic = "client_secret_basic"
	// AuthBearer authenticates introspection requests with an access token
	// obtained by the client credentials grant.
	AuthBearer = "bearer"
)

// Config configures an OpenIDConnect. The zero value of every field is a
// documented default; only the client secrets are required (and not even
// they when Disabled is set). Field comments name the Flask-OIDC setting
// each field replaces.
type Config struct {
	// ClientSecretsFile is the path of a client_secrets.json file in the
	// Flask-OIDC format (OIDC_CLIENT_SECRETS).
	ClientSecretsFile string
	// ClientSecrets is the already parsed content of a client_secrets.json;
	// it takes precedence over ClientSecretsFile.
	ClientSecrets *ClientSecrets

	// Scopes requested at login (OIDC_SCOPES). Default: openid email. It
	// must contain openid. Add offline_access for providers that issue
	// refresh tokens only for it.
	Scopes []string
	// AuthParams are extra parameters sent to the authorization endpoint,
	// such as prompt, resource or audience.
	AuthParams map[string]string
	// ClockSkew is the leeway allowed when checking exp, nbf and iat
	// (OIDC_CLOCK_SKEW). Default: 60 seconds. Negative means none. New
	// refuses more than 5 minutes: a larger leeway keeps expired tokens
	// usable and hides a clock that needs fixing.
	ClockSkew time.Duration
	// DisableUserInfo skips the userinfo request at login; the profile then
	// holds the ID token's claims only (OIDC_USER_INFO_ENABLED=false).
	DisableUserInfo bool
	// ResourceServerOnly disables login, sessions and cookies: only
	// AcceptToken is usable (OIDC_RESOURCE_SERVER_ONLY).
	ResourceServerOnly bool
	// ClientAuthMethod is how the client authenticates at the token
	// endpoint (OIDC_TOKEN_ENDPOINT_AUTH_METHOD): AuthClientSecretPost or
	// AuthClientSecretBasic. Default: the first of these two that the
	// discovery document's token_endpoint_auth_methods_supported lists;
	// AuthClientSecretPost, as Flask-OIDC, when it lists neither or says
	// nothing.
	ClientAuthMethod string
	// IntrospectionAuthMethod is how the client authenticates at the
	// introspection endpoint (OIDC_INTROSPECTION_AUTH_METHOD):
	// AuthClientSecretPost, AuthClientSecretBasic or AuthBearer. Default:
	// the first of AuthClientSecretPost and AuthClientSecretBasic that the
	// discovery document's introspection_endpoint_auth_methods_supported
	// lists (zitadel lists only client_secret_basic), else the token
	// endpoint's method.
	IntrospectionAuthMethod string
	// ClientKey, when set, authenticates the client with private_key_jwt
	// (RFC 7523 client assertions) at the token, introspection, revocation
	// and pushed authorization request endpoints, instead of the client
	// secret, which the client secrets may then omit. Default: none, or
	// the key of ClientKeyFile.
	ClientKey *ClientKey
	// ClientKeyFile is the path of the private key for ClientKey
	// (OIDC_CLIENT_KEY_FILE): a PEM file (PKCS #8, PKCS #1 or SEC 1; its
	// key ID is its RFC 7638 thumbprint) or a JWK with its kid.
	ClientKeyFile string
	// UsePAR pushes every authorization request (RFC 9126) even when the
	// provider does not require it (OIDC_USE_PAR). Default: pushed only
	// when the provider says require_pushed_authorization_requests. New
	// fails when the provider has no pushed_authorization_request_endpoint.
	UsePAR bool
	// DPoP binds the user's access tokens to a key the application holds
	// (RFC 9449, OIDC_DPOP): token requests carry DPoP proofs, and userinfo
	// and Client send the tokens with a fresh proof per request. A login
	// whose token response is not DPoP-bound is refused.
	DPoP bool
	// DPoPKey is the DPoP private key (ECDSA, Ed25519 or RSA). Default: the
	// key of DPoPKeyFile, else a P-256 key made per process; replicas that
	// refresh each other's tokens need the same key, so New fails when
	// SessionStore or Sessions is set without DPoPKey or DPoPKeyFile.
	DPoPKey crypto.Signer
	// DPoPKeyFile is the file holding DPoPKey, PEM or JWK
	// (OIDC_DPOP_KEY_FILE); New fails when it cannot be read or parsed.
	// Default: none.
	DPoPKeyFile string

	// Disabled turns OpenID Connect off for tests and development
	// (OIDC_ENABLED=false): no provider is contacted, no client secrets are
	// needed, every request is TestingProfile's user and AcceptToken
	// accepts any token. New logs it at error level, and refuses it next to
	// client secrets or a redirect URL that is not on a loopback address,
	// which look like a real deployment, unless Testing is set too.
	Disabled bool
	// Testing declares that this configuration is a test set-up, so that
	// Disabled is allowed next to client secrets or a non-loopback
	// RedirectURL (OIDC_TESTING). It changes nothing else.
	Testing bool
	// TestingProfile is, when Disabled is set, the profile every request is
	// logged in with (OIDC_TESTING_PROFILE). Empty means anonymous.
	TestingProfile map[string]any

	// RedirectURL is the absolute callback URL sent to the provider
	// (OIDC_OVERWRITE_REDIRECT_URI). Default: the first redirect URI of the
	// client secrets whose path is CallbackPath.
	RedirectURL string
	// PostLogoutRedirectURL is sent to the provider's end_session_endpoint
	// as post_logout_redirect_uri and must be registered there. Default: the
	// application's origin followed by BasePath and LogoutPath.
	PostLogoutRedirectURL string
	// BasePath is the path prefix the application is mounted at, as the
	// browser sees it, such as /app (OIDC_BASE_PATH). CallbackPath,
	// LogoutPath and BackchannelLogoutPath are served under it whether or
	// not the prefix is stripped before the request reaches Handler; the
	// redirect URI must end in BasePath + CallbackPath; return targets
	// (next) must stay inside it, and "/" becomes BasePath + "/". Default:
	// none, the application is the whole site. It is not derived from the
	// redirect URI, which may sit under a prefix of its own (Flask-OIDC's
	// prefix) in an application served at /.
	BasePath string
	// EndSessionURL is where logout sends the browser when the provider's
	// discovery document has no end_session_endpoint, or replaces it
	// (OIDC_END_SESSION_URL). Auth0 tenants without RP-initiated logout use
	// https://TENANT.auth0.com/v2/logout with LogoutParams returnTo and
	// client_id. Default: the discovered end_session_endpoint; none means
	// logout is local only.
	EndSessionURL string
	// LogoutParams are extra query parameters of the end session URL, for
	// providers that want their own (Auth0's returnTo; OIDC_LOGOUT_PARAMS,
	// a JSON object). In a value,
	// {client_id} and {post_logout_redirect_uri} are replaced by the client
	// ID and the post-logout redirect URL.
	LogoutParams map[string]string
	// PreserveNextOnError keeps the page the user was on when a failed
	// token refresh sends them through login again; otherwise they land on
	// "/" (OIDC_PRESERVE_NEXT_ON_ERROR).
	PreserveNextOnError bool
	// CallbackPath is the path of the redirect URI. Default: /authorize.
	CallbackPath string
	// LogoutPath is the path that logs the user out. Default: /logout.
	LogoutPath string
	// BackchannelLogoutPath receives OpenID Connect Back-Channel Logout
	// tokens. Default: /backchannel-logout.
	BackchannelLogoutPath string
	// InsecureAcceptLogoutTokensWithoutExp accepts back-channel logout
	// tokens that lack the exp claim the specification requires, as Ory
	// Hydra sends them. Such a token must have been issued (iat) at most
	// two minutes ago, ClockSkew aside, and its jti is remembered for that
	// long so that it cannot be replayed. New logs a warning when it is set.
	InsecureAcceptLogoutTokensWithoutExp bool
	// LazyDiscovery makes New return without contacting the provider.
	// Discovery then happens on first use and is retried with backoff while
	// the provider is unreachable; logins are answered with 503 until it
	// succeeds. Without it New fails when the provider is unreachable.
	LazyDiscovery bool

	// Sessions stores the login. Default: an scs session manager with an
	// HttpOnly, SameSite=Lax, Secure cookie named __Host-httpoidc_session
	// (so a sibling subdomain cannot plant one), or httpoidc_session and
	// not Secure when the redirect URL is plain http on a loopback
	// address, kept in SessionStore, and sessions lasting 24 hours. Two OpenIDConnects that
	// wrap the same requests need a Sessions each (scs.New()).
	Sessions *scs.SessionManager
	// SessionStore is the store of the default session manager. Default:
	// in memory. Give every replica the same shared store, such as
	// goredisstore.New(redisClient), to run several replicas.
	SessionStore scs.Store
	// CookieSecret seals the short-lived cookie that carries a login in
	// progress (state, nonce, PKCE verifier, return path) with AES-GCM
	// (OIDC_COOKIE_SECRET). It must be at least 32 bytes, random. Default: a
	// key derived with HKDF from the client secret, so replicas sharing the
	// client secrets agree with no set-up; a client without a secret
	// (private_key_jwt) gets a random key per process, so its logins must
	// come back to the process that started them, and New fails when
	// SessionStore or Sessions is set (replicas) without CookieSecret.
	CookieSecret string
	// HTTPClient makes every request to the provider. Default: a client
	// with a Timeout of Timeout.
	HTTPClient *http.Client
	// Timeout bounds every request to the provider. Default: 10 seconds.
	Timeout time.Duration
	// InsecureHTTPProvider lets the provider's URLs (issuer, endpoints from
	// discovery or the client secrets, jwks_uri) use plain http on hosts
	// other than loopback addresses, for test set-ups such as a provider in
	// a container network. Without it New and discovery refuse them,
	// because tokens, keys and the client secret would travel in clear
	// text. New logs a warning when it is set.
	InsecureHTTPProvider bool
	// Logger receives the package's logs. Tokens, secrets and cookies are
	// never logged. Default: slog.Default().
	Logger *slog.Logger

	// NewUser, when set, builds the application's own user value from the
	// login; read it with UserAs (OIDC_USER_CLASS). An error makes the
	// request fail with 500; to refuse a login use Authorize.
	NewUser func(ctx context.Context, u *User) (any, error)
	// Authorize, when set, decides whether a user may log in. It runs at
	// the callback, after the built-in policies (AllowedEmailDomains,
	// RequireVerifiedEmail, AllowedGroups) and before any session exists,
	// and again after every token refresh. An error refuses the login: the
	// browser gets a 403 "Access denied" page, no session is made, OnLogin
	// is not called, and the error is logged with the user's sub; after a
	// refresh it ends the login (LogoutAuthorizeRefused).
	Authorize func(ctx context.Context, u *User) error
	// OnLogin is called after a successful login, before the redirect.
	OnLogin func(ctx context.Context, u *User)
	// OnRefresh is called after the tokens of a login were refreshed and
	// Authorize accepted the refreshed user, once per refresh.
	OnRefresh func(ctx context.Context, u *User)
	// OnLogout is called at every end of a login, with the reason: a
	// local or RP-initiated logout, a back-channel logout, a refresh the
	// provider refused, or Authorize refusing the refreshed user. It runs
	// before the login is removed from the session store.
	OnLogout func(ctx context.Context, u *User, reason LogoutReason)

	// AllowedEmailDomains, when not empty, admits only users whose email
	// address's domain (after the last @, compared case-insensitively and
	// exactly: no subdomains) is one of these, such as example.com
	// (OIDC_ALLOWED_EMAIL_DOMAINS, comma or space separated). Unless
	// InsecureAllowUnverifiedEmail is set, the address must also be
	// verified (email_verified true): an unverified address proves nothing.
	AllowedEmailDomains []string
	// RequireVerifiedEmail admits only users whose email_verified claim is
	// true, whatever their domain (OIDC_REQUIRE_VERIFIED_EMAIL).
	RequireVerifiedEmail bool
	// InsecureAllowUnverifiedEmail lets AllowedEmailDomains admit addresses
	// the provider has not verified (OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL),
	// as oauth2-proxy's insecure_oidc_allow_unverified_email. Only for
	// providers that verify every address without saying so: anyone who can
	// type an address of an allowed domain at such a provider gets in. New
	// logs a warning.
	InsecureAllowUnverifiedEmail bool
	// AllowedGroups, when not empty, admits only users in at least one of
	// these groups, read from GroupsClaim (OIDC_ALLOWED_GROUPS, comma or
	// space separated).
	AllowedGroups []string
	// GroupsClaim is where User.Groups, AllowedGroups, RequireGroup and
	// RequireTokenGroup read groups or roles (OIDC_GROUPS_CLAIM). Default:
	// groups. A key of the claims that exists as written is used as is
	// (cognito:groups, https://example.com/roles); otherwise dots separate
	// the keys of nested objects (realm_access.roles), a backslash escapes
	// a dot, and a {client_id} segment stands for the client ID
	// (resource_access.{client_id}.roles for Keycloak client roles). The
	// value may be an array of strings, one string, or an object whose
	// keys are the groups (zitadel's project roles).
	GroupsClaim string

	// AccessTokenValidation selects how AcceptToken validates tokens:
	// ValidateAuto (default), ValidateJWT or ValidateIntrospection.
	AccessTokenValidation string
	// Audience is the identifier of this API, which a JWT access token's
	// aud claim must contain (RFC 9068 §4) and an introspection answer's
	// aud must contain when it has one (OIDC_AUDIENCE); set it to the
	// API's own audience (Keycloak audience mapper, Auth0 API identifier,
	// Entra ID application ID URI). Default: the client ID. As the client
	// ID is also the aud of every ID token, with the default a JWT without
	// the RFC 9068 typ at+jwt is an access token only if it carries a
	// scope, scp or client_id claim, and an introspection answer is for
	// this API when its aud or its client_id is the client ID. See "Token
	// policy" in the package documentation.
	Audience string
	// AllowedClients lists the clients whose access tokens this API
	// accepts (OIDC_ALLOWED_CLIENTS, separated by spaces or commas),
	// matched against the token's client_id claim, else azp, Okta's cid or
	// Entra ID v1's appid. When set, a token issued to any other client, or
	// naming none, is refused even if its aud matches, and a token or
	// introspection answer without aud (Cognito, Ory Hydra) is for this API
	// when its client is listed. Default: empty, which binds tokens to this
	// API by Audience alone, and an introspection answer also by its
	// client_id being the client ID.
	AllowedClients []string
	// StrictAccessTokenType requires JWT access tokens to have the RFC 9068
	// typ header at+jwt (or application/at+jwt).
	StrictAccessTokenType bool
	// InsecureAcceptIDTokenShapedAccessTokens accepts, as access tokens,
	// JWTs shaped like ID tokens: no typ, a nonce and an at_hash, no
	// scope, as Dex issues them. Dex's ID tokens are then accepted too,
	// since nothing tells them apart: use it only with Dex, preferably with
	// Audience or AllowedClients naming the clients allowed to call this
	// API. New logs a warning when it is set.
	InsecureAcceptIDTokenShapedAccessTokens bool
	// AcceptFormToken lets AcceptToken read the access_token field of an
	// application/x-www-form-urlencoded body (RFC 6750 §2.2).
	AcceptFormToken bool
	// RequireDPoP makes AcceptToken accept only DPoP-bound access tokens
	// (RFC 9449, OIDC_REQUIRE_DPOP), sent with the DPoP scheme and a DPoP proof; a bearer
	// token is answered 401 invalid_token with a DPoP challenge. Without
	// it both are accepted: a token without cnf.jkt as a bearer token, a
	// token with one only with the DPoP scheme and a proof signed by that
	// key (§7.2). See "DPoP" in the package documentation.
	RequireDPoP bool
	// RequireDPoPNonce makes AcceptToken require in every DPoP proof a
	// nonce it issued (RFC 9449 §9, OIDC_REQUIRE_DPOP_NONCE): a proof without one, or with one over
	// five minutes old, is answered 401 use_dpop_nonce with a DPoP-Nonce
	// header to retry with, and every DPoP answer carries the current
	// nonce. Nonces are authenticated with a key derived from CookieSecret,
	// else from the client secret, so that replicas agree; without either
	// each process has its own, and New fails when SessionStore or
	// Sessions is set. Default: no nonce, proofs are bounded by
	// their iat (one minute, ClockSkew aside) and jti.
	RequireDPoPNonce bool
	// TrustedProxies are the addresses whose X-Forwarded-Proto and
	// X-Forwarded-Host headers AcceptToken believes when it rebuilds the
	// URL the client called, to check a DPoP proof's htu (RFC 9449 §4.3).
	// Nil means loopback (127.0.0.0/8 and ::1), where a TLS-terminating
	// proxy on the same host connects from; an empty non-nil slice trusts
	// nobody. ReverseProxy has its own, in ProxyConfig.
	TrustedProxies []netip.Prefix
	// Realm is the realm in WWW-Authenticate challenges. Default: httpoidc.
	Realm string
	// TokenCacheTTL bounds how long a validated JWT access token is
	// remembered (never past its exp). Default: 5 minutes. Negative disables
	// the cache.
	TokenCacheTTL time.Duration
	// IntrospectionCacheTTL bounds how long an introspection answer is
	// remembered, so a revocation is seen within it. Default: 30 seconds.
	// Negative disables the cache.
	IntrospectionCacheTTL time.Duration
	// TokenCacheSize bounds the number of remembered tokens. Default: 10000.
	TokenCacheSize int
	// IntrospectionsPerSecond bounds the introspection calls AcceptToken
	// makes for tokens it has not validated yet (a token bucket holding as
	// many calls as one second allows), so that a flood of garbage opaque
	// tokens cannot turn into a flood on the provider. Beyond it such a
	// token is answered 503 with Retry-After at once, while tokens in the
	// cache keep being served. Default: 300. Negative disables the limit.
	IntrospectionsPerSecond int
	// KeyRefreshInterval is how often the provider's JWKS is refetched.
	// Default: 1 hour.
	KeyRefreshInterval time.Duration
	// KeyRefetchCooldown is the least time between two JWKS fetches caused
	// by unknown key IDs. Default and minimum: 30 seconds.
	KeyRefetchCooldown time.Duration

	// Now is the clock used for every time check. Default: time.Now. Tests
	// can use an oidctest server's Now.
	Now func() time.Time
}

func (c *Config) withDefaults() {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "email"}
	}
	switch {
	case c.ClockSkew == 0:
		c.ClockSkew = time.Minute
	case c.ClockSkew < 0:
		c.ClockSkew = 0
	}
	if c.CallbackPath == "" {
		c.CallbackPath = "/authorize"
	}
	if c.LogoutPath == "" {
		c.LogoutPath = "/logout"
	}
	if c.BackchannelLogoutPath == "" {
		c.BackchannelLogoutPath = "/backchannel-logout"
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	c.BasePath = strings.TrimSuffix(c.BasePath, "/")
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Realm == "" {
		c.Realm = "httpoidc"
	}
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = 5 * time.Minute
	}
	if c.IntrospectionCacheTTL == 0 {
		c.IntrospectionCacheTTL = 30 * time.Second
	}
	if c.TokenCacheSize <= 0 {
		c.TokenCacheSize = 10000
	}
	if c.IntrospectionsPerSecond == 0 {
		c.IntrospectionsPerSecond = 300
	}
	if c.KeyRefreshInterval <= 0 {
		c.KeyRefreshInterval = time.Hour
	}
	if c.KeyRefetchCooldown < 30*time.Second {
		c.KeyRefetchCooldown = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// minCookieSecret is the shortest Config.CookieSecret accepted: 256 bits.
const minCookieSecret = 32

// maxClockSkew is the largest Config.ClockSkew New accepts.
const maxClockSkew = 5 * time.Minute

func (c *Config) validate() error {
	if c.ClockSkew > maxClockSkew {
		return fmt.Errorf("%w: ClockSkew (OIDC_CLOCK_SKEW) is %s, more than the %s allowed: fix the clocks instead", ErrInvalidConfig, c.ClockSkew, maxClockSkew)
	}
	if !slices.Contains(c.Scopes, "openid") {
		return fmt.Errorf("%w: Scopes must contain openid, got %q", ErrInvalidConfig, strings.Join(c.Scopes, " "))
	}
	for name, value := range map[string]string{"ClientAuthMethod": c.ClientAuthMethod, "IntrospectionAuthMethod": c.IntrospectionAuthMethod} {
		switch value {
		case "", AuthClientSecretPost, AuthClientSecretBasic, AuthPrivateKeyJWT:
		case AuthBearer:
			if name == "IntrospectionAuthMethod" {
				continue
			}
			fallthrough
		default:
			return fmt.Errorf("%w: unknown %s %q", ErrInvalidConfig, name, value)
		}
	}
	switch c.AccessTokenValidation {
	case ValidateAuto, ValidateJWT, ValidateIntrospection:
	default:
		return fmt.Errorf("%w: unknown AccessTokenValidation %q", ErrInvalidConfig, c.AccessTokenValidation)
	}
	if c.CookieSecret != "" && len(c.CookieSecret) < minCookieSecret {
		return fmt.Errorf("%w: CookieSecret (OIDC_COOKIE_SECRET) must be at least %d bytes, got %d", ErrInvalidConfig, minCookieSecret, len(c.CookieSecret))
	}
	for name, path := range map[string]string{"CallbackPath": c.CallbackPath, "LogoutPath": c.LogoutPath, "BackchannelLogoutPath": c.BackchannelLogoutPath} {
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("%w: %s must start with /, got %q", ErrInvalidConfig, name, path)
		}
	}
	if c.BasePath != "" && !strings.HasPrefix(c.BasePath, "/") {
		return fmt.Errorf("%w: BasePath must start with /, got %q", ErrInvalidConfig, c.BasePath)
	}
	if c.EndSessionURL != "" {
		if err := checkAbsoluteURL(c.EndSessionURL); err != nil {
			return fmt.Errorf("%w: EndSessionURL: %w", ErrInvalidConfig, err)
		}
	}
	return c.validatePolicy()
}

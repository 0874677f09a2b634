package httpoidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OpenIDConnect adds OpenID Connect login to a web application and OAuth 2.0
// bearer-token protection to an API. Create it with New; it is safe for
// concurrent use.
type OpenIDConnect struct {
	cfg           Config
	secrets       *ClientSecrets
	sessions      *scs.SessionManager
	log           *slog.Logger
	redirectURL   string
	postLogoutURL string
	origin        string // scheme://host of the application

	provider          atomic.Pointer[providerState]
	discoveryMu       sync.Mutex
	nextDiscovery     time.Time
	discoveryFailures int

	refreshes refresher
	resource  resourceServer
	// decoded remembers recently decoded session values.
	decoded decodedSessions

	// pending seals logins in progress into cookies; nil with
	// ResourceServerOnly.
	pending *pendingCookies
	// memory is the in-memory session store New created, whose cleanup
	// goroutine Close stops; nil when the application gave a store.
	memory    *memoryStore
	closeOnce sync.Once
	// dpopSigner is Config.DPoP's key; nil without DPoP.
	dpopSigner crypto.Signer
	// groupsPath is Config.GroupsClaim split into keys once, not on every
	// request that reads the groups.
	groupsPath []string
}

// providerState is everything learnt from the provider's discovery
// document, merged with the endpoints given in the client secrets.
type providerState struct {
	issuer           string
	oauth2           oauth2.Config
	oidc             *oidc.Provider
	userInfoURL      string
	introspectionURL string
	// introspectionAuthMethod is Config.IntrospectionAuthMethod, else the
	// one chosen from the discovery document.
	introspectionAuthMethod string
	endSessionURL           string
	issParameterSupported   bool
	keys                    *keySet
	idTokens                *oidc.IDTokenVerifier
	fapi                    *providerFAPI
}

// providerMetadata holds the discovery fields go-oidc does not expose.
type providerMetadata struct {
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	IDTokenAlgorithms     []string `json:"id_token_signing_alg_values_supported"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

// New returns an OpenIDConnect for cfg. It loads the client secrets and,
// unless cfg.LazyDiscovery or cfg.Disabled is set, discovers the provider.
// Errors wrap ErrInvalidConfig, ErrInvalidClientSecrets or, when the
// provider cannot be reached within cfg.Timeout, ErrProviderUnavailable.
func New(ctx context.Context, cfg Config) (*OpenIDConnect, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	oc := &OpenIDConnect{cfg: cfg, log: cfg.Logger}
	// validate has checked that GroupsClaim parses.
	oc.groupsPath, _ = parseClaimPath(cfg.GroupsClaim)
	if cfg.InsecureAcceptIDTokenShapedAccessTokens {
		oc.log.Warn("httpoidc: InsecureAcceptIDTokenShapedAccessTokens is set: AcceptToken takes JWTs shaped like ID tokens " +
			"for access tokens, and so accepts the provider's ID tokens too; use it only with Dex")
	}
	if cfg.InsecureAcceptLogoutTokensWithoutExp {
		oc.log.Warn("httpoidc: InsecureAcceptLogoutTokensWithoutExp is set: back-channel logout tokens without exp are " +
			"accepted for two minutes after their iat; use it only with a provider that omits exp (Ory Hydra)")
	}
	oc.warnInsecurePolicy()
	if cfg.InsecureHTTPProvider {
		oc.log.Warn("httpoidc: InsecureHTTPProvider is set: plain http provider URLs are accepted, so tokens and the " +
			"client secret may travel in clear text; use it in test set-ups only")
	}
	if err := oc.loadKeys(); err != nil {
		return nil, err
	}
	if cfg.Disabled {
		if err := cfg.checkDisabled(); err != nil {
			return nil, err
		}
		oc.logDisabled()
		oc.secrets = &ClientSecrets{ClientID: "testing-client-id", ClientSecret: "testing-client-secret", Issuer: "https://oidc.example.com"}
		oc.redirectURL = "http://127.0.0.1" + cfg.CallbackPath
	} else if err := oc.loadSecrets(); err != nil {
		return nil, err
	} else if err := oc.checkConfiguredProviderURLs(); err != nil {
		return nil, err
	}
	if err := oc.checkReplicaKeys(); err != nil {
		return nil, err
	}

	if !cfg.ResourceServerOnly && !cfg.Disabled {
		if err := oc.resolveURLs(); err != nil {
			return nil, err
		}
	}
	// Both cookies New makes, session and pending login, are Secure unless
	// the redirect URL is plain http on loopback (Config.Sessions).
	secure := !isLoopbackHTTP(oc.redirectURL)
	oc.sessions = cfg.Sessions
	if oc.sessions == nil && !cfg.ResourceServerOnly {
		// A sibling subdomain cannot plant a session of its own choosing
		// (login CSRF).
		cookieName := hostCookieName("httpoidc_session", secure)
		// Not scs.New, which starts a memory store's goroutine that no
		// one can stop (memorystore.go). The one difference: the managers
		// built here share a context key, so two of them must not wrap
		// the same request (Config.Sessions says so).
		oc.sessions = &scs.SessionManager{
			Lifetime: 24 * time.Hour,
			Store:    cfg.SessionStore,
			Codec:    sessionCodec{},
			ErrorFunc: func(w http.ResponseWriter, r *http.Request, err error) {
				oc.log.Error("httpoidc: session store", "path", r.URL.Path, "error", err)
				oc.writeError(w, r, http.StatusInternalServerError, "Internal error", "The session could not be loaded or saved.")
			},
			Cookie: scs.SessionCookie{
				Name:     cookieName,
				Path:     "/",
				HttpOnly: true,
				SameSite: http.SameSiteLaxMode,
				Secure:   secure,
				Persist:  true,
			},
		}
		if cfg.SessionStore == nil {
			oc.memory = newMemoryStore(time.Minute)
			oc.sessions.Store = oc.memory
		}
	}
	if !cfg.ResourceServerOnly {
		key, err := oc.cookieKey()
		if err != nil {
			oc.Close()
			return nil, fmt.Errorf("%w: pending login cookie key: %w", ErrInvalidConfig, err)
		}
		oc.pending = newPendingCookies(key, secure, cfg.BasePath+"/")
	}
	oc.resource.init(&oc.cfg, oc.secrets)
	if oc.cfg.Audience == "" {
		oc.cfg.Audience = oc.secrets.ClientID
	}
	if cfg.Disabled || cfg.LazyDiscovery {
		return oc, nil
	}
	if _, err := oc.discover(ctx); err != nil {
		oc.Close()
		return nil, err
	}
	return oc, nil
}

// Close stops the background work New started: the cleanup goroutine of
// the in-memory session store New creates when Config gives no store, and
// the timer of the introspection calls' deadline. The
// OpenIDConnect must not be used after Close; calling Close again does
// nothing.
func (oc *OpenIDConnect) Close() {
	oc.closeOnce.Do(func() {
		if oc.memory != nil {
			oc.memory.close()
		}
		if oc.resource.deadline != nil {
			oc.resource.deadline.stop()
		}
	})
}

// sharedStore reports whether sessions may be shared with other processes:
// any store the application gave. The store New creates is this process's
// alone.
func (oc *OpenIDConnect) sharedStore() bool { return oc.sessions != nil && oc.memory == nil }

func (oc *OpenIDConnect) loadSecrets() error {
	switch {
	case oc.cfg.ClientSecrets != nil:
		s := *oc.cfg.ClientSecrets
		if err := s.validate(oc.cfg.ClientKey == nil); err != nil {
			return fmt.Errorf("Config.ClientSecrets: %w", err)
		}
		oc.secrets = &s
	case oc.cfg.ClientSecretsFile != "":
		s, err := loadClientSecrets(oc.cfg.ClientSecretsFile, oc.cfg.ClientKey == nil)
		if err != nil {
			return err
		}
		oc.secrets = s
	default:
		return fmt.Errorf("%w: set ClientSecretsFile or ClientSecrets (OIDC_CLIENT_SECRETS)", ErrInvalidConfig)
	}
	return nil
}

// resolveURLs settles the callback URL (Config.RedirectURL, else the
// registered redirect URI ending in BasePath + CallbackPath) and the
// post-logout URL.
func (oc *OpenIDConnect) resolveURLs() error {
	oc.redirectURL = oc.cfg.RedirectURL
	callback := oc.cfg.BasePath + oc.cfg.CallbackPath
	if oc.redirectURL == "" {
		for _, uri := range oc.secrets.RedirectURIs {
			if u, err := url.Parse(uri); err == nil && strings.HasSuffix(u.Path, callback) {
				oc.redirectURL = uri
				break
			}
		}
	}
	if oc.redirectURL == "" && len(oc.secrets.RedirectURIs) > 0 {
		// Any other registered URI would send the provider's answer to a
		// page that is not the callback, and the login would end anonymous.
		return oc.noCallbackError()
	}
	if oc.redirectURL == "" {
		return fmt.Errorf("%w: no redirect URI: set Config.RedirectURL (OIDC_OVERWRITE_REDIRECT_URI) or \"web.redirect_uris\" in the client secrets", ErrInvalidConfig)
	}
	if err := checkAbsoluteURL(oc.redirectURL); err != nil {
		return fmt.Errorf("%w: redirect URI: %w", ErrInvalidConfig, err)
	}
	u, _ := url.Parse(oc.redirectURL)
	oc.origin = u.Scheme + "://" + u.Host
	if oc.cfg.BasePath != "" && !strings.HasSuffix(u.Path, callback) {
		// The provider would send the login back outside the application.
		return fmt.Errorf("%w: redirect URI %q is not BasePath + CallbackPath (%s)", ErrInvalidConfig, oc.redirectURL, callback)
	}
	oc.postLogoutURL = oc.cfg.PostLogoutRedirectURL
	if oc.postLogoutURL == "" {
		oc.postLogoutURL = oc.origin + oc.cfg.BasePath + oc.cfg.LogoutPath
	}
	return nil
}

func checkAbsoluteURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %q", raw)
	}
	if !isAbsoluteHTTPURL(u) {
		return fmt.Errorf("want an absolute http(s) URL, got %q", raw)
	}
	return nil
}

// isAbsoluteHTTPURL reports whether u is an http or https URL with a host.
func isAbsoluteHTTPURL(u *url.URL) bool {
	return (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func isLoopbackHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

// isLoopbackHost reports whether host names this machine: localhost or a
// loopback IP address (127.0.0.0/8, ::1).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkProviderURL refuses a provider URL that would carry tokens, keys or
// the client secret in clear text: RFC 6749 §3.1 and §3.2 require TLS at
// the authorization and token endpoints, OpenID Connect Discovery 1.0 §3
// an https issuer and RFC 7517 §9.1 an authenticated JWKS fetch. Plain http
// is accepted on loopback addresses, where nothing leaves the machine, and
// with Config.InsecureHTTPProvider. An empty URL (an endpoint the provider
// does not have) is accepted.
func (oc *OpenIDConnect) checkProviderURL(name, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%w: provider %s %q is not an absolute URL", ErrInvalidConfig, name, raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (isLoopbackHost(u.Hostname()) || oc.cfg.InsecureHTTPProvider):
		return nil
	}
	return fmt.Errorf("%w: provider %s %q must use https (plain http only on a loopback address, or with InsecureHTTPProvider in a test set-up)", ErrInvalidConfig, name, raw)
}

// checkConfiguredProviderURLs checks the provider URLs of the client
// secrets at New, before any of them is contacted.
func (oc *OpenIDConnect) checkConfiguredProviderURLs() error {
	s := oc.secrets
	return errors.Join(
		oc.checkProviderURL("issuer", s.Issuer),
		oc.checkProviderURL("auth_uri", s.AuthURI),
		oc.checkProviderURL("token_uri", s.TokenURI),
		oc.checkProviderURL("userinfo_uri", s.UserInfoURI),
		oc.checkProviderURL("token_introspection_uri", s.IntrospectionURI),
	)
}

// discover returns the provider state, running discovery when it has not
// succeeded yet. Failures back off from one second up to a minute, so an
// outage costs the provider one request per backoff, not one per visitor.
func (oc *OpenIDConnect) discover(ctx context.Context) (*providerState, error) {
	if p := oc.provider.Load(); p != nil {
		return p, nil
	}
	oc.discoveryMu.Lock()
	defer oc.discoveryMu.Unlock()
	if p := oc.provider.Load(); p != nil {
		return p, nil
	}
	if now := oc.cfg.Now(); now.Before(oc.nextDiscovery) {
		return nil, fmt.Errorf("%w: discovery of %s failed recently; retrying after %s", ErrProviderUnavailable, oc.secrets.Issuer, oc.nextDiscovery.Sub(now).Round(time.Second))
	}
	p, err := oc.fetchProvider(ctx)
	if err != nil {
		oc.discoveryFailures++
		backoff := min(time.Second<<min(oc.discoveryFailures-1, 6), time.Minute)
		oc.nextDiscovery = oc.cfg.Now().Add(backoff)
		oc.log.Warn("httpoidc: provider discovery failed", "issuer", oc.secrets.Issuer, "retry_in", backoff, "error", err)
		return nil, err
	}
	oc.discoveryFailures = 0
	oc.provider.Store(p)
	oc.log.Info("httpoidc: provider discovered", "issuer", p.issuer)
	return p, nil
}

func (oc *OpenIDConnect) outbound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, oc.cfg.Timeout)
	ctx = oidc.ClientContext(ctx, oc.cfg.HTTPClient)
	return context.WithValue(ctx, oauth2.HTTPClient, oc.cfg.HTTPClient), cancel
}

func (oc *OpenIDConnect) fetchProvider(ctx context.Context) (*providerState, error) {
	ctx, cancel := oc.outbound(ctx)
	defer cancel()
	issuer := oc.secrets.Issuer
	discovered, err := oidc.NewProvider(ctx, issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && strings.TrimSuffix(mismatch.Provided, "/") == strings.TrimSuffix(mismatch.Discovered, "/") {
		// Flask-OIDC strips the trailing slash of the configured issuer;
		// accept the provider's spelling when that is the only difference.
		issuer = mismatch.Discovered
		discovered, err = oidc.NewProvider(ctx, issuer)
	}
	if err != nil {
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: discovery: %w", ErrInvalidConfig, err)
		}
		return nil, fmt.Errorf("%w: discovery of %s: %w", ErrProviderUnavailable, issuer, err)
	}
	var base struct {
		AuthURL     string `json:"authorization_endpoint"`
		TokenURL    string `json:"token_endpoint"`
		UserInfoURL string `json:"userinfo_endpoint"`
		JWKSURL     string `json:"jwks_uri"`
	}
	var meta providerMetadata
	if err := discovered.Claims(&base); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %w", ErrProviderUnavailable, err)
	}
	if err := discovered.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %w", ErrProviderUnavailable, err)
	}
	override := func(dst *string, src string) {
		if src != "" {
			*dst = src
		}
	}
	override(&base.AuthURL, oc.secrets.AuthURI)
	override(&base.TokenURL, oc.secrets.TokenURI)
	override(&base.UserInfoURL, oc.secrets.UserInfoURI)
	override(&meta.IntrospectionEndpoint, oc.secrets.IntrospectionURI)
	if base.JWKSURL == "" {
		return nil, fmt.Errorf("%w: discovery document of %s has no jwks_uri, without which neither ID tokens nor JWT access tokens can be verified", ErrInvalidConfig, issuer)
	}
	if err := errors.Join(
		oc.checkProviderURL("issuer", issuer),
		oc.checkProviderURL("authorization_endpoint", base.AuthURL),
		oc.checkProviderURL("token_endpoint", base.TokenURL),
		oc.checkProviderURL("userinfo_endpoint", base.UserInfoURL),
		oc.checkProviderURL("jwks_uri", base.JWKSURL),
		oc.checkProviderURL("introspection_endpoint", meta.IntrospectionEndpoint),
		oc.checkProviderURL("end_session_endpoint", meta.EndSessionEndpoint),
	); err != nil {
		return nil, fmt.Errorf("discovery document of %s: %w", issuer, err)
	}
	if oc.cfg.AccessTokenValidation == ValidateIntrospection && meta.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("%w: AccessTokenValidation is introspection but the discovery document of %s has no introspection_endpoint: %s",
			ErrInvalidConfig, issuer, fixIntrospectionEndpoint)
	}
	tokenAuth := chooseAuthMethod(oc.cfg.ClientAuthMethod, meta.TokenAuthMethods, AuthClientSecretPost)
	introspectionAuth := chooseAuthMethod(oc.cfg.IntrospectionAuthMethod, meta.IntrospectionMethods, tokenAuth)
	algorithms := signingAlgorithms(meta.IDTokenAlgorithms)
	var algNames []string
	for _, a := range algorithms {
		algNames = append(algNames, string(a))
	}
	keys := newKeySet(base.JWKSURL, oc.cfg.HTTPClient, &oc.cfg, algorithms)
	authStyle := oauth2.AuthStyleInParams
	if tokenAuth == AuthClientSecretBasic {
		authStyle = oauth2.AuthStyleInHeader
	}
	fapi, err := oc.discoverFAPI(discovered.Claims, issuer)
	if err != nil {
		return nil, err
	}
	p := &providerState{
		issuer: issuer,
		oauth2: oauth2.Config{
			ClientID:     oc.secrets.ClientID,
			ClientSecret: oc.secrets.ClientSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: base.AuthURL, TokenURL: base.TokenURL, AuthStyle: authStyle},
			RedirectURL:  oc.redirectURL,
			Scopes:       oc.cfg.Scopes,
		},
		oidc: (&oidc.ProviderConfig{
			IssuerURL: issuer, AuthURL: base.AuthURL, TokenURL: base.TokenURL,
			UserInfoURL: base.UserInfoURL, JWKSURL: base.JWKSURL, Algorithms: algNames,
		}).NewProvider(ctx),
		userInfoURL:             base.UserInfoURL,
		introspectionURL:        meta.IntrospectionEndpoint,
		introspectionAuthMethod: introspectionAuth,
		endSessionURL:           meta.EndSessionEndpoint,
		issParameterSupported:   meta.IssParameterSupported,
		keys:                    keys,
		fapi:                    fapi,
	}
	p.idTokens = oidc.NewVerifier(issuer, keys, &oidc.Config{
		ClientID:             oc.secrets.ClientID,
		SupportedSigningAlgs: algNames,
		// go-oidc has no leeway on exp: checking against a clock running
		// ClockSkew behind gives it one.
		Now: func() time.Time { return oc.cfg.Now().Add(-oc.cfg.ClockSkew) },
	})
	return p, nil
}

// chooseAuthMethod returns the configured client authentication method,
// else the first of client_secret_post and client_secret_basic that the
// provider supports (RFC 8414 §2), else fallback: a provider that lists
// only methods httpoidc lacks, or says nothing, gets the fallback and
// answers for itself.
func chooseAuthMethod(configured string, supported []string, fallback string) string {
	if configured != "" {
		return configured
	}
	for _, method := range []string{AuthClientSecretPost, AuthClientSecretBasic} {
		if slices.Contains(supported, method) {
			return method
		}
	}
	return fallback
}

// Handler wraps the application's handler: it loads and saves the session,
// serves the callback, logout and back-channel logout paths, refreshes
// tokens about to expire, and puts the User in every request's context.
// With ResourceServerOnly it adds nothing and returns next unchanged.
func (oc *OpenIDConnect) Handler(next http.Handler) http.Handler {
	if oc.cfg.ResourceServerOnly {
		return next
	}
	withSession := oc.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch oc.appPath(r.URL.Path) {
		case oc.cfg.CallbackPath:
			oc.handleCallback(w, r)
		case oc.cfg.LogoutPath:
			oc.handleLogout(w, r)
		default:
			oc.serveWithUser(w, r, next)
		}
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The provider posts back-channel logout tokens without the
		// browser's cookie: no session is loaded for them.
		if oc.appPath(r.URL.Path) == oc.cfg.BackchannelLogoutPath && !oc.cfg.Disabled {
			oc.handleBackchannelLogout(w, r)
			return
		}
		withSession.ServeHTTP(w, r)
	})
}

// Sessions returns the session manager holding the logins, for
// applications that store their own values in the same session; nil with
// ResourceServerOnly, which keeps no sessions.
func (oc *OpenIDConnect) Sessions() *scs.SessionManager { return oc.sessions }

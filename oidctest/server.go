package oidctest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Server is an in-process OpenID Provider. Create it with NewServer (it
// listens on its own loopback port) or NewHandler (mount it yourself). All
// methods are safe for concurrent use, also while requests are served.
type Server struct {
	// URL is the issuer URL, e.g. "http://127.0.0.1:41234", with no
	// trailing slash. Every endpoint is URL + its path.
	URL string

	opts    options
	profile *profileSpec // opts.profile's provider; nil for Standard
	log     *slog.Logger
	handler http.Handler
	pages   *template.Template
	srv     *http.Server // nil for NewHandler

	// closing is cancelled by Close so that blocked requests (a hanging token
	// endpoint, a slow back-channel receiver) return promptly.
	closing   context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	// backchannel posts logout tokens; without keep-alives it leaves no idle
	// connection goroutines behind after Close.
	backchannel *http.Client

	mu        sync.Mutex
	offset    time.Duration // server clock = time.Now() + offset
	key       *signingKey
	oldKeys   []*signingKey
	decoy     *signingKey
	faults    faultSet
	autoLogin string
	clients   map[string]Client
	users     map[string]User
	pending   map[string]*authRequest
	codes     map[string]*authCode
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	idTokens  map[string]*idTokenRecord // with a provider Profile only
	counts    map[Endpoint]int
	nextSweep time.Time
	// fapi holds pushed requests, seen jtis and the DPoP nonce.
	fapi fapiState
	// refreshKey signs a profile's JWT refresh tokens (Keycloak's HS512);
	// it is in no JWKS.
	refreshKey []byte
}

// Endpoint names one of the provider's endpoints, for Requests.
type Endpoint string

// The endpoints counted by Requests.
const (
	// EndpointDiscovery is /.well-known/openid-configuration.
	EndpointDiscovery Endpoint = "discovery"
	// EndpointJWKS is /jwks.
	EndpointJWKS Endpoint = "jwks"
	// EndpointAuthorize is /authorize.
	EndpointAuthorize Endpoint = "authorize"
	// EndpointLogin is /login, where the HTML login form posts.
	EndpointLogin Endpoint = "login"
	// EndpointToken is /token.
	EndpointToken Endpoint = "token"
	// EndpointUserInfo is /userinfo.
	EndpointUserInfo Endpoint = "userinfo"
	// EndpointIntrospection is /introspect.
	EndpointIntrospection Endpoint = "introspection"
	// EndpointRevocation is /revoke.
	EndpointRevocation Endpoint = "revocation"
	// EndpointEndSession is /end_session.
	EndpointEndSession Endpoint = "end_session"
	// EndpointRegistration is /register.
	EndpointRegistration Endpoint = "registration"
)

// The endpoint paths, relative to the issuer URL.
const (
	pathDiscovery     = "/.well-known/openid-configuration"
	pathJWKS          = "/jwks"
	pathAuthorize     = "/authorize"
	pathLogin         = "/login"
	pathToken         = "/token"
	pathUserInfo      = "/userinfo"
	pathIntrospection = "/introspect"
	pathRevocation    = "/revoke"
	pathEndSession    = "/end_session"
	pathRegistration  = "/register"
)

// NewServer starts a provider on a free port of 127.0.0.1 and returns it.
// The caller must Close it. Like httptest.NewServer it panics if it cannot
// listen; it also panics on an unsupported WithSigningAlgorithm.
func NewServer(opts ...Option) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("oidctest: failed to listen on a port: %v", err))
	}
	s, err := newServer("http://"+ln.Addr().String(), opts)
	if err != nil {
		ln.Close()
		panic(err.Error())
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("oidctest: serve", "error", err)
		}
	}()
	return s
}

// NewHandler returns a provider that is not listening: serve it with any
// listener or router. issuer must be the URL the provider is reached at
// (scheme, host and, if mounted below a path, that path); requests are
// accepted with or without that path prefix. NewHandler panics on an
// unsupported WithSigningAlgorithm. Close releases hanging requests.
func NewHandler(issuer string, opts ...Option) *Server {
	s, err := newServer(issuer, opts)
	if err != nil {
		panic(err.Error())
	}
	return s
}

func newServer(issuer string, opts []Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	key, err := newSigningKey(o.alg)
	if err != nil {
		return nil, err
	}
	pages, err := template.New("pages").Parse(pagesHTML)
	if err != nil {
		return nil, fmt.Errorf("oidctest: parsing pages: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:         strings.TrimSuffix(issuer, "/"),
		opts:        o,
		profile:     o.profile.spec(),
		log:         o.logger,
		pages:       pages,
		closing:     ctx,
		cancel:      cancel,
		backchannel: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		key:         key,
		clients:     map[string]Client{},
		users:       map[string]User{},
		pending:     map[string]*authRequest{},
		codes:       map[string]*authCode{},
		access:      map[string]*accessToken{},
		refresh:     map[string]*refreshToken{},
		counts:      map[Endpoint]int{},
	}
	if o.profile < Standard || o.profile >= profileEnd {
		cancel()
		return nil, fmt.Errorf("oidctest: unknown profile %v", o.profile)
	}
	s.idTokens = map[string]*idTokenRecord{}
	s.refreshKey = make([]byte, 64)
	rand.Read(s.refreshKey)
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, e Endpoint, h http.HandlerFunc) {
		mux.Handle(path, s.counted(e, h))
	}
	handle(pathDiscovery, EndpointDiscovery, s.handleDiscovery)
	handle(pathJWKS, EndpointJWKS, s.handleJWKS)
	handle(pathAuthorize, EndpointAuthorize, s.handleAuthorize)
	handle(pathLogin, EndpointLogin, s.handleLogin)
	handle(pathToken, EndpointToken, s.handleToken)
	handle(pathUserInfo, EndpointUserInfo, s.handleUserInfo)
	handle(pathRevocation, EndpointRevocation, s.handleRevocation)
	if s.opts.par {
		handle(pathPAR, EndpointPAR, s.handlePAR)
	}
	if !s.opts.noEndSession {
		handle(pathEndSession, EndpointEndSession, s.handleEndSession)
	}
	if s.servesIntrospection() {
		handle(pathIntrospection, EndpointIntrospection, s.handleIntrospection)
	}
	if spec := s.spec(); spec != nil && spec.logoutURL.path != "" {
		handle(spec.logoutURL.path, EndpointEndSession, s.handleProviderLogout(spec.logoutURL.returnParam))
	}
	if !s.opts.noRegistration {
		handle(pathRegistration, EndpointRegistration, s.handleRegistration)
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Path == "" {
		return mux
	}
	prefix := u.Path
	stripped := http.StripPrefix(prefix, mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix+"/") {
			stripped.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) counted(e Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[e]++
		s.mu.Unlock()
		// The path only: query strings carry codes, states and tokens.
		s.log.Debug("oidctest: request", "endpoint", string(e), "method", r.Method, "path", r.URL.Path)
		h(w, r)
	})
}

// ServeHTTP serves the provider's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close releases requests blocked by FaultTokenEndpointHang and, for a
// Server from NewServer, stops listening and waits for in-flight requests.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
	})
}

// Now returns the server clock: the wall clock moved by every Advance.
// Every iat, exp and expiry check of the provider uses it; pass it as
// oidc.Config.Now when verifying tokens after Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return time.Now().Add(s.offset) }

// Advance moves the server clock forward by d (backward if d is negative),
// e.g. to expire codes and tokens without sleeping.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Requests returns how many requests endpoint e has received since the
// start or the last ResetCounts.
func (s *Server) Requests(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[e]
}

// ResetCounts sets every Requests count to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// AccessTokenFormat selects how access tokens are encoded.
type AccessTokenFormat int

const (
	// Opaque access tokens are random strings, meaningful only to
	// introspection and userinfo.
	Opaque AccessTokenFormat = iota
	// JWT access tokens follow RFC 9068: header typ "at+jwt", claims iss,
	// sub, aud, exp, iat, jti, scope and client_id.
	JWT
)

// Client is a registered relying party. Clients are confidential: they
// authenticate to the token endpoint with client_secret_basic or
// client_secret_post.
type Client struct {
	// ID is the client_id; Secret the client_secret.
	ID, Secret string
	// RedirectURIs are the allowed redirect_uri values, matched exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values
	// of the end session endpoint, matched exactly.
	PostLogoutRedirectURIs []string
	// Scopes are the scopes the client may request; empty allows any.
	// "openid" is always allowed.
	Scopes []string
	// AccessTokenFormat is Opaque by default. A resource parameter on the
	// authorization or token request forces JWT with aud set to the resource.
	AccessTokenFormat AccessTokenFormat
	// Keys, if set, are the client's public keys: it may then authenticate
	// with private_key_jwt (RFC 7523) client assertions signed by one of
	// them, with or without a Secret.
	Keys []jose.JSONWebKey
	// BackchannelLogoutURI, if set, receives a logout_token form POST when the
	// end session endpoint logs out one of the client's sessions.
	BackchannelLogoutURI string

	// dpopJKT is, during a token request, the thumbprint of its DPoP
	// proof's key.
	dpopJKT string
}

// AddClient registers c, replacing any client with the same ID. Since it
// replaces, it can be called again once the application's URL (and so its
// redirect URI) is known.
func (s *Server) AddClient(c Client) {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	c.Keys = slices.Clone(c.Keys)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

func (s *Server) client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// User is an end user who can log in.
type User struct {
	// Subject is the sub claim and the login page username.
	Subject string
	// Claims are released by scope: email and email_verified with "email";
	// name, preferred_username and the other OpenID Connect profile claims
	// with "profile"; address with "address"; phone_number and
	// phone_number_verified with "phone"; groups with "groups". Any other
	// claim (e.g. "roles", or nested objects such as Keycloak's
	// realm_access {"roles": [...]}) is always released, as is. Registered JWT claims (iss,
	// sub, aud, exp, ...) are ignored.
	Claims map[string]any
}

// AddUser registers u, replacing any user with the same Subject.
func (s *Server) AddUser(u User) {
	u.Claims = maps.Clone(u.Claims)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Subject] = u
}

// AutoLogin makes every following authorization request succeed at once as
// subject, without any page, so that a plain http.Client following
// redirects completes the flow. subject need not have been added with
// AddUser (its tokens then carry sub only). AutoLogin("") restores the HTML
// login page.
func (s *Server) AutoLogin(subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoLogin = subject
}

// ClientSecrets returns the client's settings as a Flask-OIDC
// client_secrets.json document:
//
//	{"web": {"client_id", "client_secret", "auth_uri", "token_uri",
//	         "userinfo_uri", "issuer", "redirect_uris"}}
//
// It returns nil if no client has that ID.
func (s *Server) ClientSecrets(clientID string) []byte {
	c, ok := s.client(clientID)
	if !ok {
		return nil
	}
	type web struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		AuthURI      string   `json:"auth_uri"`
		TokenURI     string   `json:"token_uri"`
		UserInfoURI  string   `json:"userinfo_uri"`
		Issuer       string   `json:"issuer"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	doc := map[string]web{"web": {
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		AuthURI:      s.URL + pathAuthorize,
		TokenURI:     s.URL + pathToken,
		UserInfoURI:  s.URL + pathUserInfo,
		Issuer:       s.URL,
		RedirectURIs: append([]string{}, c.RedirectURIs...),
	}}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		s.log.Error("oidctest: encoding client secrets", "error", err)
		return nil
	}
	return b
}

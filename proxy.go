package httpoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ProxyConfig configures OpenIDConnect.ReverseProxy. Its zero value is a
// proxy that sends anonymous browsers straight to the provider, forwards
// logged-in requests with the user headers of oauth2-proxy, and trusts
// X-Forwarded-* headers from loopback addresses only. The field comments
// name the oauth2-proxy option each field replaces.
type ProxyConfig struct {
	// Prefix is the path of the proxy's own endpoints (proxy_prefix):
	// Prefix+"/auth", "/sign_in", "/start" and "/userinfo". Config's
	// CallbackPath and LogoutPath must be under it, so that the proxy never
	// hides a path of the upstream. Default: /oauth2.
	Prefix string

	// OmitUserHeaders stops X-Forwarded-User, X-Forwarded-Email,
	// X-Forwarded-Groups and X-Forwarded-Preferred-Username from being sent
	// upstream (pass_user_headers=false). They are removed from the
	// client's request either way.
	OmitUserHeaders bool
	// PreferEmailToUser sends the email in X-Forwarded-User instead of the
	// subject, and no X-Forwarded-Email (prefer_email_to_user).
	PreferEmailToUser bool
	// PassAccessToken sends the access token upstream in
	// X-Forwarded-Access-Token (pass_access_token).
	PassAccessToken bool
	// PassAuthorizationHeader sends "Authorization: Bearer <ID token>"
	// upstream, replacing the client's Authorization header
	// (pass_authorization_header).
	PassAuthorizationHeader bool
	// SetAuthorizationHeader adds "Authorization: Bearer <ID token>" to the
	// answers of Prefix+"/auth", for nginx auth_request_set
	// (set_authorization_header).
	SetAuthorizationHeader bool
	// SetXAuthRequest adds X-Auth-Request-User, -Email, -Groups and
	// -Preferred-Username (and -Access-Token with PassAccessToken) to the
	// answers of Prefix+"/auth" (set_xauthrequest).
	SetXAuthRequest bool

	// AcceptBearerTokens lets API clients through with an OAuth 2.0 bearer
	// token instead of a session: the token is checked as AcceptToken does,
	// and must grant every one of BearerScopes (skip_jwt_bearer_tokens). A
	// request with a bearer token that fails gets AcceptToken's RFC 6750
	// answer, never a login redirect.
	AcceptBearerTokens bool
	// BearerScopes are the scopes a bearer token must grant.
	BearerScopes []string

	// SignInPage shows anonymous browsers a page with a sign-in button
	// instead of redirecting them to the provider at once
	// (skip_provider_button=false).
	SignInPage bool

	// TrustedProxies are the addresses whose X-Forwarded-For, -Host and
	// -Proto headers are believed (trusted_proxy_ips); from anyone else the
	// proxy replaces them with what it sees itself. Nil means loopback
	// (127.0.0.0/8 and ::1), where a TLS-terminating HAProxy on the same
	// host connects from; an empty non-nil slice trusts nobody.
	TrustedProxies []netip.Prefix

	// Transport makes the requests to the upstream. Default: a clone of
	// http.DefaultTransport with UpstreamTimeout as its response header
	// timeout.
	Transport http.RoundTripper
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (upstream_timeout); a slower upstream gets the 502 page. Streaming
	// bodies and WebSockets are not limited by it. Default: 30 seconds.
	UpstreamTimeout time.Duration
}

// ReverseProxy returns a complete http.Handler that logs users in and
// forwards their requests to upstream, as oauth2-proxy does: it needs no
// Handler around it (it includes one). Requests under ProxyConfig.Prefix
// are the proxy's own: the callback and logout paths of Config, and
//
//	Prefix/auth      202 with the identity headers, or 401, for nginx
//	                 auth_request, Caddy forward_auth and Traefik ForwardAuth
//	Prefix/sign_in   the sign-in page, or straight to the provider; ?rd= is
//	                 where to come back to
//	Prefix/start     straight to the provider; ?rd= as above
//	Prefix/userinfo  the user as JSON (user, email, groups,
//	                 preferredUsername), or 401
//
// Every other request needs a login (or, with AcceptBearerTokens, a bearer
// token) and is forwarded with the user's identity in oauth2-proxy's
// headers, after any header of those names the client sent is removed,
// including spellings with underscores that WSGI, CGI and PHP servers read
// as the same name. The session cookie is not forwarded. WebSockets and
// streamed responses pass through; an upstream that cannot be reached gets
// a 502 page. The returned error wraps ErrInvalidConfig and says what is
// wrong: upstream is not an absolute http(s) URL, Prefix or BearerScopes
// are malformed, Config.BasePath is set, Config's CallbackPath or
// LogoutPath is outside Prefix, or ResourceServerOnly is set without
// AcceptBearerTokens.
func (oc *OpenIDConnect) ReverseProxy(upstream *url.URL, pc ProxyConfig) (http.Handler, error) {
	if upstream == nil || !isAbsoluteHTTPURL(upstream) {
		return nil, fmt.Errorf("%w: ReverseProxy: upstream must be an absolute http(s) URL, got %v", ErrInvalidConfig, upstream)
	}
	for _, s := range pc.BearerScopes {
		if !isScopeToken(s) {
			return nil, fmt.Errorf("%w: ReverseProxy: %q is not an OAuth 2.0 scope", ErrInvalidConfig, s)
		}
	}
	if pc.Prefix == "" {
		pc.Prefix = "/oauth2"
	}
	if !strings.HasPrefix(pc.Prefix, "/") || strings.Trim(pc.Prefix, "/") == "" {
		return nil, fmt.Errorf("%w: ReverseProxy: Prefix must be a path below /, got %q", ErrInvalidConfig, pc.Prefix)
	}
	pc.Prefix = strings.TrimSuffix(pc.Prefix, "/")
	if oc.cfg.BasePath != "" {
		return nil, fmt.Errorf("%w: ReverseProxy: the proxy serves the whole site: leave Config.BasePath empty, got %q", ErrInvalidConfig, oc.cfg.BasePath)
	}
	if !oc.cfg.ResourceServerOnly {
		// A slice, not a map: the first misplaced path is named every time.
		for _, p := range [...]struct{ name, path string }{{"CallbackPath", oc.cfg.CallbackPath}, {"LogoutPath", oc.cfg.LogoutPath}} {
			if name, path := p.name, p.path; !strings.HasPrefix(path, pc.Prefix+"/") {
				return nil, fmt.Errorf("%w: ReverseProxy: Config.%s %q is not under %s: it would hide the upstream's own page", ErrInvalidConfig, name, path, pc.Prefix)
			}
		}
	} else if !pc.AcceptBearerTokens {
		return nil, fmt.Errorf("%w: ReverseProxy: with ResourceServerOnly nobody can log in: set AcceptBearerTokens", ErrInvalidConfig)
	}
	if pc.TrustedProxies == nil {
		pc.TrustedProxies = loopbackProxies
	}
	if pc.UpstreamTimeout <= 0 {
		pc.UpstreamTimeout = 30 * time.Second
	}
	if pc.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = pc.UpstreamTimeout
		// Every request goes to the one upstream: keep as many idle
		// connections to it as a busy proxy has requests in flight.
		t.MaxIdleConnsPerHost = 256
		pc.Transport = t
	}
	p := &reverseProxy{oc: oc, cfg: pc, upstream: upstream}
	p.forward = &httputil.ReverseProxy{
		Rewrite:      p.rewrite,
		Transport:    pc.Transport,
		ErrorHandler: p.upstreamFailed,
		// Without a pool ReverseProxy allocates 32 KiB per response: half
		// of what a request costs, and the garbage collector's work.
		BufferPool: &copyBuffers{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}},
		// FlushInterval stays 0: ReverseProxy flushes every write of a
		// response without a length (a stream, server-sent events) itself.
	}
	p.bearer = oc.AcceptToken(pc.BearerScopes...)
	p.authorizedToken = p.bearer(http.HandlerFunc(p.writeAuthorized))
	routes := http.NewServeMux()
	routes.HandleFunc(pc.Prefix+"/auth", p.serveAuth)
	routes.HandleFunc(pc.Prefix+"/sign_in", p.serveSignIn)
	routes.HandleFunc(pc.Prefix+"/start", p.serveStart)
	routes.HandleFunc(pc.Prefix+"/userinfo", p.serveUserInfo)
	routes.HandleFunc(pc.Prefix+"/", http.NotFound)
	routes.Handle("/", p.protect(p.forward))
	p.routes = oc.Handler(routes)
	return p, nil
}

// copyBuffers lends ReverseProxy the buffers it copies bodies with.
type copyBuffers struct{ pool sync.Pool }

func (c *copyBuffers) Get() []byte { return c.pool.Get().(*[32 << 10]byte)[:] }

func (c *copyBuffers) Put(b []byte) {
	if len(b) == 32<<10 {
		c.pool.Put((*[32 << 10]byte)(b))
	}
}

// reverseProxy is the handler ReverseProxy returns.
type reverseProxy struct {
	oc       *OpenIDConnect
	cfg      ProxyConfig
	upstream *url.URL
	forward  *httputil.ReverseProxy
	bearer   func(http.Handler) http.Handler
	// authorizedToken is serveAuth's answer to a bearer token, built once.
	authorizedToken http.Handler
	routes          http.Handler
}

func (p *reverseProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == p.oc.cfg.LogoutPath {
		// oauth2-proxy's sign_out takes the return target as rd.
		if q := r.URL.Query(); q.Has("rd") && !q.Has("next") {
			q.Set("next", p.returnTarget(r, q.Get("rd")))
			r.URL.RawQuery = q.Encode()
		}
	}
	p.routes.ServeHTTP(w, r)
}

// protect lets a request through to next with a login or, when enabled, a
// bearer token.
func (p *reverseProxy) protect(next http.Handler) http.Handler {
	withToken := p.bearer(next)
	withLogin := p.oc.RequireLogin(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if UserFrom(r.Context()).LoggedIn() {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case p.cfg.AcceptBearerTokens && hasBearerToken(r), p.oc.cfg.ResourceServerOnly:
			withToken.ServeHTTP(w, r)
		case r.Method == http.MethodOptions:
			// RequireLogin passes preflights to the application, which
			// answers them itself; an upstream behind the proxy may never
			// see an anonymous request, preflight or not.
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", p.oc.cfg.Realm))
			p.oc.writeError(w, r, http.StatusUnauthorized, "Login required", "You need to log in to see this page.")
		case p.cfg.SignInPage && isNavigation(r):
			p.writeSignInPage(w, r, http.StatusForbidden, r.URL.RequestURI())
		default:
			withLogin.ServeHTTP(w, r)
		}
	})
}

func hasBearerToken(r *http.Request) bool {
	scheme, _, found := strings.Cut(r.Header.Get("Authorization"), " ")
	// A DPoP-bound token (RFC 9449 §7.1) is an access token too: it goes
	// to AcceptToken, which checks its proof, not to the login.
	return found && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "DPoP"))
}

// identity is what the upstream is told about the requester.
type identity struct {
	user, email, preferredUsername string
	groups                         []string
	accessToken, idToken           string
}

// requester returns the identity of a request that protect let through.
func (p *reverseProxy) requester(ctx context.Context) (identity, bool) {
	if u := UserFrom(ctx); u.LoggedIn() {
		id := identity{user: u.Subject, email: u.Email, groups: u.Groups, accessToken: u.AccessToken, idToken: u.IDToken}
		id.preferredUsername, _ = u.Profile["preferred_username"].(string)
		return id, true
	}
	if tok, ok := TokenFrom(ctx); ok {
		claims := tok.claimMap()
		id := identity{user: tok.Subject, accessToken: tok.raw, groups: p.oc.groupsFrom(claims)}
		id.email, _ = claims["email"].(string)
		id.preferredUsername, _ = claims["preferred_username"].(string)
		return id, true
	}
	return identity{}, false
}

// setUserHeaders sets in h the headers naming id, in oauth2-proxy's names
// under prefix ("X-Forwarded-" upstream, "X-Auth-Request-" for
// auth_request). Empty values are left out, so an upstream never sees an
// empty identity.
func (p *reverseProxy) setUserHeaders(h http.Header, prefix string, id identity) {
	set := func(name, value string) {
		if value != "" {
			h.Set(prefix+name, value)
		}
	}
	if p.cfg.PreferEmailToUser && id.email != "" {
		set("User", id.email)
	} else {
		set("User", id.user)
		set("Email", id.email)
	}
	set("Groups", strings.Join(id.groups, ","))
	set("Preferred-Username", id.preferredUsername)
	if p.cfg.PassAccessToken {
		set("Access-Token", id.accessToken)
	}
}

// identityHeaders are the request headers only the proxy may set, in
// lower case. Headers whose names, with underscores read as dashes, are one
// of these, or start with x-auth-request-, are removed from every request:
// WSGI, CGI and PHP turn both X-Forwarded-User and X_Forwarded_User into
// HTTP_X_FORWARDED_USER.
var identityHeaders = []string{
	"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username",
	"x-forwarded-access-token", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	"x-forwarded-port", "x-forwarded-prefix", "x-real-ip", "forwarded",
}

func isIdentityHeader(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return slices.Contains(identityHeaders, n) || strings.HasPrefix(n, "x-auth-request-")
}

// rewrite builds the upstream request.
func (p *reverseProxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.upstream)
	// As oauth2-proxy's pass_host_header: the upstream sees the Host the
	// client asked for, so the links it writes are right.
	pr.Out.Host = pr.In.Host
	for name := range pr.Out.Header {
		if isIdentityHeader(name) {
			delete(pr.Out.Header, name)
		}
	}
	p.setForwarded(pr)
	p.dropSessionCookie(pr.Out)
	id, ok := p.requester(pr.In.Context())
	if !ok {
		return
	}
	if !p.cfg.OmitUserHeaders {
		p.setUserHeaders(pr.Out.Header, "X-Forwarded-", id)
	} else if p.cfg.PassAccessToken && id.accessToken != "" {
		pr.Out.Header.Set("X-Forwarded-Access-Token", id.accessToken)
	}
	if p.cfg.PassAuthorizationHeader && id.idToken != "" {
		pr.Out.Header.Set("Authorization", "Bearer "+id.idToken)
	}
}

// setForwarded sets X-Forwarded-For, -Host and -Proto. A trusted proxy's
// values are kept (its client is appended to X-Forwarded-For, as every hop
// does); anyone else's are replaced, so that a client cannot pose as
// another address or as having come over TLS.
func (p *reverseProxy) setForwarded(pr *httputil.ProxyRequest) {
	in := pr.In
	peer := remoteIP(in.RemoteAddr)
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host, chain := in.Host, ""
	if p.trusted(peer) {
		if v := in.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			proto = v
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
		chain = strings.Join(in.Header.Values("X-Forwarded-For"), ", ")
	}
	if peer.IsValid() {
		if chain != "" {
			chain += ", "
		}
		chain += peer.String()
	}
	h := pr.Out.Header
	if chain != "" {
		h.Set("X-Forwarded-For", chain)
	}
	h.Set("X-Forwarded-Host", host)
	h.Set("X-Forwarded-Proto", proto)
}

func (p *reverseProxy) trusted(ip netip.Addr) bool {
	return trustedAddr(p.cfg.TrustedProxies, ip)
}

func remoteIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

// dropSessionCookie keeps the session cookie from the upstream: whoever
// reads the upstream's logs must not be able to take over sessions.
func (p *reverseProxy) dropSessionCookie(out *http.Request) {
	if p.oc.sessions == nil {
		return
	}
	name := p.oc.sessions.Cookie.Name
	cookies := out.Cookies()
	if !slices.ContainsFunc(cookies, func(c *http.Cookie) bool { return c.Name == name }) {
		return
	}
	out.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != name {
			out.AddCookie(c)
		}
	}
}

// upstreamFailed answers with a 502 page when the upstream cannot be
// reached or does not answer in time.
func (p *reverseProxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.oc.log.Warn("httpoidc: upstream unavailable", "upstream", p.upstream.Host, "path", r.URL.Path, "error", err)
	p.oc.writeError(w, r, http.StatusBadGateway, "The application is not answering",
		"The application behind the login cannot be reached right now. Please try again in a moment.")
}

// serveAuth answers nginx auth_request, Caddy forward_auth and Traefik
// ForwardAuth: 202 with the identity headers, or 401.
func (p *reverseProxy) serveAuth(w http.ResponseWriter, r *http.Request) {
	switch {
	case UserFrom(r.Context()).LoggedIn():
		p.writeAuthorized(w, r)
	case (p.cfg.AcceptBearerTokens || p.oc.cfg.ResourceServerOnly) && hasBearerToken(r):
		p.authorizedToken.ServeHTTP(w, r)
	default:
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}
}

// writeAuthorized answers serveAuth with 202 and the requester's identity.
func (p *reverseProxy) writeAuthorized(w http.ResponseWriter, r *http.Request) {
	id, _ := p.requester(r.Context())
	h := w.Header()
	if p.cfg.SetXAuthRequest {
		p.setUserHeaders(h, "X-Auth-Request-", id)
	}
	if p.cfg.SetAuthorizationHeader && id.idToken != "" {
		h.Set("Authorization", "Bearer "+id.idToken)
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
}

// serveSignIn shows the sign-in page, or goes to the provider at once
// without SignInPage; a logged-in user goes back to rd.
func (p *reverseProxy) serveSignIn(w http.ResponseWriter, r *http.Request) {
	next := p.returnTarget(r, r.URL.Query().Get("rd"))
	switch {
	case UserFrom(r.Context()).LoggedIn():
		http.Redirect(w, r, next, http.StatusFound)
	case p.cfg.SignInPage:
		p.writeSignInPage(w, r, http.StatusOK, next)
	default:
		p.oc.startLogin(w, r, next)
	}
}

// serveStart goes to the provider, to come back to rd.
func (p *reverseProxy) serveStart(w http.ResponseWriter, r *http.Request) {
	if p.oc.cfg.ResourceServerOnly {
		http.NotFound(w, r)
		return
	}
	p.oc.startLogin(w, r, p.returnTarget(r, r.URL.Query().Get("rd")))
}

// serveUserInfo answers oauth2-proxy's /oauth2/userinfo.
func (p *reverseProxy) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id, ok := p.requester(r.Context())
	if !ok {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		User              string   `json:"user"`
		Email             string   `json:"email,omitempty"`
		Groups            []string `json:"groups,omitempty"`
		PreferredUsername string   `json:"preferredUsername,omitempty"`
	}{id.user, id.email, id.groups, id.preferredUsername})
}

// returnTarget turns rd into a path on this site. nginx configurations pass
// an absolute URL ($scheme://$host$request_uri); one for the host the
// request came to is cut to its path, any other site is refused ("/").
func (p *reverseProxy) returnTarget(r *http.Request, rd string) string {
	if u, err := url.Parse(rd); err == nil && u.IsAbs() && (u.Scheme == "https" || u.Scheme == "http") {
		host := r.Host
		if p.trusted(remoteIP(r.RemoteAddr)) && r.Header.Get("X-Forwarded-Host") != "" {
			host = r.Header.Get("X-Forwarded-Host")
		}
		if u.User != nil || !strings.EqualFold(u.Host, host) {
			return "/"
		}
		rd = u.RequestURI()
	}
	return p.oc.SafeRedirect(rd)
}

var signInPage = template.Must(template.New("sign_in").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:6rem auto;padding:0 1rem;color:#222;text-align:center}
button{font-size:1.1rem;padding:.6rem 1.6rem;border-radius:.4rem;border:1px solid #246;background:#2a5ea8;color:#fff;cursor:pointer}</style></head>
<body><h1>Sign in</h1><p>You need to sign in to see this site.</p>
<form method="get" action="{{.Start}}"><input type="hidden" name="rd" value="{{.Next}}">
<button type="submit" id="sign-in">Sign in with OpenID Connect</button></form></body></html>
`))

// writeSignInPage answers with the page whose button starts a login that
// comes back to next.
func (p *reverseProxy) writeSignInPage(w http.ResponseWriter, r *http.Request, status int, next string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_ = signInPage.Execute(w, struct{ Start, Next string }{p.cfg.Prefix + "/start", p.oc.SafeRedirect(next)})
	}
}

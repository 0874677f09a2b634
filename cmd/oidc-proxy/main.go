// Command oidc-proxy puts an OpenID Connect login in front of a web
// application written in any language: a drop-in replacement for
// oauth2-proxy with provider "oidc", built on httpoidc. It reads
// oauth2-proxy's flags, OAUTH2_PROXY_* environment variables and
// configuration file keys, so that
//
//	oidc-proxy --config /etc/oauth2-proxy.cfg --insecure-oidc-allow-unverified-email=true --skip-provider-button=true
//
// replaces oauth2-proxy behind HAProxy or nginx unchanged. Logged-in
// requests reach the upstream with X-Forwarded-User, X-Forwarded-Email,
// X-Forwarded-Groups and X-Forwarded-Preferred-Username; /oauth2/auth
// answers nginx auth_request. Run oidc-proxy -h for every option. Install
// with
//
//	go install github.com/httpoidc/httpoidc/cmd/oidc-proxy@latest
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"

	"github.com/httpoidc/httpoidc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stderr))
}

// run starts the proxy and serves until ctx ends. It returns the exit
// code: 0 after a clean shutdown, 1 when the proxy could not start or
// serve, 2 for bad options.
func run(ctx context.Context, args, environ []string, stderr io.Writer) int {
	v, err := parseOptions(args, environ, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	p, err := newProxy(ctx, v, logger)
	if err != nil {
		fmt.Fprintln(stderr, "oidc-proxy:", err)
		if errors.Is(err, errUsage) || errors.Is(err, httpoidc.ErrInvalidConfig) || errors.Is(err, httpoidc.ErrInvalidClientSecrets) {
			return 2
		}
		return 1
	}
	defer p.close()
	if err := p.serve(ctx); err != nil {
		logger.Error("oidc-proxy: serving", "error", err)
		return 1
	}
	return 0
}

// proxy is a configured oidc-proxy.
type proxy struct {
	oc      *httpoidc.OpenIDConnect
	address string
	handler http.Handler
	log     *slog.Logger
	redis   *redis.Client
}

// newProxy builds the proxy from the options; it discovers the provider,
// so that a misconfiguration fails now rather than at the first login.
func newProxy(ctx context.Context, v values, logger *slog.Logger) (*proxy, error) {
	cfg, pc, err := libraryConfig(v)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	p := &proxy{address: strings.TrimPrefix(v.text["http_address"], "http://"), log: logger}
	redisURL := v.text["redis_url"]
	if redisURL == "" {
		redisURL = v.text["redis_connection_url"]
	}
	switch store := v.text["session_store_type"]; {
	case store == "redis" && redisURL == "":
		return nil, fmt.Errorf("%w: session_store_type redis needs redis_url (or redis_connection_url)", errUsage)
	case store != "redis" && store != "cookie":
		return nil, fmt.Errorf("%w: session_store_type must be cookie or redis, got %q", errUsage, store)
	}
	if redisURL != "" {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, fmt.Errorf("%w: redis_url: %w", errUsage, err)
		}
		p.redis = redis.NewClient(opts)
		if err := p.redis.Ping(ctx).Err(); err != nil {
			p.redis.Close()
			return nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
		}
		cfg.SessionStore = goredisstore.New(p.redis)
	}
	oc, err := httpoidc.New(ctx, cfg)
	if err != nil {
		p.close()
		return nil, err
	}
	p.oc = oc
	if cfg.CookieSecret == "" {
		logger.Warn("oidc-proxy: cookie_secret is shorter than 32 bytes: logins in progress are sealed with a key derived from the client secret")
	}
	sessions := oc.Sessions()
	sessions.Cookie.Name = v.text["cookie_name"]
	sessions.Cookie.Secure = v.text["cookie_secure"] == "true"
	sessions.Cookie.Persist = true
	sessions.Lifetime, _ = parseDuration(v.text["cookie_expire"])
	if domains := v.lists["cookie_domains"]; len(domains) > 0 {
		sessions.Cookie.Domain = domains[0]
	}
	upstream, _ := url.Parse(v.lists["upstreams"][0])
	forward, err := oc.ReverseProxy(upstream, pc)
	if err != nil {
		p.close()
		return nil, err
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "OK") }
	mux.HandleFunc(v.text["ping_path"], ok)
	mux.HandleFunc(v.text["ready_path"], ok)
	mux.Handle("/", forward)
	p.handler = mux
	return p, nil
}

// libraryConfig maps the options onto httpoidc's Config and ProxyConfig.
func libraryConfig(v values) (httpoidc.Config, httpoidc.ProxyConfig, error) {
	var cfg httpoidc.Config
	var pc httpoidc.ProxyConfig
	prefix := strings.TrimSuffix(v.text["proxy_prefix"], "/")
	if err := checkUpstreams(v.lists["upstreams"]); err != nil {
		return cfg, pc, err
	}
	if path := v.text["client_secrets"]; path != "" {
		cfg.ClientSecretsFile = path
	} else {
		secret := v.text["client_secret"]
		if file := v.text["client_secret_file"]; secret == "" && file != "" {
			var err error
			if secret, err = readSecretFile("client_secret_file", file); err != nil {
				return cfg, pc, err
			}
		}
		for _, required := range []struct{ key, value string }{
			{"oidc_issuer_url", v.text["oidc_issuer_url"]}, {"client_id", v.text["client_id"]}, {"client_secret", secret},
		} {
			if required.value == "" {
				return cfg, pc, fmt.Errorf("%w: missing setting %s (or give --client-secrets)", errUsage, required.key)
			}
		}
		cfg.ClientSecrets = &httpoidc.ClientSecrets{
			ClientID: v.text["client_id"], ClientSecret: secret, Issuer: v.text["oidc_issuer_url"],
		}
	}
	secret := v.text["cookie_secret"]
	if file := v.text["cookie_secret_file"]; secret == "" && file != "" {
		var err error
		if secret, err = readSecretFile("cookie_secret_file", file); err != nil {
			return cfg, pc, err
		}
	}
	if secret == "" {
		return cfg, pc, fmt.Errorf("%w: missing setting cookie_secret", errUsage)
	}
	if _, err := decodeSecret(secret); err != nil {
		return cfg, pc, err
	}
	// The sessions themselves stay server-side (memory or Redis); the
	// secret seals the cookie of a login in progress. httpoidc wants 256
	// bits there: a shorter secret leaves it the key it derives from the
	// client secret, which every replica shares as well.
	if len(secret) >= 32 {
		cfg.CookieSecret = secret
	}
	cfg.Scopes = strings.Fields(v.text["scope"])
	cfg.RedirectURL = v.text["redirect_url"]
	cfg.CallbackPath = prefix + "/callback"
	if cfg.RedirectURL != "" {
		u, err := url.Parse(cfg.RedirectURL)
		if err != nil || u.Path == "" {
			return cfg, pc, fmt.Errorf("%w: redirect_url must be an absolute URL with a path under %s, got %q", errUsage, prefix, cfg.RedirectURL)
		}
		cfg.CallbackPath = u.Path
	}
	cfg.LogoutPath = prefix + "/sign_out"
	cfg.BackchannelLogoutPath = prefix + "/backchannel_logout"

	pc.Prefix = prefix
	pc.OmitUserHeaders = v.text["pass_user_headers"] != "true"
	pc.PreferEmailToUser = v.text["prefer_email_to_user"] == "true"
	pc.PassAccessToken = v.text["pass_access_token"] == "true"
	pc.PassAuthorizationHeader = v.text["pass_authorization_header"] == "true"
	pc.SetAuthorizationHeader = v.text["set_authorization_header"] == "true"
	pc.SetXAuthRequest = v.text["set_xauthrequest"] == "true"
	pc.AcceptBearerTokens = v.text["skip_jwt_bearer_tokens"] == "true"
	pc.SignInPage = v.text["skip_provider_button"] != "true"
	pc.UpstreamTimeout, _ = parseDuration(v.text["upstream_timeout"])
	for _, raw := range v.lists["trusted_proxy_ips"] {
		prefix, err := parseIPOrCIDR(raw)
		if err != nil {
			return cfg, pc, err
		}
		pc.TrustedProxies = append(pc.TrustedProxies, prefix)
	}
	if err := loginPolicy(v, &cfg); err != nil {
		return cfg, pc, err
	}
	return cfg, pc, nil
}

// loginPolicy maps who may log in onto httpoidc's policy, as oauth2-proxy
// decides it: email_domains (* for any), allowed_groups read from
// oidc_groups_claim, and a verified email unless
// insecure_oidc_allow_unverified_email.
func loginPolicy(v values, cfg *httpoidc.Config) error {
	domains := v.lists["email_domains"]
	if len(domains) == 0 {
		// oauth2-proxy lets nobody in without email_domains; say so
		// rather than start a proxy that refuses everyone.
		return fmt.Errorf("%w: missing setting email_domains (use * for any)", errUsage)
	}
	if !slices.Contains(domains, "*") {
		cfg.AllowedEmailDomains = domains
	}
	insecure := v.text["insecure_oidc_allow_unverified_email"] == "true"
	cfg.InsecureAllowUnverifiedEmail = insecure && len(cfg.AllowedEmailDomains) > 0
	cfg.RequireVerifiedEmail = !insecure
	cfg.AllowedGroups = v.lists["allowed_groups"]
	cfg.GroupsClaim = v.text["oidc_groups_claim"]
	return nil
}

// checkUpstreams accepts the one http(s) upstream at path / that
// oidc-proxy forwards to.
func checkUpstreams(upstreams []string) error {
	switch len(upstreams) {
	case 0:
		return fmt.Errorf("%w: missing setting upstreams", errUsage)
	case 1:
	default:
		return fmt.Errorf("%w: upstreams: only one upstream is supported, got %d", errUsage, len(upstreams))
	}
	u, err := url.Parse(upstreams[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: upstreams: want an http(s) URL, got %q", errUsage, upstreams[0])
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("%w: upstreams: only an upstream at path / is supported, got %q", errUsage, upstreams[0])
	}
	return nil
}

func parseIPOrCIDR(raw string) (netip.Prefix, error) {
	if prefix, err := netip.ParsePrefix(raw); err == nil {
		return prefix.Masked(), nil
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: trusted_proxy_ips: %q is neither an IP nor a CIDR", errUsage, raw)
	}
	return netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), nil
}

// serve listens and serves until ctx ends, then shuts down gracefully.
func (p *proxy) serve(ctx context.Context) error {
	l, err := net.Listen("tcp", p.address)
	if err != nil {
		return err
	}
	return p.serveListener(ctx, l)
}

func (p *proxy) serveListener(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	p.log.Info("oidc-proxy: listening", "address", l.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (p *proxy) close() {
	if p.oc != nil {
		p.oc.Close()
	}
	if p.redis != nil {
		_ = p.redis.Close()
	}
}

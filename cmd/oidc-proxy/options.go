package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// errUsage is wrapped by every error about the command line, the
// environment or the configuration file.
var errUsage = errors.New("oidc-proxy")

// kind is the type of an option's value.
type kind int

const (
	text kind = iota
	boolean
	list // repeated flags, comma-separated flags and environment, TOML arrays
	duration
)

// option is one setting, under oauth2-proxy's names: the flag, the key of
// the configuration file, and the environment variable OAUTH2_PROXY_ plus
// the key in upper case.
type option struct {
	flag, key string
	kind      kind
	def       string
	help      string
	// only, when set, is the one value accepted: oidc-proxy always behaves
	// so, and the option exists so that oauth2-proxy files keep working.
	only string
}

func (o option) env() string { return "OAUTH2_PROXY_" + strings.ToUpper(o.key) }

// options are every setting oidc-proxy reads, in the order -h prints them.
var options = []option{
	{flag: "config", key: "config", help: "oauth2-proxy configuration file (TOML) to read the other options from"},
	{flag: "client-secrets", key: "client_secrets", help: "Flask-OIDC client_secrets.json to take the client ID, secret, issuer and redirect URL from"},
	{flag: "provider", key: "provider", def: "oidc", only: "oidc", help: "OAuth provider type; only oidc (any OpenID Connect provider)"},
	{flag: "oidc-issuer-url", key: "oidc_issuer_url", help: "OpenID Connect issuer URL, e.g. https://your-tenant.auth0.com/"},
	{flag: "client-id", key: "client_id", help: "OAuth client ID"},
	{flag: "client-secret", key: "client_secret", help: "OAuth client secret"},
	{flag: "client-secret-file", key: "client_secret_file", help: "file holding the OAuth client secret"},
	{flag: "redirect-url", key: "redirect_url", help: "the OAuth redirect URL, e.g. https://app.example.com/oauth2/callback; its path must be under --proxy-prefix"},
	{flag: "scope", key: "scope", def: "openid email profile", help: "OAuth scopes to request, space separated"},
	{flag: "upstream", key: "upstreams", kind: list, help: "the http(s) URL of the application to protect (one; its path must be /)"},
	{flag: "http-address", key: "http_address", def: "127.0.0.1:4180", help: "address to listen on, [http://]host:port"},
	{flag: "proxy-prefix", key: "proxy_prefix", def: "/oauth2", help: "path prefix of the proxy's own endpoints"},
	{flag: "ping-path", key: "ping_path", def: "/ping", help: "path answering 200 OK for health checks"},
	{flag: "ready-path", key: "ready_path", def: "/ready", help: "path answering 200 OK once the provider is discovered"},
	{flag: "upstream-timeout", key: "upstream_timeout", kind: duration, def: "30s", help: "longest wait for the upstream's response headers before a 502"},
	{flag: "email-domain", key: "email_domains", kind: list, help: "email domains allowed to log in; * for any"},
	{flag: "allowed-group", key: "allowed_groups", kind: list, help: "groups allowed to log in (any one of them); empty for any"},
	{flag: "oidc-groups-claim", key: "oidc_groups_claim", def: "groups", help: "claim holding the user's groups"},
	{flag: "insecure-oidc-allow-unverified-email", key: "insecure_oidc_allow_unverified_email", kind: boolean, def: "false", help: "let users in whose email the provider has not verified (email_verified false)"},
	{flag: "cookie-secret", key: "cookie_secret", help: "secret of 16, 24 or 32 bytes (or their base64) protecting the session cookie; required"},
	{flag: "cookie-secret-file", key: "cookie_secret_file", help: "file holding the cookie secret"},
	{flag: "cookie-name", key: "cookie_name", def: "_oauth2_proxy", help: "name of the session cookie"},
	{flag: "cookie-domain", key: "cookie_domains", kind: list, help: "domain of the session cookie (one); empty for the host the browser asked for"},
	{flag: "cookie-secure", key: "cookie_secure", kind: boolean, def: "true", help: "send the session cookie over HTTPS only"},
	{flag: "cookie-expire", key: "cookie_expire", kind: duration, def: "168h", help: "lifetime of a session"},
	{flag: "cookie-httponly", key: "cookie_httponly", kind: boolean, def: "true", only: "true", help: "the session cookie is always HttpOnly"},
	{flag: "cookie-path", key: "cookie_path", def: "/", only: "/", help: "the session cookie's path is always /"},
	{flag: "session-store-type", key: "session_store_type", def: "cookie", help: "cookie (sessions kept in this process) or redis (shared by replicas; set --redis-url)"},
	{flag: "redis-url", key: "redis_url", help: "redis:// or rediss:// URL of a Redis shared by replicas for sessions; implies --session-store-type=redis"},
	{flag: "redis-connection-url", key: "redis_connection_url", help: "oauth2-proxy's name for --redis-url"},
	{flag: "pass-user-headers", key: "pass_user_headers", kind: boolean, def: "true", help: "send X-Forwarded-User, -Email, -Groups and -Preferred-Username upstream"},
	{flag: "prefer-email-to-user", key: "prefer_email_to_user", kind: boolean, def: "false", help: "send the email in X-Forwarded-User instead of the subject"},
	{flag: "pass-access-token", key: "pass_access_token", kind: boolean, def: "false", help: "send the access token upstream in X-Forwarded-Access-Token"},
	{flag: "pass-authorization-header", key: "pass_authorization_header", kind: boolean, def: "false", help: "send Authorization: Bearer <ID token> upstream"},
	{flag: "set-authorization-header", key: "set_authorization_header", kind: boolean, def: "false", help: "answer /oauth2/auth with Authorization: Bearer <ID token>"},
	{flag: "set-xauthrequest", key: "set_xauthrequest", kind: boolean, def: "false", help: "answer /oauth2/auth with X-Auth-Request-User, -Email, -Groups, -Preferred-Username (and -Access-Token)"},
	{flag: "pass-host-header", key: "pass_host_header", kind: boolean, def: "true", only: "true", help: "the upstream always gets the Host header the client sent"},
	{flag: "proxy-websockets", key: "proxy_websockets", kind: boolean, def: "true", only: "true", help: "WebSockets are always proxied"},
	{flag: "skip-provider-button", key: "skip_provider_button", kind: boolean, def: "false", help: "send anonymous browsers to the provider at once instead of showing a sign-in page"},
	{flag: "skip-jwt-bearer-tokens", key: "skip_jwt_bearer_tokens", kind: boolean, def: "false", help: "let API clients in with a bearer access token (JWT or introspected) issued for this client"},
	{flag: "reverse-proxy", key: "reverse_proxy", kind: boolean, def: "false", help: "accepted for compatibility: X-Forwarded-* are believed from --trusted-proxy-ip addresses, whatever its value"},
	{flag: "trusted-proxy-ip", key: "trusted_proxy_ips", kind: list, help: "IPs or CIDRs whose X-Forwarded-For, -Host and -Proto are believed (default: 127.0.0.0/8 and ::1)"},
	{flag: "code-challenge-method", key: "code_challenge_method", def: "S256", only: "S256", help: "PKCE is always used, with S256"},
}

// unsupported are oauth2-proxy options oidc-proxy refuses, with why.
var unsupported = map[string]string{
	"https_address":                          "terminate TLS in front (HAProxy, nginx) or use a TLS-terminating load balancer",
	"tls_cert_file":                          "terminate TLS in front (HAProxy, nginx)",
	"tls_key_file":                           "terminate TLS in front (HAProxy, nginx)",
	"skip_auth_regex":                        "every request needs a login; route public paths around the proxy in HAProxy or nginx",
	"skip_auth_routes":                       "every request needs a login; route public paths around the proxy in HAProxy or nginx",
	"skip_auth_preflight":                    "preflights need a login too; route them around the proxy if the application must answer them",
	"whitelist_domains":                      "redirects after login go to paths of the same site only",
	"authenticated_emails_file":              "use email_domains and allowed_groups",
	"htpasswd_file":                          "only OpenID Connect logins",
	"basic_auth_password":                    "only OpenID Connect logins",
	"pass_basic_auth":                        "only OpenID Connect logins: the identity is in X-Forwarded-User",
	"set_basic_auth":                         "only OpenID Connect logins: the identity is in X-Auth-Request-User",
	"cookie_refresh":                         "tokens are refreshed when the access token expires",
	"cookie_samesite":                        "the session cookie is always SameSite=Lax",
	"cookie_csrf_per_request":                "each login has its own state, nonce and PKCE verifier already",
	"cookie_csrf_expire":                     "pending logins expire after 10 minutes",
	"session_cookie_minimal":                 "tokens are kept server-side, never in the cookie",
	"skip_oidc_discovery":                    "the provider must publish OpenID Connect Discovery",
	"oidc_jwks_url":                          "keys come from the provider's discovery document",
	"login_url":                              "endpoints come from the provider's discovery document",
	"redeem_url":                             "endpoints come from the provider's discovery document",
	"profile_url":                            "endpoints come from the provider's discovery document",
	"insecure_oidc_skip_nonce":               "the nonce is always checked (OpenID Connect Core 3.1.3.7)",
	"insecure_oidc_skip_issuer_verification": "the issuer is always checked (OpenID Connect Core 3.1.3.7)",
	"ssl_insecure_skip_verify":               "provider certificates are always verified",
	"ssl_upstream_insecure_skip_verify":      "upstream certificates are always verified",
	"extra_jwt_issuers":                      "bearer tokens are accepted from the one configured issuer",
	"custom_templates_dir":                   "pages are built in",
	"banner":                                 "pages are built in",
	"footer":                                 "pages are built in",
	"trusted_ips":                            "no address may skip the login",
	"real_client_ip_header":                  "the client's address is taken from X-Forwarded-For of trusted proxies",
	"redis_use_sentinel":                     "give the address of a Redis (or a proxy in front of Sentinel) in --redis-url",
	"redis_use_cluster":                      "give the address of one Redis in --redis-url",
	"request_logging":                        "log requests in HAProxy or nginx",
	"auth_logging":                           "logins and logouts are always logged",
	"standard_logging":                       "logs go to standard error",
	"metrics_address":                        "not built in",
	"flush_interval":                         "streams are flushed as they arrive",
	"encode_state":                           "state is an opaque random value",
	"api_routes":                             "requests that are not page loads get 401 rather than a redirect everywhere",
	"approval_prompt":                        "send prompt through the provider's settings",
	"prompt":                                 "send prompt through the provider's settings",
	"oidc_email_claim":                       "the email is the email claim",
	"user_id_claim":                          "X-Forwarded-User is the sub claim (or the email with prefer_email_to_user)",
	"backend_logout_url":                     "logout uses the provider's end_session_endpoint (RP-Initiated Logout)",
	"signature_key":                          "the upstream can trust the headers because the proxy removes any the client sent",
}

// values holds each option's value as text (lists joined by commas are
// kept apart as slices), and where it came from for error messages.
type values struct {
	text  map[string]string
	lists map[string][]string
}

func byKey(key string) (option, bool) {
	i := slices.IndexFunc(options, func(o option) bool { return o.key == key })
	if i < 0 {
		return option{}, false
	}
	return options[i], true
}

// parseOptions reads the options: defaults, then the file named by
// --config, then OAUTH2_PROXY_* variables, then flags, each overriding the
// one before, as oauth2-proxy does.
func parseOptions(args []string, environ []string, usage io.Writer) (values, error) {
	v := values{text: map[string]string{}, lists: map[string][]string{}}
	for _, o := range options {
		if o.kind == list {
			continue
		}
		v.text[o.key] = o.def
	}
	flags := flag.NewFlagSet("oidc-proxy", flag.ContinueOnError)
	flags.SetOutput(usage)
	flags.Usage = func() { printUsage(usage) }
	fromFlags := values{text: map[string]string{}, lists: map[string][]string{}}
	for _, o := range options {
		flags.Var(&flagValue{o: o, v: fromFlags}, o.flag, o.help)
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return values{}, err
		}
		return values{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if flags.NArg() > 0 {
		return values{}, fmt.Errorf("%w: unexpected argument %q: options are --name=value", errUsage, flags.Arg(0))
	}
	fromEnv, err := envValues(environ)
	if err != nil {
		return values{}, err
	}
	config := fromFlags.text["config"]
	if config == "" {
		config = fromEnv.text["config"]
	}
	if config != "" {
		fromFile, err := fileValues(config)
		if err != nil {
			return values{}, err
		}
		v.merge(fromFile)
	}
	v.merge(fromEnv)
	v.merge(fromFlags)
	for _, o := range options {
		if o.only != "" && v.text[o.key] != o.only {
			return values{}, fmt.Errorf("%w: %s: only %q is supported (%s)", errUsage, o.key, o.only, o.help)
		}
	}
	return v, nil
}

func (v values) merge(other values) {
	for k, s := range other.text {
		v.text[k] = s
	}
	for k, l := range other.lists {
		v.lists[k] = l
	}
}

// set records one value of o, checked for its kind.
func (v values) set(o option, raw string, appendList bool) error {
	switch o.kind {
	case list:
		items := splitList(raw)
		if appendList {
			items = append(v.lists[o.key], items...)
		}
		v.lists[o.key] = items
		return nil
	case boolean:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%w: %s must be true or false, got %q", errUsage, o.key, raw)
		}
		raw = strconv.FormatBool(b)
	case duration:
		if _, err := parseDuration(raw); err != nil {
			return fmt.Errorf("%w: %s must be a duration such as 30s or 168h, got %q", errUsage, o.key, raw)
		}
	}
	v.text[o.key] = raw
	return nil
}

// splitList reads a list given as one comma-separated value, leaving out
// blanks around and between the items.
func splitList(raw string) []string {
	var items []string
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parseDuration reads a Go duration, or a whole number of seconds as
// oauth2-proxy files sometimes give.
func parseDuration(raw string) (time.Duration, error) {
	if n, err := strconv.Atoi(raw); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(raw)
}

// keyError names a key oidc-proxy does not take, and why when it is an
// oauth2-proxy option it refuses.
func keyError(where, key string) error {
	if reason, ok := unsupported[key]; ok {
		return fmt.Errorf("%w: %s: option %q is not supported: %s", errUsage, where, key, reason)
	}
	return fmt.Errorf("%w: %s: unknown option %q", errUsage, where, key)
}

// envValues reads the OAUTH2_PROXY_* variables; any of them that names no
// option is an error, as a misspelt one would otherwise be ignored.
func envValues(environ []string) (values, error) {
	v := values{text: map[string]string{}, lists: map[string][]string{}}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		suffix, ok := strings.CutPrefix(name, "OAUTH2_PROXY_")
		if !ok {
			continue
		}
		key := strings.ToLower(suffix)
		o, known := byKey(key)
		if !known {
			return values{}, keyError("environment variable "+name, key)
		}
		if err := v.set(o, value, false); err != nil {
			return values{}, fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return v, nil
}

// fileValues reads an oauth2-proxy configuration file: TOML whose keys
// are the options' keys.
func fileValues(path string) (values, error) {
	var doc map[string]any
	meta, err := toml.DecodeFile(path, &doc)
	if err != nil {
		return values{}, fmt.Errorf("%w: reading %s: %w", errUsage, path, err)
	}
	v := values{text: map[string]string{}, lists: map[string][]string{}}
	keys := meta.Keys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		if len(k) != 1 {
			continue // members of a table already reported by its name
		}
		key := k[0]
		o, known := byKey(key)
		if !known || key == "config" {
			return values{}, keyError(path, key)
		}
		raw, err := tomlText(doc[key], o.kind == list)
		if err != nil {
			return values{}, fmt.Errorf("%w: %s: %s: %w", errUsage, path, key, err)
		}
		if o.kind == list {
			v.lists[key] = raw
			continue
		}
		if err := v.set(o, raw[0], false); err != nil {
			return values{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return v, nil
}

// tomlText turns a TOML value into the option's text: a string, a bool or
// a number; or, for a list, an array of strings or a single string.
func tomlText(value any, isList bool) ([]string, error) {
	switch x := value.(type) {
	case string:
		if isList {
			return splitList(x), nil
		}
		return []string{x}, nil
	case bool:
		return []string{strconv.FormatBool(x)}, nil
	case int64:
		return []string{strconv.FormatInt(x, 10)}, nil
	case []any:
		if !isList {
			return nil, errors.New("want a single value, not an array")
		}
		items := make([]string, 0, len(x))
		for _, item := range x {
			s, ok := item.(string)
			if !ok {
				return nil, errors.New("want an array of strings")
			}
			items = append(items, s)
		}
		return items, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", value)
}

// flagValue records a flag into the values of the command line.
type flagValue struct {
	o option
	v values
}

func (f *flagValue) String() string { return "" }

func (f *flagValue) Set(s string) error { return f.v.set(f.o, s, true) }

// IsBoolFlag lets boolean options be given as --name alone.
func (f *flagValue) IsBoolFlag() bool { return f.o.kind == boolean }

// printUsage documents every option: flag, configuration key,
// environment variable, default and meaning.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: oidc-proxy [--name=value ...]

oidc-proxy logs users in with OpenID Connect and forwards their requests to
one upstream application with the user's identity in oauth2-proxy's headers.
It reads oauth2-proxy's options: flags, OAUTH2_PROXY_* environment variables
and a configuration file (--config) with the same keys. Flags override the
environment, which overrides the file.

Options (flag / file key / environment variable):
`)
	for _, o := range options {
		value := ""
		switch o.kind {
		case text, duration:
			value = " value"
		case list:
			value = " value[,value...]"
		}
		fmt.Fprintf(w, "\n  --%s%s\n      %s\n      key %s, env %s", o.flag, value, o.help, o.key, o.env())
		if o.def != "" {
			fmt.Fprintf(w, ", default %s", o.def)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, `
Other oauth2-proxy options are refused with the reason; the README's
migration table lists them.
`)
}

// decodeSecret reads a cookie secret as oauth2-proxy does: 16, 24 or 32
// bytes, given as they are or in (URL-safe) base64.
func decodeSecret(secret string) ([]byte, error) {
	valid := func(b []byte) bool { return len(b) == 16 || len(b) == 24 || len(b) == 32 }
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(secret); err == nil && valid(b) {
			return b, nil
		}
	}
	if valid([]byte(secret)) {
		return []byte(secret), nil
	}
	return nil, fmt.Errorf("%w: cookie_secret must be 16, 24 or 32 bytes, or their base64; got %d bytes", errUsage, len(secret))
}

// readSecretFile reads a secret from a file, without its final newline.
func readSecretFile(key, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", errUsage, key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

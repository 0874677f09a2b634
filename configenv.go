package httpoidc

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ConfigFromEnv returns a Config read from the OIDC_* environment variables
// Flask-OIDC uses: OIDC_CLIENT_SECRETS (a path, or the JSON document
// itself), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_SERVER_METADATA_URL
// (Flask-OIDC 2.x: they override the secrets' values, or replace the
// secrets altogether when all three are set), OIDC_SCOPES (space
// separated), OIDC_CLOCK_SKEW (seconds), OIDC_USER_INFO_ENABLED,
// OIDC_RESOURCE_SERVER_ONLY, OIDC_INTROSPECTION_AUTH_METHOD, OIDC_ENABLED,
// OIDC_TESTING_PROFILE (JSON), OIDC_OVERWRITE_REDIRECT_URI,
// OIDC_CALLBACK_ROUTE (the callback path), OIDC_PRESERVE_NEXT_ON_ERROR and
// OIDC_REQUIRE_VERIFIED_EMAIL; and httpoidc's own
// OIDC_TOKEN_ENDPOINT_AUTH_METHOD, OIDC_CALLBACK_PATH, OIDC_LOGOUT_PATH,
// OIDC_POST_LOGOUT_REDIRECT_URI, OIDC_AUDIENCE, OIDC_ALLOWED_CLIENTS,
// OIDC_ACCESS_TOKEN_VALIDATION, OIDC_LAZY_DISCOVERY, OIDC_BASE_PATH,
// OIDC_END_SESSION_URL, OIDC_LOGOUT_PARAMS (JSON), OIDC_COOKIE_SECRET, OIDC_TESTING,
// OIDC_CLIENT_KEY_FILE, OIDC_USE_PAR, OIDC_DPOP, OIDC_DPOP_KEY_FILE,
// OIDC_REQUIRE_DPOP, OIDC_REQUIRE_DPOP_NONCE,
// OIDC_ALLOWED_EMAIL_DOMAINS and OIDC_ALLOWED_GROUPS (comma or space
// separated), OIDC_GROUPS_CLAIM and
// OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL (oauth2-proxy users set its
// equivalent in their environment); the other Insecure settings have no
// variable, on purpose. Unset variables leave the defaults. A value that
// cannot be parsed, or a Flask-OIDC 1.x setting that no longer exists
// (OIDC_GOOGLE_APPS_DOMAIN, OIDC_VALID_ISSUERS, OIDC_RESOURCE_CHECK_AUD,
// the OIDC_ID_TOKEN_COOKIE_* settings, ...), gives an error wrapping
// ErrInvalidConfig that names the variable and what replaces it.
func ConfigFromEnv() (Config, error) {
	var c Config
	env := envReader{}
	for _, removed := range removedSettings {
		if _, set := os.LookupEnv(removed.name); set {
			return Config{}, fmt.Errorf("%w: %s is a Flask-OIDC 1.x setting that no longer exists: %s", ErrInvalidConfig, removed.name, removed.instead)
		}
	}
	c.ClientKeyFile = env.str("OIDC_CLIENT_KEY_FILE")
	c.UsePAR = env.boolean("OIDC_USE_PAR", false)
	c.DPoP = env.boolean("OIDC_DPOP", false)
	c.DPoPKeyFile = env.str("OIDC_DPOP_KEY_FILE")
	c.RequireDPoP = env.boolean("OIDC_REQUIRE_DPOP", false)
	c.RequireDPoPNonce = env.boolean("OIDC_REQUIRE_DPOP_NONCE", false)
	if v := env.str("OIDC_CLIENT_SECRETS"); strings.HasPrefix(strings.TrimSpace(v), "{") {
		secrets, err := parseClientSecrets([]byte(v), c.ClientKeyFile == "")
		if err != nil {
			return Config{}, fmt.Errorf("OIDC_CLIENT_SECRETS: %w", err)
		}
		c.ClientSecrets = secrets
	} else {
		c.ClientSecretsFile = v
	}
	if err := c.secretsFromEnv(); err != nil {
		return Config{}, err
	}
	c.Scopes = strings.Fields(env.str("OIDC_SCOPES"))
	if skew := env.str("OIDC_CLOCK_SKEW"); skew != "" {
		seconds, err := strconv.Atoi(skew)
		if err != nil {
			env.fail("OIDC_CLOCK_SKEW", "a whole number of seconds")
		}
		c.ClockSkew = time.Duration(seconds) * time.Second
		if seconds == 0 {
			c.ClockSkew = -1
		}
	}
	c.DisableUserInfo = !env.boolean("OIDC_USER_INFO_ENABLED", true)
	c.ResourceServerOnly = env.boolean("OIDC_RESOURCE_SERVER_ONLY", false)
	c.IntrospectionAuthMethod = env.str("OIDC_INTROSPECTION_AUTH_METHOD")
	c.ClientAuthMethod = env.str("OIDC_TOKEN_ENDPOINT_AUTH_METHOD")
	c.Disabled = !env.boolean("OIDC_ENABLED", true)
	c.Testing = env.boolean("OIDC_TESTING", false)
	if profile := env.str("OIDC_TESTING_PROFILE"); profile != "" {
		if err := json.Unmarshal([]byte(profile), &c.TestingProfile); err != nil {
			env.fail("OIDC_TESTING_PROFILE", "a JSON object")
		}
	}
	c.RedirectURL = env.str("OIDC_OVERWRITE_REDIRECT_URI")
	c.PreserveNextOnError = env.boolean("OIDC_PRESERVE_NEXT_ON_ERROR", false)
	c.CallbackPath = env.str("OIDC_CALLBACK_PATH")
	if route := env.str("OIDC_CALLBACK_ROUTE"); route != "" {
		if c.CallbackPath != "" && c.CallbackPath != route {
			env.fail("OIDC_CALLBACK_ROUTE", "the same as OIDC_CALLBACK_PATH, or unset")
		}
		c.CallbackPath = route
	}
	c.BasePath = env.str("OIDC_BASE_PATH")
	c.EndSessionURL = env.str("OIDC_END_SESSION_URL")
	if params := env.str("OIDC_LOGOUT_PARAMS"); params != "" {
		if err := json.Unmarshal([]byte(params), &c.LogoutParams); err != nil {
			env.fail("OIDC_LOGOUT_PARAMS", `a JSON object of strings, such as {"returnTo": "{post_logout_redirect_uri}"}`)
		}
	}
	c.AllowedEmailDomains = envList(env.str("OIDC_ALLOWED_EMAIL_DOMAINS"))
	c.RequireVerifiedEmail = env.boolean("OIDC_REQUIRE_VERIFIED_EMAIL", false)
	c.InsecureAllowUnverifiedEmail = env.boolean("OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL", false)
	c.AllowedGroups = envList(env.str("OIDC_ALLOWED_GROUPS"))
	c.GroupsClaim = env.str("OIDC_GROUPS_CLAIM")
	c.LogoutPath = env.str("OIDC_LOGOUT_PATH")
	c.PostLogoutRedirectURL = env.str("OIDC_POST_LOGOUT_REDIRECT_URI")
	c.Audience = env.str("OIDC_AUDIENCE")
	c.AllowedClients = strings.FieldsFunc(env.str("OIDC_ALLOWED_CLIENTS"), func(r rune) bool { return r == ',' || r == ' ' })
	c.AccessTokenValidation = env.str("OIDC_ACCESS_TOKEN_VALIDATION")
	c.LazyDiscovery = env.boolean("OIDC_LAZY_DISCOVERY", false)
	c.CookieSecret = env.str("OIDC_COOKIE_SECRET")
	if env.err != nil {
		return Config{}, env.err
	}
	return c, nil
}

// removedSettings are the Flask-OIDC 1.x settings that are gone, with what
// replaces each. Ignoring them silently could open the application
// (OIDC_GOOGLE_APPS_DOMAIN restricted who may log in).
var removedSettings = []struct{ name, instead string }{
	{"OIDC_GOOGLE_APPS_DOMAIN", "set OIDC_ALLOWED_EMAIL_DOMAINS (Config.AllowedEmailDomains), which also requires email_verified"},
	{"OIDC_VALID_ISSUERS", "the issuer is the one of the client secrets (\"web.issuer\") or OIDC_SERVER_METADATA_URL, and only its tokens are accepted"},
	{"OIDC_RESOURCE_CHECK_AUD", "audiences are always checked: set OIDC_AUDIENCE (Config.Audience) if it is not the client ID"},
	{"OIDC_ID_TOKEN_COOKIE_NAME", "tokens are kept in the server-side session: configure its cookie with Config.Sessions"},
	{"OIDC_ID_TOKEN_COOKIE_PATH", "tokens are kept in the server-side session: configure its cookie with Config.Sessions"},
	{"OIDC_ID_TOKEN_COOKIE_TTL", "tokens are kept in the server-side session: set its lifetime with Config.Sessions"},
	{"OIDC_COOKIE_SECURE", "the session cookie is Secure unless the redirect URL is plain http on loopback; change it with Config.Sessions"},
	{"OIDC_CREDENTIALS_STORE", "logins live in the session store: Config.SessionStore"},
	{"OIDC_OPENID_REALM", "OpenID 2.0 realms have no equivalent in OpenID Connect: remove it"},
	{"OIDC_USERINFO_URL", "the userinfo endpoint comes from discovery, or from \"web.userinfo_uri\" in the client secrets"},
	{"OIDC_TOKEN_TYPE_HINT", "introspection needs no hint: remove it"},
}

// secretsFromEnv applies Flask-OIDC 2.x's OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET and OIDC_SERVER_METADATA_URL: over the client
// secrets when there are some, else as the client secrets.
func (c *Config) secretsFromEnv() error {
	id, secret, metadata := os.Getenv("OIDC_CLIENT_ID"), os.Getenv("OIDC_CLIENT_SECRET"), os.Getenv("OIDC_SERVER_METADATA_URL")
	if id == "" && secret == "" && metadata == "" {
		return nil
	}
	issuer := ""
	if metadata != "" {
		const wellKnown = "/.well-known/openid-configuration"
		if !strings.HasSuffix(metadata, wellKnown) {
			return fmt.Errorf("%w: OIDC_SERVER_METADATA_URL must end in %s, got %q", ErrInvalidConfig, wellKnown, metadata)
		}
		issuer = strings.TrimSuffix(metadata, wellKnown)
	}
	needSecret := c.ClientKeyFile == "" && c.ClientKey == nil
	s := c.ClientSecrets
	if s == nil && c.ClientSecretsFile != "" {
		// A client authenticating with a key (private_key_jwt) has no
		// client secret in its file.
		loaded, err := loadClientSecrets(c.ClientSecretsFile, needSecret)
		if err != nil {
			return err
		}
		s = loaded
	}
	if s == nil {
		s = &ClientSecrets{}
	}
	for _, v := range []struct {
		dst   *string
		value string
	}{{&s.ClientID, id}, {&s.ClientSecret, secret}, {&s.Issuer, issuer}} {
		if v.value != "" {
			*v.dst = v.value
		}
	}
	if err := s.validate(needSecret); err != nil {
		return fmt.Errorf("OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_SERVER_METADATA_URL (without OIDC_CLIENT_SECRETS, all three are needed): %w", err)
	}
	c.ClientSecrets, c.ClientSecretsFile = s, ""
	return nil
}

// envList splits a comma or space separated setting.
func envList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// envReader collects the first parse error so ConfigFromEnv reads linearly.
type envReader struct{ err error }

func (e *envReader) str(name string) string { return os.Getenv(name) }

func (e *envReader) fail(name, want string) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: %s must be %s", ErrInvalidConfig, name, want)
	}
}

func (e *envReader) boolean(name string, def bool) bool {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(name, "true or false")
		return def
	}
	return b
}

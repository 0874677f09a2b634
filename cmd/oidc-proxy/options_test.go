package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// guideStartLine is the command of the guide's compose.yaml, unchanged.
var guideStartLine = []string{"--insecure-oidc-allow-unverified-email=true", "--skip-provider-button=true"}

// guideConfig writes the guide's oauth2-proxy.cfg with its placeholders
// replaced, and returns its path.
func guideConfig(t *testing.T, replace map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "oauth2-proxy.cfg"))
	require.NoError(t, err)
	defaults := map[string]string{
		"<AUTH0_CLIENT_ID>": "proxy", "<AUTH0_CLIENT_SECRET>": "proxy-secret",
		"<REDIRECT_URL>": "https://127.0.0.1:8443/oauth2/callback", "<ISSUER>": "http://127.0.0.1:1",
		"<RANDOM_COOKIE_SECRET>": "0123456789abcdef0123456789abcdef", "<UPSTREAM>": "http://127.0.0.1:7860/",
		"<HTTP_ADDRESS>": "127.0.0.1:4180",
	}
	text := string(data)
	for placeholder, value := range defaults {
		if v, ok := replace[placeholder]; ok {
			value = v
		}
		text = strings.ReplaceAll(text, placeholder, value)
	}
	path := filepath.Join(t.TempDir(), "oauth2-proxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestProxyOptionsGuideStartLine(t *testing.T) {
	cfg := guideConfig(t, nil)
	v, err := parseOptions(append([]string{"--config", cfg}, guideStartLine...), nil, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "true", v.text["insecure_oidc_allow_unverified_email"])
	require.Equal(t, "true", v.text["skip_provider_button"])
	require.Equal(t, []string{"example.com"}, v.lists["email_domains"])
	require.Equal(t, []string{"http://127.0.0.1:7860/"}, v.lists["upstreams"])
	require.Equal(t, "127.0.0.1:4180", v.text["http_address"])

	libCfg, pc, err := libraryConfig(v)
	require.NoError(t, err)
	require.Equal(t, "/oauth2/callback", libCfg.CallbackPath)
	require.Equal(t, "/oauth2/sign_out", libCfg.LogoutPath)
	require.Equal(t, "proxy", libCfg.ClientSecrets.ClientID)
	require.Equal(t, []string{"openid", "email", "profile"}, libCfg.Scopes)
	require.Equal(t, "0123456789abcdef0123456789abcdef", libCfg.CookieSecret)
	require.Equal(t, []string{"example.com"}, libCfg.AllowedEmailDomains)
	require.True(t, libCfg.InsecureAllowUnverifiedEmail)
	require.False(t, libCfg.RequireVerifiedEmail)
	require.True(t, pc.PassAccessToken)
	require.True(t, pc.PassAuthorizationHeader)
	require.True(t, pc.SetAuthorizationHeader)
	require.False(t, pc.OmitUserHeaders)
	require.False(t, pc.SignInPage)
}

func TestProxyOptionsPrecedence(t *testing.T) {
	cfg := guideConfig(t, nil)
	env := []string{"OAUTH2_PROXY_CLIENT_ID=from-env", "OAUTH2_PROXY_SCOPE=openid from-env", "PATH=/bin"}
	v, err := parseOptions([]string{"--config=" + cfg, "--scope", "openid from-flag"}, env, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "from-env", v.text["client_id"], "the environment overrides the file")
	require.Equal(t, "openid from-flag", v.text["scope"], "flags override the environment")
	require.Equal(t, "proxy-secret", v.text["client_secret"], "the file fills in the rest")

	v, err = parseOptions([]string{"--email-domain=a.example", "--email-domain", "b.example,c.example"}, nil, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, []string{"a.example", "b.example", "c.example"}, v.lists["email_domains"])
}

func TestProxyOptionsErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		args  []string
		env   []string
		error string
	}{
		{name: "unknown file key", file: "email_domain = \"example.com\"\n", error: `unknown option "email_domain"`},
		{name: "unsupported file key", file: "skip_auth_regex = [\"^/public\"]\n", error: `option "skip_auth_regex" is not supported: every request needs a login`},
		{name: "unknown variable", env: []string{"OAUTH2_PROXY_UPSTREAM_URL=http://x"}, error: `environment variable OAUTH2_PROXY_UPSTREAM_URL: unknown option "upstream_url"`},
		{name: "bad boolean", file: "cookie_secure = \"maybe\"\n", error: "cookie_secure must be true or false"},
		{name: "bad duration", args: []string{"--cookie-expire=forever"}, error: "cookie_expire must be a duration"},
		{name: "other provider", args: []string{"--provider=github"}, error: `provider: only "oidc" is supported`},
		{name: "no PKCE", file: "code_challenge_method = \"plain\"\n", error: `code_challenge_method: only "S256"`},
		{name: "array for a single value", file: "client_id = [\"a\", \"b\"]\n", error: "client_id: want a single value"},
		{name: "not TOML", file: "client_id = \n", error: "reading"},
		{name: "argument", args: []string{"extra"}, error: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				path := filepath.Join(t.TempDir(), "proxy.cfg")
				require.NoError(t, os.WriteFile(path, []byte(tt.file), 0o600))
				args = append([]string{"--config", path}, args...)
			}
			_, err := parseOptions(args, tt.env, &bytes.Buffer{})
			require.ErrorIs(t, err, errUsage)
			require.ErrorContains(t, err, tt.error)
		})
	}
}

func TestProxyOptionsMapping(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		cfg   map[string]string
		error string
	}{
		{name: "no cookie secret", args: []string{"--cookie-secret="}, error: "missing setting cookie_secret"},
		{name: "short cookie secret", args: []string{"--cookie-secret=short"}, error: "cookie_secret must be 16, 24 or 32 bytes"},
		{name: "two upstreams", args: []string{"--upstream=http://127.0.0.1:2/", "--upstream=http://127.0.0.1:3/"}, error: "only one upstream"},
		{name: "upstream with a path", cfg: map[string]string{"<UPSTREAM>": "http://127.0.0.1:7860/app/"}, error: "only an upstream at path / is supported"},
		{name: "file upstream", cfg: map[string]string{"<UPSTREAM>": "file:///var/www"}, error: "want an http(s) URL"},
		{name: "no issuer", cfg: map[string]string{"<ISSUER>": ""}, error: "missing setting oidc_issuer_url"},
		{name: "no email domains", args: []string{"--email-domain="}, error: "missing setting email_domains"},
		{name: "bad trusted proxy", args: []string{"--trusted-proxy-ip=haproxy"}, error: `"haproxy" is neither an IP nor a CIDR`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseOptions(append([]string{"--config", guideConfig(t, tt.cfg)}, tt.args...), nil, &bytes.Buffer{})
			require.NoError(t, err)
			_, _, err = libraryConfig(v)
			require.ErrorIs(t, err, errUsage)
			require.ErrorContains(t, err, tt.error)
		})
	}

	v, err := parseOptions([]string{"--config", guideConfig(t, nil), "--trusted-proxy-ip=10.0.0.0/8,192.0.2.1"}, nil, &bytes.Buffer{})
	require.NoError(t, err)
	_, pc, err := libraryConfig(v)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}, pc.TrustedProxies)
}

func TestProxyHelpDocumentsEveryOption(t *testing.T) {
	var out bytes.Buffer
	code := run(t.Context(), []string{"-h"}, nil, &out)
	require.Equal(t, 0, code)
	for _, o := range options {
		require.Contains(t, out.String(), "--"+o.flag, o.key)
		require.Contains(t, out.String(), "key "+o.key+", env "+o.env(), o.key)
	}
}

// TestProxyMigrationTableInREADME keeps the README's oauth2-proxy
// migration table in step with the options oidc-proxy reads and refuses.
func TestProxyMigrationTableInREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	for _, o := range options {
		require.Contains(t, string(readme), "| `"+o.key+"` | `--"+o.flag+"` |", "README.md lacks the row of %s", o.key)
	}
	for key := range unsupported {
		require.Contains(t, string(readme), "| `"+key+"` | — | Not supported: "+unsupported[key]+". |", "README.md lacks the row of %s", key)
	}
}

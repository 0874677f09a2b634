package httpoidc_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("OIDC_CLIENT_SECRETS", `{"web":{"client_id":"id","client_secret":"s","issuer":"https://op.example"}}`)
	t.Setenv("OIDC_SCOPES", "openid email offline_access")
	t.Setenv("OIDC_CLOCK_SKEW", "30")
	t.Setenv("OIDC_USER_INFO_ENABLED", "false")
	t.Setenv("OIDC_RESOURCE_SERVER_ONLY", "true")
	t.Setenv("OIDC_INTROSPECTION_AUTH_METHOD", "client_secret_basic")
	t.Setenv("OIDC_ENABLED", "False")
	t.Setenv("OIDC_TESTING_PROFILE", `{"sub":"t","email":"t@example.com"}`)
	t.Setenv("OIDC_OVERWRITE_REDIRECT_URI", "https://app.example/cb")
	t.Setenv("OIDC_PRESERVE_NEXT_ON_ERROR", "1")
	t.Setenv("OIDC_ALLOWED_CLIENTS", "web, mobile  cli")
	t.Setenv("OIDC_TESTING", "true")
	cfg, err := httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, "id", cfg.ClientSecrets.ClientID)
	require.Equal(t, []string{"openid", "email", "offline_access"}, cfg.Scopes)
	require.Equal(t, 30*time.Second, cfg.ClockSkew)
	require.True(t, cfg.DisableUserInfo)
	require.True(t, cfg.ResourceServerOnly)
	require.Equal(t, httpoidc.AuthClientSecretBasic, cfg.IntrospectionAuthMethod)
	require.True(t, cfg.Disabled)
	require.Equal(t, "t@example.com", cfg.TestingProfile["email"])
	require.Equal(t, "https://app.example/cb", cfg.RedirectURL)
	require.True(t, cfg.PreserveNextOnError)
	require.Equal(t, []string{"web", "mobile", "cli"}, cfg.AllowedClients)
	require.True(t, cfg.Testing)

	t.Setenv("OIDC_CLIENT_SECRETS", "/etc/app/client_secrets.json")
	cfg, err = httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, "/etc/app/client_secrets.json", cfg.ClientSecretsFile)
}

func TestConfigFromEnvErrorsNameTheVariable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"OIDC_CLOCK_SKEW", "a minute"},
		{"OIDC_ENABLED", "maybe"},
		{"OIDC_TESTING", "maybe"},
		{"OIDC_TESTING_PROFILE", "{not json"},
		{"OIDC_CLIENT_SECRETS", `{"web":{}}`},
		{"OIDC_LOGOUT_PARAMS", `{"returnTo": 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := httpoidc.ConfigFromEnv()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.name)
		})
	}
}

func TestConfigFromEnvLoginPolicyAndMounting(t *testing.T) {
	t.Setenv("OIDC_CLIENT_SECRETS", `{"web":{"client_id":"id","client_secret":"s","issuer":"https://op.example"}}`)
	t.Setenv("OIDC_ALLOWED_EMAIL_DOMAINS", "example.com, example.org  corp.example")
	t.Setenv("OIDC_REQUIRE_VERIFIED_EMAIL", "true")
	t.Setenv("OIDC_ALLOWED_GROUPS", "admins,staff")
	t.Setenv("OIDC_GROUPS_CLAIM", "realm_access.roles")
	t.Setenv("OIDC_CALLBACK_ROUTE", "/oidc_callback")
	t.Setenv("OIDC_BASE_PATH", "/app")
	t.Setenv("OIDC_END_SESSION_URL", "https://tenant.auth0.com/v2/logout")
	t.Setenv("OIDC_LOGOUT_PARAMS", `{"returnTo": "{post_logout_redirect_uri}", "client_id": "{client_id}"}`)
	cfg, err := httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, []string{"example.com", "example.org", "corp.example"}, cfg.AllowedEmailDomains)
	require.True(t, cfg.RequireVerifiedEmail)
	require.False(t, cfg.InsecureAllowUnverifiedEmail)
	require.Equal(t, []string{"admins", "staff"}, cfg.AllowedGroups)
	require.Equal(t, "realm_access.roles", cfg.GroupsClaim)
	require.Equal(t, "/oidc_callback", cfg.CallbackPath)
	require.Equal(t, "/app", cfg.BasePath)
	require.Equal(t, "https://tenant.auth0.com/v2/logout", cfg.EndSessionURL)
	require.Equal(t, map[string]string{"returnTo": "{post_logout_redirect_uri}", "client_id": "{client_id}"}, cfg.LogoutParams)

	t.Setenv("OIDC_REQUIRE_VERIFIED_EMAIL", "")
	t.Setenv("OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL", "true")
	cfg, err = httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	require.True(t, cfg.InsecureAllowUnverifiedEmail)

	t.Setenv("OIDC_CALLBACK_PATH", "/authorize")
	_, err = httpoidc.ConfigFromEnv()
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	require.ErrorContains(t, err, "OIDC_CALLBACK_ROUTE")
}

func TestConfigFromEnvFlaskOIDC2Settings(t *testing.T) {
	t.Run("instead of a secrets file", func(t *testing.T) {
		t.Setenv("OIDC_CLIENT_ID", "id")
		t.Setenv("OIDC_CLIENT_SECRET", "s3cr3t")
		t.Setenv("OIDC_SERVER_METADATA_URL", "https://op.example/realms/x/.well-known/openid-configuration")
		cfg, err := httpoidc.ConfigFromEnv()
		require.NoError(t, err)
		require.Equal(t, httpoidc.ClientSecrets{ClientID: "id", ClientSecret: "s3cr3t", Issuer: "https://op.example/realms/x"}, *cfg.ClientSecrets)
		require.Empty(t, cfg.ClientSecretsFile)
	})
	t.Run("over a secrets file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "client_secrets.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"web":{"client_id":"id","client_secret":"old","issuer":"https://op.example","redirect_uris":["https://app.example/authorize"]}}`), 0o600))
		t.Setenv("OIDC_CLIENT_SECRETS", path)
		t.Setenv("OIDC_CLIENT_SECRET", "rotated")
		cfg, err := httpoidc.ConfigFromEnv()
		require.NoError(t, err)
		require.Equal(t, "rotated", cfg.ClientSecrets.ClientSecret)
		require.Equal(t, "id", cfg.ClientSecrets.ClientID)
		require.Equal(t, []string{"https://app.example/authorize"}, cfg.ClientSecrets.RedirectURIs)
	})
	t.Run("over a secrets file without a secret, with a client key", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "client_secrets.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"web":{"client_id":"old","issuer":"https://op.example"}}`), 0o600))
		t.Setenv("OIDC_CLIENT_SECRETS", path)
		t.Setenv("OIDC_CLIENT_KEY_FILE", filepath.Join(dir, "client-key.pem"))
		t.Setenv("OIDC_CLIENT_ID", "id")
		cfg, err := httpoidc.ConfigFromEnv()
		require.NoError(t, err)
		require.Equal(t, httpoidc.ClientSecrets{ClientID: "id", Issuer: "https://op.example"}, *cfg.ClientSecrets)
	})
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"incomplete", map[string]string{"OIDC_CLIENT_ID": "id"}, "web.client_secret"},
		{"metadata URL not a discovery URL", map[string]string{"OIDC_CLIENT_ID": "id", "OIDC_CLIENT_SECRET": "s", "OIDC_SERVER_METADATA_URL": "https://op.example/"}, "OIDC_SERVER_METADATA_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := httpoidc.ConfigFromEnv()
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestConfigFromEnvRefusesRemovedSettings(t *testing.T) {
	for _, tt := range []struct{ name, instead string }{
		{"OIDC_GOOGLE_APPS_DOMAIN", "OIDC_ALLOWED_EMAIL_DOMAINS"},
		{"OIDC_VALID_ISSUERS", "web.issuer"},
		{"OIDC_RESOURCE_CHECK_AUD", "OIDC_AUDIENCE"},
		{"OIDC_ID_TOKEN_COOKIE_NAME", "Config.Sessions"},
		{"OIDC_ID_TOKEN_COOKIE_PATH", "Config.Sessions"},
		{"OIDC_ID_TOKEN_COOKIE_TTL", "Config.Sessions"},
		{"OIDC_COOKIE_SECURE", "Config.Sessions"},
		{"OIDC_CREDENTIALS_STORE", "Config.SessionStore"},
		{"OIDC_OPENID_REALM", "remove it"},
		{"OIDC_USERINFO_URL", "web.userinfo_uri"},
		{"OIDC_TOKEN_TYPE_HINT", "remove it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, "")
			_, err := httpoidc.ConfigFromEnv()
			require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.name)
			require.ErrorContains(t, err, tt.instead)
		})
	}
}

package httpoidc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

func TestParseClientSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"complete", `{"web":{"client_id":"id","client_secret":"s3cr3t","issuer":"https://op.example/","redirect_uris":["https://app.example/authorize"],"auth_uri":"https://op.example/auth","token_uri":"https://op.example/token","userinfo_uri":"https://op.example/userinfo"}}`, ""},
		{"minimal", `{"web":{"client_id":"id","client_secret":"s3cr3t","issuer":"https://op.example"}}`, ""},
		{"not JSON", `{"web":`, "not a JSON object"},
		{"array", `["web"]`, "not a JSON object"},
		{"no web key", `{"installed":{"client_id":"id"}}`, `missing top-level key "web"`},
		{"web not an object", `{"web":"x"}`, `key "web"`},
		{"missing client_id", `{"web":{"client_secret":"s3cr3t","issuer":"https://op.example"}}`, `missing required key "web.client_id"`},
		{"missing client_secret", `{"web":{"client_id":"id","issuer":"https://op.example"}}`, `missing required key "web.client_secret"`},
		{"missing issuer", `{"web":{"client_id":"id","client_secret":"s3cr3t"}}`, `missing required key "web.issuer"`},
		{"blank issuer", `{"web":{"client_id":"id","client_secret":"s3cr3t","issuer":"  "}}`, `missing required key "web.issuer"`},
		{"relative issuer", `{"web":{"client_id":"id","client_secret":"s3cr3t","issuer":"op.example"}}`, `key "web.issuer"`},
		{"wrong type", `{"web":{"client_id":1,"client_secret":"s3cr3t","issuer":"https://op.example"}}`, `"client_id"`},
		{"redirect_uris not a list", `{"web":{"client_id":"id","client_secret":"s3cr3t","issuer":"https://op.example","redirect_uris":"x"}}`, `redirect_uris`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := httpoidc.ParseClientSecrets([]byte(tt.doc))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "id", s.ClientID)
				require.Equal(t, "s3cr3t", s.ClientSecret)
				return
			}
			require.ErrorIs(t, err, httpoidc.ErrInvalidClientSecrets)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "s3cr3t", "errors never show the secret")
		})
	}
}

func TestLoadClientSecretsNamesTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "client_secrets.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"web":{"client_id":"id","client_secret":"s3cr3t"}}`), 0o600))
	_, err := httpoidc.LoadClientSecrets(path)
	require.ErrorIs(t, err, httpoidc.ErrInvalidClientSecrets)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), `"web.issuer"`)

	_, err = httpoidc.LoadClientSecrets(filepath.Join(dir, "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, err, httpoidc.ErrInvalidClientSecrets)
	require.Contains(t, err.Error(), "missing.json")
}

func TestClientSecretsNeverPrintTheSecret(t *testing.T) {
	t.Parallel()
	s := httpoidc.ClientSecrets{ClientID: "id", ClientSecret: "s3cr3t", Issuer: "https://op.example"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		require.NotContains(t, fmt.Sprintf(format, s), "s3cr3t", format)
		require.NotContains(t, fmt.Sprintf(format, &s), "s3cr3t", format)
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

func TestRegister(t *testing.T) {
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return "http://" + ln.Addr().String()
	}()
	tests := []struct {
		name     string
		opts     []oidctest.Option
		fault    *oidctest.Fault
		issuer   string // default: the oidctest server
		existing bool
		args     []string
		code     int
		stderr   string
	}{
		{name: "success", code: 0},
		{name: "overwrite with -force", existing: true, args: []string{"-force"}, code: 0},
		{name: "existing file", existing: true, code: 1, stderr: "already exists; use -force"},
		{name: "refused", fault: ptr(oidctest.FaultRegistrationRefused), code: 1, stderr: "refused the registration: invalid_client_metadata"},
		{name: "no registration endpoint", opts: []oidctest.Option{oidctest.WithoutRegistration()}, code: 1, stderr: "does not support dynamic client registration"},
		{name: "unreachable issuer", issuer: closedPort, code: 1, stderr: "discovering " + closedPort},
		{name: "bad redirect URI", args: []string{"-name", "x"}, issuer: "not a url", code: 2, stderr: "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := oidctest.NewServer(tt.opts...)
			t.Cleanup(op.Close)
			if tt.fault != nil {
				op.SetFault(*tt.fault, true)
			}
			issuer := op.URL
			if tt.issuer != "" {
				issuer = tt.issuer
			}
			out := filepath.Join(t.TempDir(), "client_secrets.json")
			if tt.existing {
				require.NoError(t, os.WriteFile(out, []byte("old"), 0o600))
			}
			args := append(append([]string{"-output", out}, tt.args...), issuer, "http://127.0.0.1:8080/authorize")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			require.Equal(t, tt.code, code, stderr.String())
			require.Contains(t, stderr.String(), tt.stderr)
			if tt.code != 0 {
				if tt.existing {
					old, _ := os.ReadFile(out)
					require.Equal(t, "old", string(old), "a failed run changes nothing")
				}
				return
			}
			info, err := os.Stat(out)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
			secrets, err := httpoidc.LoadClientSecrets(out)
			require.NoError(t, err)
			require.Equal(t, op.URL, secrets.Issuer)
			require.Equal(t, []string{"http://127.0.0.1:8080/authorize"}, secrets.RedirectURIs)
			require.NotEmpty(t, secrets.ClientSecret)
			require.Contains(t, stdout.String(), "Registered client "+secrets.ClientID)
			require.NotContains(t, stdout.String(), secrets.ClientSecret)
			require.Equal(t, 1, op.Requests(oidctest.EndpointRegistration))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings; nil: empty
		stderr []string
	}{
		{"help", []string{"-h"}, 0, []string{"usage: oidc-register", "Dynamic Client Registration", "Example", "oidc-register https://", "-version"}, nil},
		{"long help", []string{"-help"}, 0, []string{"usage: oidc-register"}, nil},
		{"version", []string{"-version"}, 0, []string{"oidc-register "}, nil},
		{"one argument", []string{"https://op.example"}, 2, nil, []string{"usage: oidc-register"}},
		{"unknown flag", []string{"-bogus"}, 2, nil, []string{"flag provided but not defined: -bogus", "usage: oidc-register"}},
		{"relative issuer", []string{"op.example", "https://app.example/authorize"}, 2, nil, []string{"not an absolute http(s) URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.code, run(context.Background(), tc.args, &stdout, &stderr))
			for _, want := range tc.stdout {
				require.Contains(t, stdout.String(), want)
			}
			for _, want := range tc.stderr {
				require.Contains(t, stderr.String(), want)
			}
			if tc.stdout == nil {
				require.Empty(t, stdout.String())
			}
			if tc.stderr == nil {
				require.Empty(t, stderr.String())
			}
		})
	}
}

func TestRegisterWithKey(t *testing.T) {
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "client.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	out := filepath.Join(dir, "client_secrets.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-output", out, "-key", keyFile, op.URL, "http://127.0.0.1:8080/authorize"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())

	doc, err := os.ReadFile(out)
	require.NoError(t, err)
	var secrets struct{ Web httpoidc.ClientSecrets }
	require.NoError(t, json.Unmarshal(doc, &secrets))
	require.Empty(t, secrets.Web.ClientSecret, "a client with a key gets no secret")

	// The provider takes the client's assertions, signed with the key and
	// the kid httpoidc uses for it.
	_, kid, err := httpoidc.LoadPrivateKey(keyFile)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	require.NoError(t, err)
	id := secrets.Web.ClientID
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{op.URL}, ID: "j1",
		Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))}).Serialize()
	require.NoError(t, err)
	resp, err := http.PostForm(op.URL+"/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	code = run(context.Background(), []string{"-output", filepath.Join(dir, "other.json"), "-key", filepath.Join(dir, "missing.pem"), op.URL, "http://127.0.0.1:8080/authorize"}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "missing.pem")
}

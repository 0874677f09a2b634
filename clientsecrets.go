package httpoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ClientSecrets is the content of a Flask-OIDC client_secrets.json file:
// the object under its top-level "web" key.
type ClientSecrets struct {
	// ClientID is the client's identifier at the provider (client_id);
	// required.
	ClientID string `json:"client_id"`
	// ClientSecret is the client's secret (client_secret); required
	// unless the client authenticates with a ClientKey (private_key_jwt).
	ClientSecret string `json:"client_secret"`
	// Issuer is the provider's issuer URL (issuer), where discovery
	// starts and what ID and access tokens must name; required.
	Issuer string `json:"issuer"`
	// AuthURI is the authorization endpoint (auth_uri); it overrides the
	// discovered one. Default: discovered.
	AuthURI string `json:"auth_uri,omitempty"`
	// TokenURI is the token endpoint (token_uri); it overrides the
	// discovered one. Default: discovered.
	TokenURI string `json:"token_uri,omitempty"`
	// UserInfoURI is the userinfo endpoint (userinfo_uri); it overrides
	// the discovered one. Default: discovered.
	UserInfoURI string `json:"userinfo_uri,omitempty"`
	// RedirectURIs are the client's registered redirect URIs
	// (redirect_uris); unless Config.RedirectURL is set, the callback is
	// the one whose path ends in BasePath + CallbackPath, and New fails
	// when none does.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// IntrospectionURI is Flask-OIDC 1.x's token_introspection_uri; it
	// overrides the discovered introspection endpoint.
	IntrospectionURI string `json:"token_introspection_uri,omitempty"`
}

// String returns a description of the secrets that leaves out the client
// secret, so they can be logged or printed safely.
func (s ClientSecrets) String() string {
	return fmt.Sprintf("ClientSecrets{ClientID: %q, Issuer: %q, ClientSecret: [redacted]}", s.ClientID, s.Issuer)
}

// GoString is like String, so %#v does not print the secret either.
func (s ClientSecrets) GoString() string { return s.String() }

// LoadClientSecrets reads a client_secrets.json file. The error wraps
// ErrInvalidClientSecrets (or the fs error for a missing file) and names the
// file and, when one is missing, the key.
func LoadClientSecrets(path string) (*ClientSecrets, error) {
	return loadClientSecrets(path, true)
}

// loadClientSecrets is LoadClientSecrets; client_secret may be missing
// unless needSecret (a client with a ClientKey has none).
func loadClientSecrets(path string, needSecret bool) (*ClientSecrets, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrInvalidClientSecrets, path, err)
	}
	secrets, err := parseClientSecrets(data, needSecret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return secrets, nil
}

// ParseClientSecrets parses a client_secrets.json document: a JSON object
// with a top-level "web" key holding client_id, client_secret and issuer
// (required) and optionally auth_uri, token_uri, userinfo_uri,
// token_introspection_uri and redirect_uris. The error wraps
// ErrInvalidClientSecrets and names the missing or malformed key; it never
// contains the secret.
func ParseClientSecrets(data []byte) (*ClientSecrets, error) {
	return parseClientSecrets(data, true)
}

func parseClientSecrets(data []byte, needSecret bool) (*ClientSecrets, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %s", ErrInvalidClientSecrets, jsonErrorWithoutInput(err))
	}
	raw, ok := doc["web"]
	if !ok {
		return nil, fmt.Errorf("%w: missing top-level key \"web\"", ErrInvalidClientSecrets)
	}
	var s ClientSecrets
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: key \"web\": %s", ErrInvalidClientSecrets, jsonErrorWithoutInput(err))
	}
	if err := s.validate(needSecret); err != nil {
		return nil, err
	}
	return &s, nil
}

// validate checks the keys httpoidc cannot do without.
func (s *ClientSecrets) validate(needSecret bool) error {
	for _, required := range []struct{ key, value string }{
		{"client_id", s.ClientID}, {"client_secret", s.ClientSecret}, {"issuer", s.Issuer},
	} {
		if strings.TrimSpace(required.value) == "" && (needSecret || required.key != "client_secret") {
			return fmt.Errorf("%w: missing required key \"web.%s\"", ErrInvalidClientSecrets, required.key)
		}
	}
	if err := checkAbsoluteURL(s.Issuer); err != nil {
		return fmt.Errorf("%w: key \"web.issuer\": %w", ErrInvalidClientSecrets, err)
	}
	return nil
}

// jsonErrorWithoutInput keeps JSON errors from quoting the document, which
// may hold the client secret.
func jsonErrorWithoutInput(err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("key %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	}
	return "invalid JSON"
}

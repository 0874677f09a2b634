package httpoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// AuthPrivateKeyJWT authenticates the client with a JWT signed by
// Config.ClientKey (RFC 7523 §2.2, OpenID Connect Core §9).
const AuthPrivateKeyJWT = "private_key_jwt"

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is the exp of a client assertion after its iat: long
// enough for the request, short enough that a captured one is useless.
const assertionLifetime = time.Minute

// ClientKey is the private key a client authenticates with (private_key_jwt).
type ClientKey struct {
	// Signer signs the assertions: an *rsa.PrivateKey, *ecdsa.PrivateKey,
	// ed25519.PrivateKey or any crypto.Signer with such a public key (a
	// key in a KMS or HSM).
	Signer crypto.Signer
	// KeyID is the kid of the key registered with the provider. Default:
	// the key's RFC 7638 thumbprint.
	KeyID string
	// Algorithm is the JWS algorithm. Default: the first the provider's
	// token_endpoint_auth_signing_alg_values_supported lists among those
	// the key can make (PS256 before RS256 for RSA), else ES256/384/512,
	// EdDSA or PS256 by key type.
	Algorithm string
}

// LoadPrivateKey reads a private key from a PEM file (PKCS #8, PKCS #1 or
// SEC 1) or a JWK file, and returns it with its key ID: the JWK's kid, or
// the key's RFC 7638 thumbprint. The error names the file and never quotes
// its content.
func LoadPrivateKey(path string) (crypto.Signer, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading key %s: %w", ErrInvalidConfig, path, err)
	}
	signer, kid, err := parsePrivateKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("%w: key %s: %w", ErrInvalidConfig, path, err)
	}
	return signer, kid, nil
}

func parsePrivateKey(data []byte) (crypto.Signer, string, error) {
	var key any
	var kid string
	if block, _ := pem.Decode(data); block != nil {
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, "", fmt.Errorf("PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return nil, "", errors.New("malformed PEM private key")
		}
	} else {
		var jwk jose.JSONWebKey
		if json.Unmarshal(data, &jwk) != nil || jwk.IsPublic() {
			return nil, "", errors.New("neither a PEM private key nor a private JWK")
		}
		key, kid = jwk.Key, jwk.KeyID
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, "", fmt.Errorf("unsupported key type %T", key)
	}
	switch signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, "", fmt.Errorf("unsupported key type %T", key)
	}
	if kid == "" {
		var err error
		if kid, err = dpop.Thumbprint(signer.Public()); err != nil {
			return nil, "", err
		}
	}
	return signer, kid, nil
}

// candidateAlgorithms are the algorithms a key can sign with, preferred
// first (FAPI 2.0 §5.4: PS256, ES256, EdDSA).
func candidateAlgorithms(pub crypto.PublicKey) []jose.SignatureAlgorithm {
	def, err := dpop.DefaultAlgorithm(pub)
	if err != nil {
		return nil
	}
	if def == jose.PS256 {
		return []jose.SignatureAlgorithm{jose.PS256, jose.RS256, jose.PS384, jose.PS512, jose.RS384, jose.RS512}
	}
	return []jose.SignatureAlgorithm{def}
}

// chooseAlgorithm returns configured, else the first algorithm the key
// can make that the provider lists (any of them when it lists none).
func chooseAlgorithm(configured string, pub crypto.PublicKey, advertised []string, what string) (jose.SignatureAlgorithm, error) {
	if configured != "" {
		return jose.SignatureAlgorithm(configured), nil
	}
	candidates := candidateAlgorithms(pub)
	if len(candidates) == 0 {
		return "", fmt.Errorf("%w: %s: unsupported key type %T", ErrInvalidConfig, what, pub)
	}
	if len(advertised) == 0 {
		return candidates[0], nil
	}
	for _, a := range candidates {
		if slices.Contains(advertised, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w: %s: the provider accepts %s, which this key cannot make", ErrInvalidConfig, what, strings.Join(advertised, ", "))
}

// assertionSigner makes private_key_jwt client assertions.
type assertionSigner struct {
	signer   jose.Signer
	clientID string
	audience string
	now      func() time.Time
}

func newAssertionSigner(key *ClientKey, alg jose.SignatureAlgorithm, clientID, issuer string, now func() time.Time) (*assertionSigner, error) {
	var k any = key.Signer
	switch key.Signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		k = cryptosigner.Opaque(key.Signer)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.KeyID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: ClientKey cannot sign %s: %w", ErrInvalidConfig, alg, err)
	}
	return &assertionSigner{signer: signer, clientID: clientID, audience: issuer, now: now}, nil
}

// assertion returns a fresh client assertion: iss and sub the client_id,
// aud the issuer (FAPI 2.0 §5.3.2.1 and RFC 7523 §3 allow it; providers
// that want the endpoint URL accept it too), a new jti and a one-minute
// exp, so it cannot be replayed elsewhere or later.
func (a *assertionSigner) assertion() (string, error) {
	now := a.now()
	claims := jwt.Claims{
		Issuer:    a.clientID,
		Subject:   a.clientID,
		Audience:  jwt.Audience{a.audience},
		ID:        dpop.NewID(),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	tok, err := jwt.Signed(a.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return tok, nil
}

// loadKeys reads ClientKeyFile and DPoPKeyFile, makes the per-process DPoP
// key, and checks that private_key_jwt has a key: a misconfiguration
// fails at New.
func (oc *OpenIDConnect) loadKeys() error {
	c := &oc.cfg
	if c.ClientKey == nil && c.ClientKeyFile != "" {
		signer, kid, err := LoadPrivateKey(c.ClientKeyFile)
		if err != nil {
			return fmt.Errorf("ClientKeyFile (OIDC_CLIENT_KEY_FILE): %w", err)
		}
		c.ClientKey = &ClientKey{Signer: signer, KeyID: kid}
	}
	if c.ClientKey != nil {
		if c.ClientKey.Signer == nil {
			return fmt.Errorf("%w: ClientKey has no Signer", ErrInvalidConfig)
		}
		key := *c.ClientKey
		if key.KeyID == "" {
			kid, err := dpop.Thumbprint(key.Signer.Public())
			if err != nil {
				return fmt.Errorf("%w: ClientKey: %w", ErrInvalidConfig, err)
			}
			key.KeyID = kid
		}
		c.ClientKey = &key
		if c.ClientAuthMethod == "" {
			c.ClientAuthMethod = AuthPrivateKeyJWT
		}
		if c.IntrospectionAuthMethod == "" {
			c.IntrospectionAuthMethod = AuthPrivateKeyJWT
		}
	}
	for name, method := range map[string]string{"ClientAuthMethod": c.ClientAuthMethod, "IntrospectionAuthMethod": c.IntrospectionAuthMethod} {
		if method == AuthPrivateKeyJWT && c.ClientKey == nil {
			return fmt.Errorf("%w: %s is private_key_jwt but there is no ClientKey (OIDC_CLIENT_KEY_FILE)", ErrInvalidConfig, name)
		}
	}
	if err := oc.loadDPoPKey(); err != nil {
		return err
	}
	if c.ClientKey != nil || c.DPoP {
		oc.cfg.HTTPClient = oc.providerClient(c.HTTPClient)
	}
	return nil
}

package httpoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"

	"golang.org/x/oauth2"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// The client side of DPoP (RFC 9449): the key the application's access
// tokens are bound to, and the token type they are sent with. Proofs are
// added by the provider transport (transport.go).

const tokenTypeDPoP = "DPoP"

// loadDPoPKey settles Config.DPoP's key: DPoPKey, else DPoPKeyFile, else
// a new P-256 key for this process.
func (oc *OpenIDConnect) loadDPoPKey() error {
	c := &oc.cfg
	if !c.DPoP {
		if c.DPoPKey != nil || c.DPoPKeyFile != "" {
			return fmt.Errorf("%w: DPoPKey or DPoPKeyFile is set but DPoP is not", ErrInvalidConfig)
		}
		return nil
	}
	key := c.DPoPKey
	if key == nil && c.DPoPKeyFile != "" {
		var err error
		if key, _, err = LoadPrivateKey(c.DPoPKeyFile); err != nil {
			return fmt.Errorf("DPoPKeyFile (OIDC_DPOP_KEY_FILE): %w", err)
		}
	}
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return fmt.Errorf("%w: making a DPoP key: %w", ErrInvalidConfig, err)
		}
	}
	if _, err := dpop.DefaultAlgorithm(key.Public()); err != nil {
		return fmt.Errorf("%w: DPoPKey: %w", ErrInvalidConfig, err)
	}
	oc.dpopSigner = key
	return nil
}

// newDPoPKey returns the proof signer for a provider, with the first
// algorithm it advertises in dpop_signing_alg_values_supported that the
// key can make.
func (oc *OpenIDConnect) newDPoPKey(advertised []string) (*dpop.Key, error) {
	alg, err := chooseAlgorithm("", oc.dpopSigner.Public(), advertised, "DPoPKey")
	if err != nil {
		return nil, err
	}
	k, err := dpop.NewKey(oc.dpopSigner, alg, oc.cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("%w: DPoPKey: %w", ErrInvalidConfig, err)
	}
	return k, nil
}

// accessTokenType is the scheme the user's access tokens are sent with.
func (oc *OpenIDConnect) accessTokenType() string {
	if oc.cfg.DPoP {
		return tokenTypeDPoP
	}
	return "Bearer"
}

// checkTokenType refuses, with Config.DPoP, a token response whose access
// token is not DPoP-bound (RFC 9449 §5): the provider ignored the proof,
// and the token would travel as a plain bearer token.
func (oc *OpenIDConnect) checkTokenType(tok *oauth2.Token) error {
	if oc.cfg.DPoP && !strings.EqualFold(tok.TokenType, tokenTypeDPoP) {
		return fmt.Errorf("token_type is %q, not DPoP: the provider did not bind the token to the DPoP key", tok.TokenType)
	}
	return nil
}

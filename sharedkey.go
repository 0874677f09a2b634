package httpoidc

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// Replicas behind one session store must agree on the keys that seal what
// one of them hands out and another checks: the pending-login cookie
// (pendinglogin.go), the DPoP nonces (dpopresource.go) and the DPoP key
// the user's tokens are bound to (dpop.go).

// sharedKey returns the 32-byte key for purpose info (RFC 5869 §3.2: info
// keeps the keys of different purposes apart): derived from
// Config.CookieSecret when set; else from the client secret, so that
// every replica with the same client secrets agrees without any set-up;
// else, for a client without a secret (private_key_jwt, Disabled), a
// random key for this process only. It fails only when HKDF refuses the
// secret (FIPS 140-only mode and a secret under 112 bits).
func (oc *OpenIDConnect) sharedKey(info string) ([]byte, error) {
	switch {
	case oc.cfg.CookieSecret != "":
		return hkdf.Key(sha256.New, []byte(oc.cfg.CookieSecret), nil, info, 32)
	case oc.hasClientSecret():
		// RFC 5869 §3.1: the client ID and issuer as salt keep apps that
		// share a secret apart.
		salt := []byte(oc.secrets.Issuer + "\x00" + oc.secrets.ClientID)
		return hkdf.Key(sha256.New, []byte(oc.secrets.ClientSecret), salt, info, 32)
	}
	key := make([]byte, 32)
	rand.Read(key)
	return key, nil
}

// hasClientSecret reports whether the client has a secret of its own to
// derive keys from; Disabled's placeholder is public and does not count.
func (oc *OpenIDConnect) hasClientSecret() bool {
	return oc.secrets != nil && oc.secrets.ClientSecret != "" && !oc.cfg.Disabled
}

// checkReplicaKeys refuses, when the application gives a session store
// (SessionStore or Sessions: several replicas may share it), a set-up in
// which each replica would make keys of its own: a login started on one
// replica would fail on another, DPoP nonces would not verify across
// replicas, and DPoP-bound tokens would break across replicas and
// restarts.
func (oc *OpenIDConnect) checkReplicaKeys() error {
	c := &oc.cfg
	if c.Disabled || c.SessionStore == nil && c.Sessions == nil {
		return nil
	}
	sealsForReplicas := !c.ResourceServerOnly || c.RequireDPoPNonce
	if sealsForReplicas && c.CookieSecret == "" && !oc.hasClientSecret() {
		return fmt.Errorf("%w: a session store is set, so replicas may share it, but the client has no client secret "+
			"(private_key_jwt) to derive the keys they share from: set CookieSecret (OIDC_COOKIE_SECRET), 32 random bytes "+
			"or more, the same on every replica", ErrInvalidConfig)
	}
	if c.DPoP && c.DPoPKey == nil && c.DPoPKeyFile == "" {
		return fmt.Errorf("%w: a session store is set, so replicas may share it, but DPoP has no key they share and "+
			"each would bind tokens to a key of its own: set DPoPKey or DPoPKeyFile (OIDC_DPOP_KEY_FILE), the same on "+
			"every replica", ErrInvalidConfig)
	}
	return nil
}

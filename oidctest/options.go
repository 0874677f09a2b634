package oidctest

import (
	"log/slog"
	"time"
)

// Option configures a Server created by NewServer or NewHandler.
type Option func(*options)

type options struct {
	alg             string
	accessTokenTTL  time.Duration
	idTokenTTL      time.Duration
	noRegistration  bool
	noIntrospection bool
	noEndSession    bool
	noRefreshTokens bool
	noRotation      bool // WithoutRefreshTokenRotation
	logger          *slog.Logger
	profile         Profile
	par             bool // WithPAR
	requirePAR      bool // WithRequiredPAR
	dpopNonce       bool // WithDPoPNonce
}

func defaultOptions() options {
	return options{
		alg:            "RS256",
		accessTokenTTL: time.Hour,
		idTokenTTL:     time.Hour,
		logger:         slog.New(slog.DiscardHandler),
	}
}

// WithSigningAlgorithm selects the algorithm of the provider's signing key:
// "RS256" (the default, RSA 2048), "ES256" (P-256) or "EdDSA" (Ed25519).
// NewServer and NewHandler panic on any other value: like a listen failure
// in httptest.NewServer it is a mistake in the test set-up, not input, and
// silently falling back to RS256 would make an ES256 test pass for the
// wrong reason.
func WithSigningAlgorithm(alg string) Option {
	return func(o *options) { o.alg = alg }
}

// WithAccessTokenTTL sets the lifetime of access tokens issued by the
// token endpoint. The default is one hour. Non-positive values are ignored.
func WithAccessTokenTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.accessTokenTTL = d
		}
	}
}

// WithIDTokenTTL sets the lifetime of ID tokens. The default is one hour.
// Non-positive values are ignored.
func WithIDTokenTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.idTokenTTL = d
		}
	}
}

// WithoutRegistration disables dynamic client registration: discovery has
// no registration_endpoint and /register answers 404.
func WithoutRegistration() Option {
	return func(o *options) { o.noRegistration = true }
}

// WithoutIntrospection disables token introspection: discovery has no
// introspection_endpoint and /introspect answers 404.
func WithoutIntrospection() Option {
	return func(o *options) { o.noIntrospection = true }
}

// WithoutEndSession makes a provider without RP-Initiated Logout, as some
// Auth0 tenants: discovery has no end_session_endpoint and /end_session
// answers 404.
func WithoutEndSession() Option {
	return func(o *options) { o.noEndSession = true }
}

// WithoutRefreshTokens makes the token endpoint issue no refresh tokens,
// as providers do for clients not allowed them or without offline_access.
func WithoutRefreshTokens() Option {
	return func(o *options) { o.noRefreshTokens = true }
}

// WithoutRefreshTokenRotation makes the refresh grant keep the refresh
// token valid and issue no new one, as providers do that do not rotate
// refresh tokens (Auth0 and Okta with refresh token rotation turned off):
// the client keeps the one it has.
func WithoutRefreshTokenRotation() Option {
	return func(o *options) { o.noRotation = true }
}

// WithLogger sets the logger the provider reports requests and failures
// to. Tokens, codes and secrets are never logged. The default discards
// everything; a nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

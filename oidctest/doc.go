// Package oidctest provides an in-process OpenID Provider for tests and
// demos: what net/http/httptest is for HTTP, oidctest is for OpenID Connect.
//
// The provider is real: it speaks HTTP, signs tokens with freshly generated
// keys (go-jose), and implements the authorization code flow with PKCE,
// refresh, client credentials, userinfo, introspection, revocation,
// RP-initiated and back-channel logout and dynamic client registration.
// Any OpenID Connect client library can be pointed at it. On top of that
// it can misbehave on demand (see Faults below) so that a relying party's
// defences can be tested.
//
// # Quick start
//
//	op := oidctest.NewServer()
//	defer op.Close()
//	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
//	op.AddClient(oidctest.Client{ID: "app", Secret: "s3cret", RedirectURIs: []string{app.URL + "/callback"}})
//	op.AutoLogin("alice") // every authorization request logs alice in, no page
//
// op.URL is the issuer: give it to oidc.NewProvider, or give
// op.ClientSecrets("app") to code that reads a Flask-OIDC client_secrets.json.
//
// When the application's URL is only known after the provider has started
// (the usual case with httptest), call AddClient again once it is: AddClient
// replaces the client with the same ID.
//
// NewHandler builds the same provider without a listener, to mount on an
// existing server; its issuer argument must be the URL it is reached at.
//
// # Endpoints
//
// All paths are relative to the issuer URL:
//
//	/.well-known/openid-configuration  discovery (OpenID Connect Discovery 1.0)
//	/jwks                              public signing keys
//	/authorize                         authorization endpoint, response_type=code
//	/login                             target of the HTML login form
//	/token                             authorization_code, refresh_token, client_credentials
//	/userinfo                          claims for a Bearer access token
//	/introspect                        RFC 7662 (absent with WithoutIntrospection)
//	/revoke                            RFC 7009
//	/end_session                       RP-Initiated Logout 1.0, triggers Back-Channel Logout 1.0 (absent with WithoutEndSession)
//	/register                          RFC 7591 (absent with WithoutRegistration)
//
// Authorization responses always carry the RFC 9207 iss parameter.
// Authorization codes are single use and live one minute. Refresh tokens
// rotate (unless WithoutRefreshTokenRotation). Errors use the RFC 6749
// JSON shape {"error", "error_description"}, except at the authorization and end session endpoints when the client or
// its redirect URI cannot be trusted: those get an HTML error page, never a
// redirect.
//
// # Logging in
//
// With AutoLogin(subject) every authorization request is approved at once
// as that user, so a plain http.Client with a cookie jar completes a login
// by following redirects. With AutoLogin("") (the default) the authorization
// endpoint shows a minimal HTML page: a form with an input named "username"
// (a user's Subject, preferred_username or email), a "Sign in" submit button
// and a "Deny" button that returns error=access_denied. Each login starts a
// new OP session, whose id is the sid claim.
//
// # Tokens
//
// ID tokens are signed with RS256 unless WithSigningAlgorithm selects ES256
// or EdDSA; the kid header names the key in the JWKS. They carry iss, sub,
// aud, azp, exp, iat, auth_time, sid, at_hash, the nonce when one was sent,
// and the user's claims released by the granted scopes (see User).
//
// Access tokens are opaque random strings unless the client asks for
// Client.AccessTokenFormat JWT or the request carries an RFC 8707 resource
// parameter; JWT access tokens follow RFC 9068 (typ "at+jwt"). Either kind
// is live for introspection and userinfo until it expires or is revoked.
// IssueAccessToken and LogoutToken mint tokens without any flow; SignJWT
// signs any claims, to build the malformed tokens a correct provider never
// issues.
//
// # Provider profiles
//
// WithProfile makes the provider reproduce how a real provider shapes its
// tokens, introspection answers and discovery document, from the
// provider's public documentation (and its source, where public), so that
// a relying party can be tested against providers that cannot run in a
// test. A profile is a reproduction, not the provider; say so in tests
// that use one.
//
//	op := oidctest.NewServer(oidctest.WithProfile(oidctest.Keycloak))
//	toks, err := op.IssueTokens(oidctest.TokenRequest{
//		ClientID: "app", Subject: "alice", Scopes: []string{"openid", "email"},
//		Audience: []string{"api"}, // what Keycloak's audience mapper adds
//	})
//
// IssueTokens returns the access, ID and refresh tokens of one token
// response without a flow; the flows issue the same shapes. In short:
//
//	Profile   access token                 ID token      refresh   introspection              logout token    end_session
//	Standard  RFC 9068 at+jwt or opaque    typ JWT       opaque    basic, post, bearer        logout+jwt      yes
//	Keycloak  JWT, aud account, typ Bearer typ claim ID  HS512 JWT basic, post; caller in aud logout+jwt      yes
//	Dex       = its ID tokens (no typ)     no typ        opaque    no auth; refresh active    -               -
//	Hydra     opaque or JWT (scp)          typ JWT       opaque    admin port, not discovered no exp, no sub  yes
//	Zitadel   opaque or JWT (no scope)     typ JWT       opaque    basic only; caller in aud  typ JWT         yes
//	Auth0     JWT with an audience         typ JWT       opaque    -                          typ JWT         - (/v2/logout)
//	Okta      JWT, no typ, cid, scp        no typ        opaque    ID and refresh active      -               yes
//	EntraID   JWT, scp, azp                typ JWT       opaque    -                          -               yes
//	Cognito   JWT, no typ, no aud          token_use id  JWE       -                          -               - (/logout)
//	Google    opaque                       typ JWT       opaque    -                          -               -
//
// The Profile constants document each provider's shapes and providers.go
// names the sources. IntrospectionURL gives the introspection endpoint
// also where discovery does not list it (Hydra). LogoutToken returns ""
// for a provider without back-channel logout. Auth0's /v2/logout
// (client_id, returnTo) and Cognito's /logout (client_id, logout_uri) are
// served on the issuer and redirect to a registered post-logout URI.
//
// # Time
//
// The provider has its own clock, Now, which Advance moves; every iat and
// exp it writes and every expiry it checks uses it. When verifying tokens
// after Advance, give the same clock to the verifier, e.g.
// oidc.Config{Now: op.Now}.
//
// # Faults
//
// SetFault switches a misbehaviour on; ClearFaults switches all off. Claim
// and signature faults apply to ID tokens, JWT access tokens and logout
// tokens; the nonce faults to ID tokens only. The right-hand column names
// the OpenID Foundation RP certification test each one mirrors.
//
//	Fault                         Effect                                              RP certification test
//	FaultWrongIssuer              iss is WrongIssuerURL                               rp-id_token-iss-mismatch
//	FaultWrongAudience            aud is OtherClientID                                rp-id_token-aud-mismatch
//	FaultMultipleAudiences        aud [client, OtherClientID], azp client (valid!)    - (Core §3.1.3.7 steps 3-5)
//	FaultAZPMismatch              aud [client, OtherClientID], azp OtherClientID      - (Core §3.1.3.7 step 5)
//	FaultExpired                  exp one hour ago                                    - (Core §3.1.3.7 step 9)
//	FaultIssuedInFuture           iat one hour ahead                                  rp-id_token-iat
//	FaultMissingNonce             no nonce although one was sent                      rp-nonce-unless-code-flow
//	FaultWrongNonce               another nonce than the one sent                     rp-nonce-invalid
//	FaultMissingSubject           no sub                                              rp-id_token-sub
//	FaultBadSignature             signature bytes altered                             rp-id_token-bad-sig-rs256 (-es256 with ES256)
//	FaultAlgNone                  alg none, empty signature                           rp-id_token-sig-none
//	FaultHS256ClientSecret        HS256 with the client secret as key                 rp-id_token-sig-hs256
//	FaultNoKID                    no kid, one key in the JWKS (valid!)                rp-id_token-kid-absent-single-jwks
//	FaultNoKIDMultipleKeys        no kid, an extra unrelated key in the JWKS          rp-id_token-kid-absent-multiple-jwks
//	FaultUserInfoSubMismatch      userinfo sub differs from the ID token's            rp-userinfo-bad-sub-claim
//	FaultTokenEndpointError       token endpoint answers 500 server_error             -
//	FaultTokenEndpointHang        token endpoint blocks until the request ends/Close  -
//	FaultDiscoveryDown            discovery answers 503                               -
//	FaultJWKSDown                 JWKS answers 503                                    -
//	FaultIntrospectionDown        introspection answers 503                           -
//	FaultAccessDenied             authorization redirects back error=access_denied    -
//	FaultWrongAuthResponseIssuer  authorization response iss is WrongIssuerURL        - (RFC 9207 mix-up defence)
//	FaultRegistrationRefused      registration answers 400 invalid_client_metadata    -
//
// Key rotation is not a fault but a control: RotateKey(true) mirrors
// rp-key-rotation-op-sign-key (a new kid the relying party must fetch),
// RotateKey(false) also withdraws the old key.
//
// The certification OP omits iat for rp-id_token-iat, and expects alg none
// and HS256 to be accepted by relying parties registered for them; here
// relying parties are registered for the provider's asymmetric algorithm,
// so FaultAlgNone and FaultHS256ClientSecret tokens must be rejected.
//
// # Concurrency
//
// All methods are safe for concurrent use, also while requests are being
// served; each token is built from one consistent snapshot of the faults
// and the signing key. State is
// kept in memory behind one mutex, expired codes, login requests and access
// tokens are dropped as the clock passes them, and request bodies are
// bounded, so the provider withstands load tests with thousands of logins.
package oidctest

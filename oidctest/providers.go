package oidctest

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"
)

// This file holds what each provider Profile reproduces, with its sources,
// for the providers people run themselves; cloudproviders.go holds the
// hosted services. Where a provider's source is public (Dex, Hydra,
// zitadel/oidc) the shapes follow it; otherwise they follow the provider's
// documentation. Nothing here has been checked against the running
// providers; interop/ does that for Hydra and the zitadel/oidc example OP.

// spec builds the profile's provider, or returns nil for Standard; a
// Server builds its own once.
func (p Profile) spec() *profileSpec {
	var s profileSpec
	switch p {
	case Keycloak:
		s = keycloak()
	case Dex:
		s = dex()
	case Hydra:
		s = hydra()
	case Zitadel:
		s = zitadel()
	case Auth0:
		s = auth0()
	case Okta:
		s = okta()
	case EntraID:
		s = entraID()
	case Cognito:
		s = cognito()
	case Google:
		s = google()
	default:
		return nil
	}
	return &s
}

const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// keycloak reproduces Keycloak 26:
//   - access tokens: typ JWT, aud "account" (the account console's client,
//     whose roles every user has) plus what an audience mapper adds
//     (https://www.keycloak.org/docs/latest/server_admin/#audience-support),
//     azp the client, typ claim "Bearer", realm_access and resource_access
//     roles, scope; the nonce only in the ID token since Keycloak 24;
//   - ID tokens: typ claim "ID"; refresh tokens: JWTs with typ claim
//     "Refresh", aud the issuer, signed HS512 with a realm key that is not
//     in the JWKS; logout tokens: typ header logout+jwt (Keycloak 25,
//     keycloak/keycloak#28939) and typ claim "Logout";
//   - introspection: the token's claims plus active, client_id, username
//     and token_type (the typ claim), and since 26.6 active false unless
//     the calling client is in the token's aud (upgrading guide, "Token
//     introspection now validates audience claim").
func keycloak() profileSpec {
	return profileSpec{
		accessJWT: alwaysJWT,
		access: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"aud":             audValue(appendNew(t.audience, "account")),
				"typ":             "Bearer",
				"azp":             t.clientID,
				"sid":             t.sid,
				"acr":             "1",
				"allowed-origins": []string{},
				"realm_access":    map[string]any{"roles": append([]string{"offline_access", "uma_authorization"}, stringsClaim(t.rawUser, "roles")...)},
				"resource_access": map[string]any{"account": map[string]any{"roles": []string{"manage-account", "view-profile"}}},
				"scope":           scopeString(t.scopes),
			}))
			delete(c, "roles")
			return jwtShape{"JWT", c}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"aud": t.clientID, "typ": "ID", "azp": t.clientID, "sid": t.sid, "acr": "1", "at_hash": t.atHash,
			}))
			delete(c, "roles")
			return jwtShape{"JWT", t.withNonce(c)}
		},
		refresh: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", map[string]any{
				"iss": t.issuer, "sub": t.subject, "aud": t.issuer, "typ": "Refresh", "azp": t.clientID,
				"sid": t.sid, "scope": scopeString(t.scopes), "jti": t.jti,
				"iat": t.issued.Unix(), "exp": t.expiry.Unix(),
			}}
		},
		refreshTTL: 30 * time.Minute, // SSO Session Idle
		logout: func(t *tokenFacts) jwtShape {
			return jwtShape{"logout+jwt", t.logoutClaims(map[string]any{"typ": "Logout", "aud": t.clientID})}
		},
		introspection: introspectionSpec{
			answer: func(t introspected, caller string) map[string]any {
				if !slices.Contains(claimAudience(t.claims), caller) {
					return inactive()
				}
				username, _ := t.claims["preferred_username"].(string)
				if username == "" {
					username = t.subject
				}
				return withClaims(t.claims, map[string]any{
					"active": true, "client_id": t.clientID, "username": username, "token_type": t.claims["typ"],
				})
			},
			authMethods: []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"},
		},
		tokenAuthMethods: []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"},
		endSession:       true,
	}
}

// dex reproduces Dex v2.4x from its source (github.com/dexidp/dex,
// server/oauth2.go and server/introspectionhandler.go):
//   - newAccessToken calls newIDToken: access tokens are ID tokens, no typ
//     header, aud the client (plus cross-client peers, the requested
//     audience here, with azp the client), the nonce, and an at_hash of a
//     random value; ID tokens the same with the real at_hash;
//   - refresh tokens are opaque;
//   - introspection reads no client credentials, verifies any Dex JWT as
//     an access token (so an ID token is active, token_use
//     "access_token"), and answers refresh tokens active with token_type
//     "Bearer" and token_use "refresh_token"; extra claims go under ext;
//   - no end_session_endpoint, no back-channel logout.
func dex() profileSpec {
	token := func(t *tokenFacts, atHash string) jwtShape {
		aud := appendNew(t.audience, t.clientID)
		c := map[string]any{
			"iss": t.issuer, "sub": t.subject, "aud": audValue(aud),
			"iat": t.issued.Unix(), "exp": t.expiry.Unix(), "at_hash": atHash,
		}
		if len(aud) > 1 {
			c["azp"] = t.clientID
		}
		for _, name := range []string{"email", "email_verified", "groups", "name", "preferred_username"} {
			if v, ok := t.user[name]; ok {
				c[name] = v
			}
		}
		return jwtShape{"", t.withNonce(c)}
	}
	return profileSpec{
		accessJWT: alwaysJWT,
		access:    func(t *tokenFacts) jwtShape { return token(t, randomHash()) },
		id:        func(t *tokenFacts) jwtShape { return token(t, t.atHash) },
		// expiry.refreshTokens.absoluteLifetime, as deployments set it.
		refreshTTL: 30 * 24 * time.Hour,
		introspection: introspectionSpec{
			answer: func(t introspected, _ string) map[string]any {
				use := "access_token"
				if t.kind == kindRefresh {
					use = "refresh_token"
				}
				resp := map[string]any{
					"active": true, "client_id": t.clientID, "sub": t.subject, "aud": t.claims["aud"], "iss": t.claims["iss"],
					"iat": t.issued.Unix(), "nbf": t.issued.Unix(), "exp": t.expiry.Unix(),
					"token_type": "Bearer", "token_use": use,
				}
				ext := map[string]any{}
				for _, name := range []string{"azp", "email", "email_verified", "groups", "name", "preferred_username"} {
					if v, ok := t.claims[name]; ok {
						ext[name] = v
					}
				}
				if len(ext) > 0 {
					resp["ext"] = ext
				}
				if u, ok := t.claims["preferred_username"]; ok {
					resp["username"] = u
				}
				return resp
			},
			anyCaller: true,
		},
		tokenAuthMethods: []string{"client_secret_basic", "client_secret_post"},
	}
}

// hydra reproduces Ory Hydra v2.3.0 from its source (github.com/ory/hydra,
// oauth2/handler.go, oauth2/session.go, consent/strategy_default.go) and
// https://www.ory.sh/docs/hydra/jwt-access-token:
//   - access tokens opaque (ory_at_...), or with strategies.access_token
//     "jwt" JWTs typed JWT with client_id, scp (an array), ext, and aud the
//     granted audience, an empty array unless one was requested;
//   - ID tokens typed JWT with at_hash, rat, sid; refresh tokens opaque;
//   - introspection on the admin port (not in discovery, no client
//     authentication): access and refresh tokens active with token_type
//     "Bearer" and token_use "access_token" or "refresh_token", aud always
//     present, often []; ID tokens are not tokens it introspects;
//   - logout tokens typed JWT with iss, aud, iat, jti, events and sid, but
//     no exp and no sub.
func hydra() profileSpec {
	return profileSpec{
		accessJWT: func(f AccessTokenFormat, _ []string) bool { return f == JWT },
		access: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", t.times(map[string]any{
				"aud": nonNil(t.audience), "client_id": t.clientID, "scp": nonNil(t.scopes), "ext": map[string]any{},
				"nbf": t.issued.Unix(),
			})}
		},
		accessPrefix:  "ory_at_",
		refreshPrefix: "ory_rt_",
		refreshTTL:    720 * time.Hour,
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"aud": []string{t.clientID}, "rat": t.issued.Unix(), "sid": t.sid, "at_hash": t.atHash, "acr": "0", "amr": []string{},
			}))
			return jwtShape{"JWT", t.withNonce(c)}
		},
		logout: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", map[string]any{
				"iss": t.issuer, "aud": []string{t.clientID}, "iat": t.issued.Unix(), "jti": t.jti,
				"events": map[string]any{backchannelLogoutEvent: map[string]any{}}, "sid": t.sid,
			}}
		},
		introspection: introspectionSpec{
			answer: func(t introspected, _ string) map[string]any {
				use := "access_token"
				switch t.kind {
				case kindID:
					return inactive()
				case kindRefresh:
					use = "refresh_token"
				}
				aud := claimAudience(t.claims)
				return map[string]any{
					"active": true, "client_id": t.clientID, "scope": scopeString(t.scopes), "sub": t.subject,
					"exp": t.expiry.Unix(), "iat": t.issued.Unix(), "nbf": t.issued.Unix(), "aud": nonNil(aud),
					"iss": t.claims["iss"], "token_type": "Bearer", "token_use": use,
				}
			},
			unlisted:  true,
			anyCaller: true,
		},
		tokenAuthMethods: []string{"client_secret_post", "client_secret_basic", "private_key_jwt", "none"},
		endSession:       true,
	}
}

// zitadel reproduces zitadel from github.com/zitadel/oidc v3.52.0
// (pkg/oidc/token.go NewAccessTokenClaims and NewIDTokenClaims,
// pkg/op/discovery.go, pkg/op/client.go, pkg/op/signer.go) and
// https://zitadel.com/docs/apis/openidoauth/endpoints:
//   - access tokens opaque, or JWTs ("Auth Token Type: JWT") typed JWT
//     with client_id, aud the project's audience and the client, and no
//     scope claim;
//   - ID tokens typed JWT with azp, client_id, at_hash, amr; refresh
//     tokens opaque; logout tokens typed JWT (the signer types every JWT);
//   - introspection authenticates with client_secret_basic (or
//     private_key_jwt) only, and answers active only to a client in the
//     access token's aud; refresh and ID tokens are never active.
func zitadel() profileSpec {
	aud := func(t *tokenFacts) []string { return appendNew(t.audience, t.clientID) }
	return profileSpec{
		accessJWT: func(f AccessTokenFormat, _ []string) bool { return f == JWT },
		access: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", t.times(map[string]any{
				"aud": aud(t), "client_id": t.clientID, "nbf": t.issued.Unix(),
			})}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"aud": aud(t), "azp": t.clientID, "client_id": t.clientID, "amr": []string{"pwd"},
				"at_hash": t.atHash, "sid": t.sid,
			}))
			return jwtShape{"JWT", t.withNonce(c)}
		},
		refreshTTL: 30 * 24 * time.Hour,
		logout: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", t.logoutClaims(map[string]any{"aud": []string{t.clientID}})}
		},
		introspection: introspectionSpec{
			answer: func(t introspected, caller string) map[string]any {
				aud := claimAudience(t.claims)
				if t.kind != kindAccess || !slices.Contains(aud, caller) {
					return inactive()
				}
				return map[string]any{
					"active": true, "scope": scopeString(t.scopes), "client_id": t.clientID, "token_type": "Bearer",
					"exp": t.expiry.Unix(), "iat": t.issued.Unix(), "nbf": t.issued.Unix(), "sub": t.subject,
					"aud": aud, "iss": t.claims["iss"], "jti": t.claims["jti"], "username": t.subject,
				}
			},
			basicOnly:   true,
			authMethods: []string{"client_secret_basic", "private_key_jwt"},
		},
		tokenAuthMethods: []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
		endSession:       true,
	}
}

func alwaysJWT(AccessTokenFormat, []string) bool { return true }

// times adds iss, sub, iat, exp, auth_time and jti to c.
func (t *tokenFacts) times(c map[string]any) map[string]any {
	c["iss"], c["sub"], c["jti"] = t.issuer, t.subject, t.jti
	c["iat"], c["exp"] = t.issued.Unix(), t.expiry.Unix()
	if !t.authTime.IsZero() {
		c["auth_time"] = t.authTime.Unix()
	}
	return c
}

// withNonce adds the nonce, when there is one, to an ID token's claims.
func (t *tokenFacts) withNonce(c map[string]any) map[string]any {
	if t.nonce != "" {
		c["nonce"] = t.nonce
	}
	return c
}

// logoutClaims are a Back-Channel Logout 1.0 §2.4 logout token's claims.
func (t *tokenFacts) logoutClaims(more map[string]any) map[string]any {
	c := map[string]any{
		"iss": t.issuer, "iat": t.issued.Unix(), "exp": t.expiry.Unix(), "jti": t.jti,
		"events": map[string]any{backchannelLogoutEvent: map[string]any{}},
	}
	if t.subject != "" {
		c["sub"] = t.subject
	}
	if t.sid != "" {
		c["sid"] = t.sid
	}
	return withClaims(c, more)
}

// audValue encodes an audience as most providers do: one as a string,
// several as an array.
func audValue(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	return nonNil(aud)
}

// appendNew appends the values of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
	out := slices.Clone(list)
	for _, v := range add {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// stringsClaim reads a user claim that is a list of strings.
func stringsClaim(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case []string:
		return slices.Clone(v)
	case []any:
		var out []string
		for _, item := range v {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// randomHash is a random value shaped like at_hash: Dex hashes a random ID
// for its access tokens' at_hash, and Entra ID's aio, rh and uti look the
// same.
func randomHash() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

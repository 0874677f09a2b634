package oidctest

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"
)

// This file holds what each provider Profile reproduces, with its sources.
// Where a provider's source is public (Dex, Hydra, zitadel/oidc) the shapes
// follow it; otherwise they follow the provider's documentation. Nothing
// here has been checked against the running providers; interop/ does that
// for Hydra and the zitadel/oidc example OP.

// spec returns the profile's provider, or nil for Standard.
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

// auth0 reproduces Auth0 from https://auth0.com/docs/secure/tokens
// (access-tokens, access-token-profiles, id-tokens/id-token-structure),
// https://auth0.com/docs/authenticate/login/logout and .../back-channel-logout:
//   - with an audience (an API identifier), JWT access tokens in the
//     default "Auth0" token profile: typ JWT, aud [API, issuer/userinfo]
//     when openid was asked for, azp the client, scope; without one, an
//     opaque token good only for /userinfo;
//   - ID tokens typed JWT with the profile claims, sid and the nonce, no
//     at_hash; refresh tokens opaque;
//   - logout tokens with events and sid; no introspection endpoint; no
//     end_session_endpoint (or /oidc/logout once "RP-Initiated Logout End
//     Session Endpoint Discovery" is switched on), but /v2/logout with
//     client_id and returnTo, served here.
func auth0() profileSpec {
	return profileSpec{
		accessJWT: func(_ AccessTokenFormat, aud []string) bool { return len(aud) > 0 },
		access: func(t *tokenFacts) jwtShape {
			aud := slices.Clone(t.audience)
			if slices.Contains(t.scopes, "openid") {
				aud = append(aud, t.issuer+"/userinfo")
			}
			return jwtShape{"JWT", t.times(map[string]any{
				"aud": audValue(aud), "azp": t.clientID, "scope": scopeString(t.scopes),
			})}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, map[string]any{
				"iss": t.issuer, "sub": t.subject, "aud": t.clientID, "iat": t.issued.Unix(), "exp": t.expiry.Unix(), "sid": t.sid,
			})
			return jwtShape{"JWT", t.withNonce(c)}
		},
		logout: func(t *tokenFacts) jwtShape {
			return jwtShape{"JWT", t.logoutClaims(map[string]any{"aud": t.clientID})}
		},
		tokenAuthMethods: []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		logoutURL:        providerLogout{"/v2/logout", "returnTo"},
	}
}

// okta reproduces an Okta custom authorization server (the "default" one)
// from https://developer.okta.com/docs/reference/api/oidc/ (tokens and
// claims, /introspect) and https://developer.okta.com/docs/guides/validate-access-tokens/:
//   - JWT access tokens with no typ header, ver 1, jti "AT.…", aud
//     api://default unless the server is set to another audience (the
//     requested audience here), cid (not client_id), uid, scp (an array);
//   - ID tokens with no typ header, jti "ID.…", amr, idp, at_hash;
//     refresh tokens opaque;
//   - introspection answers every kind it knows, access, ID and refresh
//     tokens, active with token_type "Bearer" (the reference gives it as
//     always Bearer); the refresh token's answer has no aud;
//   - no back-channel logout.
func okta() profileSpec {
	return profileSpec{
		accessJWT: alwaysJWT,
		access: func(t *tokenFacts) jwtShape {
			aud := "api://default"
			if len(t.audience) > 0 {
				aud = t.audience[0]
			}
			return jwtShape{"", t.times(map[string]any{
				"ver": 1, "jti": "AT." + t.jti, "aud": aud, "cid": t.clientID, "uid": oktaUID(t.subject), "scp": nonNil(t.scopes),
			})}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"ver": 1, "jti": "ID." + t.jti, "aud": t.clientID, "amr": []string{"pwd"}, "idp": "00o1okta0000000000x7",
				"at_hash": t.atHash,
			}))
			return jwtShape{"", t.withNonce(c)}
		},
		refreshTTL: 90 * 24 * time.Hour,
		introspection: introspectionSpec{
			answer: func(t introspected, _ string) map[string]any {
				resp := map[string]any{
					"active": true, "token_type": "Bearer", "client_id": t.clientID, "username": t.subject, "sub": t.subject,
					"uid": oktaUID(t.subject), "exp": t.expiry.Unix(), "iat": t.issued.Unix(),
				}
				if t.kind != kindID {
					resp["scope"] = scopeString(t.scopes)
				}
				if t.kind != kindRefresh {
					resp["aud"], resp["iss"], resp["jti"] = t.claims["aud"], t.claims["iss"], t.claims["jti"]
				}
				return resp
			},
			authMethods: []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		},
		tokenAuthMethods: []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		endSession:       true,
	}
}

// entraID reproduces Microsoft Entra ID v2.0 tokens from
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
// and .../id-token-claims-reference:
//   - JWT access tokens typed JWT: aud the API (its application ID URI or
//     client ID; Microsoft Graph's ID when none is asked for), azp the
//     client, scp the API's scopes space-separated, roles, oid, tid, ver
//     "2.0";
//   - ID tokens typed JWT with aud the client and the nonce; no at_hash
//     from the token endpoint; refresh tokens opaque;
//   - no introspection endpoint and no back-channel logout (front-channel
//     only).
func entraID() profileSpec {
	const (
		graph    = "00000003-0000-0000-c000-000000000000"
		tenantID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	)
	common := func(t *tokenFacts, aud string) map[string]any {
		return t.times(map[string]any{
			"aud": aud, "nbf": t.issued.Unix(), "aio": randomHash(), "oid": entraOID(t.subject), "rh": randomHash(),
			"tid": tenantID, "uti": randomHash(), "ver": "2.0",
		})
	}
	return profileSpec{
		accessJWT: alwaysJWT,
		access: func(t *tokenFacts) jwtShape {
			aud, scopes := graph, t.scopes
			if len(t.audience) > 0 {
				// A token for one API holds that API's scopes only.
				aud = t.audience[0]
				scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool {
					return s == "openid" || s == "profile" || s == "email" || s == "offline_access"
				})
			}
			c := common(t, aud)
			c["azp"], c["azpacr"] = t.clientID, "1"
			if len(scopes) > 0 {
				c["scp"] = scopeString(scopes)
			}
			for _, name := range []string{"name", "preferred_username"} {
				if v, ok := t.user[name]; ok {
					c[name] = v
				}
			}
			if roles := stringsClaim(t.rawUser, "roles"); len(roles) > 0 {
				c["roles"] = roles
			}
			return jwtShape{"JWT", c}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, common(t, t.clientID))
			return jwtShape{"JWT", t.withNonce(c)}
		},
		refreshPrefix:    "0.A",
		tokenAuthMethods: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		endSession:       true,
	}
}

// cognito reproduces Amazon Cognito user pools from
// https://docs.aws.amazon.com/cognito/latest/developerguide/ (amazon-cognito-user-pools-using-the-access-token,
// -using-the-id-token, -using-the-refresh-token, and the pool's
// openid-configuration):
//   - JWT access tokens with no typ header and no aud: client_id,
//     token_use "access", scope, username, cognito:groups;
//   - ID tokens with no typ header: aud the client, token_use "id",
//     cognito:username, at_hash, the nonce;
//   - refresh tokens are JWEs (RSA-OAEP, A256GCM) only Cognito can read;
//   - no introspection, no end_session_endpoint but the managed login's
//     /logout with client_id and logout_uri (served here on the issuer), no
//     back-channel logout.
func cognito() profileSpec {
	groups := func(t *tokenFacts, c map[string]any) map[string]any {
		if g := stringsClaim(t.rawUser, "groups"); len(g) > 0 {
			c["cognito:groups"] = g
		}
		delete(c, "groups")
		return c
	}
	return profileSpec{
		accessJWT: alwaysJWT,
		access: func(t *tokenFacts) jwtShape {
			return jwtShape{"", groups(t, t.times(map[string]any{
				"version": 2, "client_id": t.clientID, "origin_jti": randomHash(), "event_id": randomHash(),
				"token_use": "access", "scope": scopeString(t.scopes), "username": t.subject,
			}))}
		},
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{
				"aud": t.clientID, "at_hash": t.atHash, "cognito:username": t.subject, "origin_jti": randomHash(),
				"event_id": randomHash(), "token_use": "id",
			}))
			return jwtShape{"", t.withNonce(groups(t, c))}
		},
		encryptedRefresh: true,
		tokenAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		logoutURL:        providerLogout{"/logout", "logout_uri"},
	}
}

// google reproduces Google from
// https://developers.google.com/identity/openid-connect/openid-connect and
// https://accounts.google.com/.well-known/openid-configuration:
//   - access tokens are opaque (ya29.…) and there is no introspection
//     endpoint: only Google's own APIs can use them;
//   - ID tokens typed JWT with azp, aud the client, at_hash, the nonce;
//     refresh tokens opaque (1//…);
//   - no end_session_endpoint, no back-channel logout.
func google() profileSpec {
	return profileSpec{
		accessJWT: func(AccessTokenFormat, []string) bool { return false },
		access: func(t *tokenFacts) jwtShape {
			return jwtShape{"", map[string]any{"aud": t.clientID, "scope": scopeString(t.scopes)}}
		},
		accessPrefix: "ya29.",
		id: func(t *tokenFacts) jwtShape {
			c := withClaims(t.user, t.times(map[string]any{"azp": t.clientID, "aud": t.clientID, "at_hash": t.atHash}))
			delete(c, "jti")
			delete(c, "auth_time")
			return jwtShape{"JWT", t.withNonce(c)}
		},
		refreshPrefix:    "1//",
		tokenAuthMethods: []string{"client_secret_post", "client_secret_basic"},
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

// oktaUID is a user's stable Okta ID.
func oktaUID(subject string) string {
	return "00u" + base64.RawURLEncoding.EncodeToString([]byte(subject))
}

// entraOID is a user's stable object ID.
func entraOID(subject string) string {
	return "00000000-0000-0000-" + base64.RawURLEncoding.EncodeToString([]byte(subject))
}

package oidctest

import (
	"encoding/base64"
	"slices"
	"time"
)

// This file holds what the Profiles of hosted services reproduce, from
// their documentation, as providers.go does for the providers people run
// themselves. Nothing here has been checked against the services.

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

// oktaUID is a user's stable Okta ID.
func oktaUID(subject string) string {
	return "00u" + base64.RawURLEncoding.EncodeToString([]byte(subject))
}

// entraOID is a user's stable object ID.
func entraOID(subject string) string {
	return "00000000-0000-0000-" + base64.RawURLEncoding.EncodeToString([]byte(subject))
}

package oidctest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// bearerToken extracts an RFC 6750 §2.1 Authorization header token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func invalidToken(desc string) error {
	return &oauthError{
		status:       http.StatusUnauthorized,
		code:         "invalid_token",
		description:  desc,
		authenticate: `Bearer realm="oidctest", error="invalid_token", error_description="` + desc + `"`,
	}
}

func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	token, isDPoP, ok := presentedToken(r)
	if !ok {
		// RFC 6750 §3.1: no error code in the challenge when no token was
		// sent at all.
		writeOAuthError(w, &oauthError{
			status:       http.StatusUnauthorized,
			code:         "invalid_token",
			description:  "no bearer token in the Authorization header",
			authenticate: `Bearer realm="oidctest"`,
		})
		return
	}
	at, ok := s.liveAccessToken(token)
	if !ok {
		writeOAuthError(w, invalidToken("the access token is unknown, expired or revoked"))
		return
	}
	if err := s.checkBinding(w, r, pathUserInfo, token, isDPoP, at); err != nil {
		writeOAuthError(w, err)
		return
	}
	if !slices.Contains(at.scopes, "openid") {
		writeOAuthError(w, &oauthError{
			status:       http.StatusForbidden,
			code:         "insufficient_scope",
			description:  "the access token was not granted the openid scope",
			authenticate: `Bearer realm="oidctest", error="insufficient_scope", scope="openid"`,
		})
		return
	}
	claims := s.userClaims(at.subject, at.scopes)
	claims["sub"] = at.subject
	if s.faultsNow().has(FaultUserInfoSubMismatch) {
		claims["sub"] = "other-" + at.subject
	}
	writeJSON(w, http.StatusOK, claims)
}

func (s *Server) handleIntrospection(w http.ResponseWriter, r *http.Request) {
	if s.faultsNow().has(FaultIntrospectionDown) {
		writeOAuthError(w, unavailable("introspection"))
		return
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	form, err := parseForm(w, r, true)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	if spec := s.spec(); spec != nil {
		s.profileIntrospectionRequest(w, r, spec, form)
		return
	}
	if bearer, ok := bearerToken(r); ok {
		// RFC 7662 §2.1 lets a protected resource authenticate with its own
		// access token.
		at, live := s.liveAccessToken(bearer)
		if _, registered := s.client(at.clientID); !live || !registered {
			writeOAuthError(w, invalidToken("the bearer token is not an active token of a registered client"))
			return
		}
	} else if _, err := s.authenticateClient(r, form); err != nil {
		writeOAuthError(w, err)
		return
	}
	token, err := tokenParam(form)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.introspect(token))
}

// tokenParam returns the token parameter that introspection (RFC 7662 §2.1)
// and revocation (RFC 7009 §2.1) require.
func tokenParam(form url.Values) (string, error) {
	token, err := param(form, "token")
	if err == nil && token == "" {
		err = invalidRequest("token is required")
	}
	return token, err
}

// introspect builds the RFC 7662 §2.2 response.
func (s *Server) introspect(token string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	if at, ok := s.access[token]; ok && now.Before(at.expiry) {
		resp := withClaims(at.claims, map[string]any{
			"active":     true,
			"client_id":  at.clientID,
			"sub":        at.subject,
			"exp":        at.expiry.Unix(),
			"iat":        at.issued.Unix(),
			"iss":        s.URL,
			"aud":        audClaim(at.audience),
			"token_type": "Bearer",
		})
		if len(at.scopes) > 0 {
			resp["scope"] = scopeString(at.scopes)
		}
		if at.jkt != "" {
			// RFC 9449 §6.2.
			resp["cnf"] = map[string]any{"jkt": at.jkt}
			resp["token_type"] = "DPoP"
		}
		return resp
	}
	if rt, ok := s.refresh[token]; ok {
		resp := map[string]any{
			"active":     true,
			"client_id":  rt.grant.clientID,
			"sub":        rt.grant.subject,
			"iat":        rt.issued.Unix(),
			"iss":        s.URL,
			"token_type": "refresh_token",
		}
		if len(rt.grant.scopes) > 0 {
			resp["scope"] = scopeString(rt.grant.scopes)
		}
		return resp
	}
	return map[string]any{"active": false}
}

func (s *Server) handleRevocation(w http.ResponseWriter, r *http.Request) {
	form, c, ok := s.clientPost(w, r)
	if !ok {
		return
	}
	token, err := tokenParam(form)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	// A token of another client is left alone but still answered with 200:
	// telling the caller would reveal that the token exists (RFC 7009 §2.2
	// answers unknown tokens with 200 for the same reason).
	if owner, ok := s.tokenOwner(token); ok && owner == c.ID {
		s.Revoke(token)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

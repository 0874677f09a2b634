package oidctest

import (
	"net/http"
	"strings"
)

// discovery is the OpenID Provider Metadata document (OpenID Connect
// Discovery 1.0 §3, RFC 8414).
type discovery struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserInfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	BackchannelLogoutSupported                 bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported          bool     `json:"backchannel_logout_session_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint,omitempty"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests,omitempty"`
	DPoPSigningAlgValuesSupported              []string `json:"dpop_signing_alg_values_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if s.faultsNow().has(FaultDiscoveryDown) {
		writeOAuthError(w, unavailable("discovery"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	secretMethods := []string{"client_secret_basic", "client_secret_post"}
	d := discovery{
		Issuer:                                 s.URL,
		AuthorizationEndpoint:                  s.URL + pathAuthorize,
		TokenEndpoint:                          s.URL + pathToken,
		UserInfoEndpoint:                       s.URL + pathUserInfo,
		JWKSURI:                                s.URL + pathJWKS,
		RevocationEndpoint:                     s.URL + pathRevocation,
		EndSessionEndpoint:                     s.URL + pathEndSession,
		ScopesSupported:                        []string{"openid", "email", "profile", "groups", "offline_access"},
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       []string{s.opts.alg},
		TokenEndpointAuthMethodsSupported:      secretMethods,
		RevocationEndpointAuthMethodsSupported: secretMethods,
		CodeChallengeMethodsSupported:          []string{"S256", "plain"},
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
			"email", "email_verified", "name", "preferred_username", "groups",
		},
		BackchannelLogoutSupported:                 true,
		BackchannelLogoutSessionSupported:          true,
		AuthorizationResponseISSParameterSupported: true,
	}
	d.TokenEndpointAuthMethodsSupported = append(secretMethods[:2:2], "private_key_jwt")
	d.DPoPSigningAlgValuesSupported = strings.Fields(algNames())
	d.TokenEndpointAuthSigningAlgValuesSupported = d.DPoPSigningAlgValuesSupported
	if s.opts.par {
		d.PushedAuthorizationRequestEndpoint = s.URL + pathPAR
		d.RequirePushedAuthorizationRequests = s.opts.requirePAR
	}
	if s.opts.noEndSession {
		d.EndSessionEndpoint = ""
	}
	if !s.opts.noRegistration {
		d.RegistrationEndpoint = s.URL + pathRegistration
	}
	if !s.opts.noIntrospection {
		d.IntrospectionEndpoint = s.URL + pathIntrospection
		d.IntrospectionEndpointAuthMethodsSupported = append(secretMethods[:2:2], "private_key_jwt", "bearer")
	}
	if spec := s.spec(); spec != nil {
		spec.discovery(&d, s.IntrospectionURL())
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if s.faultsNow().has(FaultJWKSDown) {
		writeOAuthError(w, unavailable("the JWKS endpoint"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	writeJSON(w, http.StatusOK, s.jwks())
}

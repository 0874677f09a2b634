package oidctest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// clientMetadata is the subset of RFC 7591 §2 / OpenID Connect Dynamic
// Client Registration 1.0 §2 metadata this provider understands; other
// fields are ignored, as RFC 7591 §2 allows.
type clientMetadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri,omitempty"`
	// JWKS holds the public keys of a private_key_jwt client.
	JWKS *jose.JSONWebKeySet `json:"jwks,omitempty"`
}

// registration is the RFC 7591 §3.2.1 response.
type registration struct {
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt int64  `json:"client_secret_expires_at"`
	clientMetadata
}

func invalidMetadata(code, desc string) error {
	return &oauthError{status: http.StatusBadRequest, code: code, description: desc}
}

func (s *Server) handleRegistration(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if s.faultsNow().has(FaultRegistrationRefused) {
		writeOAuthError(w, invalidMetadata("invalid_client_metadata", "registration refused (fault injected)"))
		return
	}
	var md clientMetadata
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&md); err != nil {
		writeOAuthError(w, invalidMetadata("invalid_client_metadata", "the body is not a JSON client metadata object: "+err.Error()))
		return
	}
	if err := checkMetadata(&md); err != nil {
		writeOAuthError(w, err)
		return
	}
	reg := registration{
		ClientID:       rand.Text(),
		ClientSecret:   rand.Text() + rand.Text(),
		clientMetadata: md,
	}
	var keys []jose.JSONWebKey
	if md.TokenEndpointAuthMethod == "private_key_jwt" {
		// RFC 7591 §3.2.1: a client authenticating with its keys gets no
		// secret.
		reg.ClientSecret, keys = "", md.JWKS.Keys
	}
	reg.ClientIDIssuedAt = s.Now().Unix()
	s.AddClient(Client{
		Keys:                   keys,
		ID:                     reg.ClientID,
		Secret:                 reg.ClientSecret,
		RedirectURIs:           md.RedirectURIs,
		PostLogoutRedirectURIs: md.PostLogoutRedirectURIs,
		Scopes:                 strings.Fields(md.Scope),
		BackchannelLogoutURI:   md.BackchannelLogoutURI,
	})
	s.log.Info("oidctest: registered client", "client_id", reg.ClientID)
	writeJSON(w, http.StatusCreated, reg)
}

// checkMetadata validates md and fills in the RFC 7591 defaults.
func checkMetadata(md *clientMetadata) error {
	if len(md.RedirectURIs) == 0 {
		return invalidMetadata("invalid_redirect_uri", "redirect_uris is required")
	}
	for _, u := range md.RedirectURIs {
		if !absoluteURL(u) {
			return invalidMetadata("invalid_redirect_uri", "redirect URI "+u+" is not an absolute URL without fragment")
		}
	}
	for _, u := range md.PostLogoutRedirectURIs {
		if !absoluteURL(u) {
			return invalidMetadata("invalid_client_metadata", "post-logout redirect URI "+u+" is not an absolute URL without fragment")
		}
	}
	if md.BackchannelLogoutURI != "" && !absoluteURL(md.BackchannelLogoutURI) {
		return invalidMetadata("invalid_client_metadata", "backchannel_logout_uri is not an absolute URL without fragment")
	}
	switch md.TokenEndpointAuthMethod {
	case "":
		md.TokenEndpointAuthMethod = "client_secret_basic"
	case "client_secret_basic", "client_secret_post":
	case "private_key_jwt":
		if md.JWKS == nil || len(md.JWKS.Keys) == 0 {
			return invalidMetadata("invalid_client_metadata", "private_key_jwt needs the client's public keys in jwks")
		}
		for _, k := range md.JWKS.Keys {
			if !k.IsPublic() || !k.Valid() {
				return invalidMetadata("invalid_client_metadata", "jwks must hold valid public keys only")
			}
		}
	default:
		return invalidMetadata("invalid_client_metadata", "token_endpoint_auth_method must be client_secret_basic, client_secret_post or private_key_jwt")
	}
	if len(md.GrantTypes) == 0 {
		md.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range md.GrantTypes {
		if !slices.Contains([]string{"authorization_code", "refresh_token", "client_credentials"}, g) {
			return invalidMetadata("invalid_client_metadata", "unsupported grant type "+g)
		}
	}
	if len(md.ResponseTypes) == 0 {
		md.ResponseTypes = []string{"code"}
	}
	for _, rt := range md.ResponseTypes {
		if rt != "code" {
			return invalidMetadata("invalid_client_metadata", "unsupported response type "+rt)
		}
	}
	return nil
}

// absoluteURL is the rule redirect URIs (RFC 6749 §3.1.2) and resource
// indicators (RFC 8707 §2) share: absolute, without fragment.
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Fragment == ""
}

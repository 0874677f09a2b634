package oidctest

import (
	"fmt"
	"slices"
	"time"
)

// Fault is a misbehaviour the provider can be switched into, so that a
// relying party's defences can be tested. Several faults may be on at once.
// The package documentation maps each fault to the OpenID Foundation RP
// certification test it mirrors.
type Fault int

// The fault modes. Claim and signature faults apply to ID tokens, JWT access
// tokens (from the token endpoint and from IssueAccessToken) and logout
// tokens; nonce faults apply to ID tokens only, and FaultAZPMismatch only to
// tokens that carry azp (ID tokens).
const (
	// FaultWrongIssuer sets iss to another URL (WrongIssuerURL).
	FaultWrongIssuer Fault = iota + 1
	// FaultWrongAudience sets aud to another client (OtherClientID).
	FaultWrongAudience
	// FaultMultipleAudiences sets aud to [client, OtherClientID] with
	// azp=client. This is a legitimate token that relying parties must accept.
	FaultMultipleAudiences
	// FaultAZPMismatch sets aud to [client, OtherClientID] and azp to
	// OtherClientID.
	FaultAZPMismatch
	// FaultExpired sets exp one hour before the server clock (and iat one
	// token lifetime before that).
	FaultExpired
	// FaultIssuedInFuture sets iat one hour after the server clock (and exp one
	// token lifetime after that).
	FaultIssuedInFuture
	// FaultMissingNonce leaves nonce out of the ID token even when the
	// authorization request carried one.
	FaultMissingNonce
	// FaultWrongNonce puts a random nonce, different from the one sent, in the
	// ID token (also when none was sent).
	FaultWrongNonce
	// FaultMissingSubject leaves sub out of the token.
	FaultMissingSubject
	// FaultBadSignature signs the token properly and then alters the signature
	// bytes.
	FaultBadSignature
	// FaultAlgNone sends the token unsigned: header alg "none", empty
	// signature.
	FaultAlgNone
	// FaultHS256ClientSecret signs the token with HS256 using the client's
	// secret as the key, the algorithm-confusion attack.
	FaultHS256ClientSecret
	// FaultNoKID omits the kid header while the JWKS holds only the signing
	// key. This is legitimate and relying parties should accept it.
	FaultNoKID
	// FaultNoKIDMultipleKeys omits the kid header while the JWKS also holds an
	// unrelated key of the same type, so the verifier must try every key or
	// refuse.
	FaultNoKIDMultipleKeys
	// FaultUserInfoSubMismatch makes the userinfo endpoint answer with another
	// sub than the one in the ID token.
	FaultUserInfoSubMismatch
	// FaultTokenEndpointError makes the token endpoint answer 500 server_error.
	FaultTokenEndpointError
	// FaultTokenEndpointHang makes the token endpoint block until the request's
	// context is done or the Server is closed.
	FaultTokenEndpointHang
	// FaultDiscoveryDown makes the discovery endpoint answer 503.
	FaultDiscoveryDown
	// FaultJWKSDown makes the JWKS endpoint answer 503.
	FaultJWKSDown
	// FaultIntrospectionDown makes the introspection endpoint answer 503.
	FaultIntrospectionDown
	// FaultAccessDenied makes the authorization endpoint redirect back with
	// error=access_denied without asking the user.
	FaultAccessDenied
	// FaultWrongAuthResponseIssuer sends WrongIssuerURL as the RFC 9207 iss
	// parameter of the authorization response.
	FaultWrongAuthResponseIssuer
	// FaultRegistrationRefused makes the registration endpoint answer 400
	// invalid_client_metadata.
	FaultRegistrationRefused

	faultEnd // one past the last fault, to validate SetFault arguments
)

// WrongIssuerURL is the issuer that FaultWrongIssuer puts in tokens and
// FaultWrongAuthResponseIssuer puts in authorization responses.
const WrongIssuerURL = "https://wrong-issuer.example.com"

// OtherClientID is the foreign audience and authorized party used by
// FaultWrongAudience, FaultMultipleAudiences and FaultAZPMismatch.
const OtherClientID = "other-client"

// String returns the fault's Go name, e.g. "FaultWrongIssuer".
func (f Fault) String() string {
	switch f {
	case FaultWrongIssuer:
		return "FaultWrongIssuer"
	case FaultWrongAudience:
		return "FaultWrongAudience"
	case FaultMultipleAudiences:
		return "FaultMultipleAudiences"
	case FaultAZPMismatch:
		return "FaultAZPMismatch"
	case FaultExpired:
		return "FaultExpired"
	case FaultIssuedInFuture:
		return "FaultIssuedInFuture"
	case FaultMissingNonce:
		return "FaultMissingNonce"
	case FaultWrongNonce:
		return "FaultWrongNonce"
	case FaultMissingSubject:
		return "FaultMissingSubject"
	case FaultBadSignature:
		return "FaultBadSignature"
	case FaultAlgNone:
		return "FaultAlgNone"
	case FaultHS256ClientSecret:
		return "FaultHS256ClientSecret"
	case FaultNoKID:
		return "FaultNoKID"
	case FaultNoKIDMultipleKeys:
		return "FaultNoKIDMultipleKeys"
	case FaultUserInfoSubMismatch:
		return "FaultUserInfoSubMismatch"
	case FaultTokenEndpointError:
		return "FaultTokenEndpointError"
	case FaultTokenEndpointHang:
		return "FaultTokenEndpointHang"
	case FaultDiscoveryDown:
		return "FaultDiscoveryDown"
	case FaultJWKSDown:
		return "FaultJWKSDown"
	case FaultIntrospectionDown:
		return "FaultIntrospectionDown"
	case FaultAccessDenied:
		return "FaultAccessDenied"
	case FaultWrongAuthResponseIssuer:
		return "FaultWrongAuthResponseIssuer"
	case FaultRegistrationRefused:
		return "FaultRegistrationRefused"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// faultSet is a bit set of Faults; a value is a consistent snapshot that a
// request can use without holding the server lock.
type faultSet uint64

func (fs faultSet) has(f Fault) bool { return fs&(1<<uint(f)) != 0 }

// SetFault switches fault f on or off. Unknown faults are ignored. It is
// safe to call while requests are being served; each token is built from
// one consistent snapshot of the faults.
func (s *Server) SetFault(f Fault, on bool) {
	if f <= 0 || f >= faultEnd {
		return
	}
	if f == FaultNoKIDMultipleKeys && on {
		s.ensureDecoyKey()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.faults |= 1 << uint(f)
	} else {
		s.faults &^= 1 << uint(f)
	}
}

// ClearFaults switches every fault off.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = 0
}

func (s *Server) faultsNow() faultSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// lifetime returns the iat and exp of a token issued now for ttl, shifted
// by the time faults. The shifted token keeps its normal span so that only
// the fault under test is wrong with it.
func (fs faultSet) lifetime(now time.Time, ttl time.Duration) (iat, exp time.Time) {
	switch {
	case fs.has(FaultExpired):
		exp = now.Add(-time.Hour)
		return exp.Add(-ttl), exp
	case fs.has(FaultIssuedInFuture):
		iat = now.Add(time.Hour)
		return iat, iat.Add(ttl)
	}
	return now, now.Add(ttl)
}

// applyClaimFaults rewrites iss, sub, aud and azp of a JWT about to be
// signed; aud is the token's normal audience.
func (fs faultSet) applyClaimFaults(c map[string]any, aud []string) {
	if fs.has(FaultWrongIssuer) {
		c["iss"] = WrongIssuerURL
	}
	if fs.has(FaultMissingSubject) {
		delete(c, "sub")
	}
	_, hasAZP := c["azp"]
	switch {
	case fs.has(FaultWrongAudience):
		c["aud"] = OtherClientID
	case fs.has(FaultAZPMismatch) && hasAZP:
		c["aud"] = append(slices.Clone(aud), OtherClientID)
		c["azp"] = OtherClientID
	case fs.has(FaultMultipleAudiences):
		c["aud"] = append(slices.Clone(aud), OtherClientID)
	}
}

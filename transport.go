package httpoidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// providerTransport adds private_key_jwt client assertions and DPoP proofs
// to the requests that need them, whoever makes them (x/oauth2's token
// requests, go-oidc's userinfo, introspection, PAR, Client): requests to
// the client-authenticated endpoints get a fresh assertion in place of the
// client secret, requests to the token endpoint and requests sending a
// token with the DPoP scheme get a fresh proof, retried once with the
// server's nonce when it asks (RFC 9449 §8, §9).
type providerTransport struct {
	base http.RoundTripper
	oc   *OpenIDConnect

	mu     sync.Mutex
	nonces map[string]string // the last DPoP-Nonce of each origin
}

// maxNonceOrigins bounds the nonces remembered (Client may call any API).
const maxNonceOrigins = 1000

func (oc *OpenIDConnect) providerClient(base *http.Client) *http.Client {
	c := *base
	transport := c.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	c.Transport = &providerTransport{base: transport, oc: oc, nonces: map[string]string{}}
	return &c
}

func (t *providerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.oc.provider.Load()
	if p == nil || p.fapi == nil {
		// Without a discovered provider there is nothing to assert or prove.
		return t.base.RoundTrip(req)
	}
	origin := req.URL.Scheme + "://" + req.URL.Host
	endpoint := origin + req.URL.Path
	scheme, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	sendsDPoPToken := t.oc.dpopSigner != nil && strings.EqualFold(scheme, tokenTypeDPoP)
	toTokenEndpoint := endpoint == p.oauth2.Endpoint.TokenURL
	assert := p.fapi.assertions != nil && req.Method == http.MethodPost &&
		(toTokenEndpoint || endpoint == p.fapi.parURL || endpoint == p.fapi.revocationURL ||
			(endpoint == p.introspectionURL && p.introspectionAuthMethod == AuthPrivateKeyJWT))
	prove := p.fapi.dpop != nil && (toTokenEndpoint || sendsDPoPToken)
	if !assert && !prove {
		return t.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	send := func(nonce string) (*http.Response, error) {
		out := req.Clone(req.Context())
		content := body
		if assert {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, fmt.Errorf("httpoidc: client authentication: %w", err)
			}
			assertion, err := p.fapi.assertions.assertion()
			if err != nil {
				return nil, err
			}
			// RFC 7523 §2.2: the assertion is the only credential.
			form.Del("client_secret")
			out.Header.Del("Authorization")
			form.Set("client_id", t.oc.secrets.ClientID)
			form.Set("client_assertion_type", assertionType)
			form.Set("client_assertion", assertion)
			content = []byte(form.Encode())
		}
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(content)), int64(len(content))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }
		if prove {
			bound := ""
			if sendsDPoPToken {
				bound = strings.TrimSpace(token)
			}
			proof, err := p.fapi.dpop.Proof(req.Method, req.URL.String(), bound, nonce)
			if err != nil {
				return nil, err
			}
			out.Header.Set("DPoP", proof)
		}
		return t.base.RoundTrip(out)
	}
	nonce := t.nonce(origin)
	resp, err := send(nonce)
	if err != nil || !prove {
		return resp, err
	}
	fresh := resp.Header.Get("DPoP-Nonce")
	if fresh == "" {
		return resp, nil
	}
	t.setNonce(origin, fresh)
	if fresh == nonce {
		return resp, nil
	}
	retry, err := needsNonce(resp)
	if err != nil || !retry {
		return resp, err
	}
	resp.Body.Close()
	return send(fresh)
}

// needsNonce reports whether the server refused the proof for want of its
// nonce: a token endpoint's use_dpop_nonce error (RFC 9449 §8) or a
// resource's WWW-Authenticate DPoP error="use_dpop_nonce" (§9). It keeps
// resp's body readable.
func needsNonce(resp *http.Response) (bool, error) {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`), nil
	case http.StatusBadRequest:
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		var e struct {
			Error string `json:"error"`
		}
		return json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce", nil
	}
	return false, nil
}

func (t *providerTransport) nonce(origin string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[origin]
}

func (t *providerTransport) setNonce(origin, nonce string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, known := t.nonces[origin]; !known && len(t.nonces) >= maxNonceOrigins {
		clear(t.nonces)
	}
	t.nonces[origin] = nonce
}

// providerFAPI is what a discovered provider needs for PAR,
// private_key_jwt and DPoP.
type providerFAPI struct {
	parURL        string
	pushAlways    bool // Config.UsePAR or require_pushed_authorization_requests
	revocationURL string
	assertions    *assertionSigner // nil without ClientKey
	dpop          *dpop.Key        // nil without Config.DPoP
}

// fapiMetadata holds the discovery fields of these extensions.
type fapiMetadata struct {
	PAREndpoint        string   `json:"pushed_authorization_request_endpoint"`
	RequirePAR         bool     `json:"require_pushed_authorization_requests"`
	RevocationEndpoint string   `json:"revocation_endpoint"`
	DPoPAlgorithms     []string `json:"dpop_signing_alg_values_supported"`
	AssertionAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
}

// discoverFAPI reads the extensions' metadata and checks the
// configuration against it, at New.
func (oc *OpenIDConnect) discoverFAPI(claims func(any) error, issuer string) (*providerFAPI, error) {
	var meta fapiMetadata
	if err := claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %w", ErrProviderUnavailable, err)
	}
	f := &providerFAPI{parURL: meta.PAREndpoint, pushAlways: oc.cfg.UsePAR || meta.RequirePAR, revocationURL: meta.RevocationEndpoint}
	// RFC 9126 §2: the pushed request carries the client's credentials.
	if err := oc.checkProviderURL("pushed_authorization_request_endpoint", f.parURL); err != nil {
		return nil, err
	}
	if f.pushAlways && f.parURL == "" {
		return nil, fmt.Errorf("%w: UsePAR is set but the discovery document of %s has no pushed_authorization_request_endpoint", ErrInvalidConfig, issuer)
	}
	if key := oc.cfg.ClientKey; key != nil {
		alg, err := chooseAlgorithm(key.Algorithm, key.Signer.Public(), meta.AssertionAlgs, "ClientKey")
		if err != nil {
			return nil, err
		}
		if f.assertions, err = newAssertionSigner(key, alg, oc.secrets.ClientID, issuer, oc.cfg.Now); err != nil {
			return nil, err
		}
	}
	if oc.dpopSigner != nil {
		var err error
		if f.dpop, err = oc.newDPoPKey(meta.DPoPAlgorithms); err != nil {
			return nil, err
		}
	}
	return f, nil
}

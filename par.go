package httpoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// authorizationURL returns where the browser is sent to log in: the
// authorization endpoint with every parameter in its query or, with
// pushed authorization requests (RFC 9126), with only client_id and the
// request_uri the provider gave for the pushed parameters, so that
// nothing but an opaque handle passes through the browser.
func (oc *OpenIDConnect) authorizationURL(ctx context.Context, p *providerState, state string, opts []oauth2.AuthCodeOption) (string, error) {
	full := p.oauth2.AuthCodeURL(state, opts...)
	if p.fapi == nil || !p.fapi.pushAlways {
		return full, nil
	}
	u, err := url.Parse(full)
	if err != nil {
		return "", fmt.Errorf("%w: authorization URL: %w", ErrInvalidConfig, err)
	}
	requestURI, err := oc.push(ctx, p, u.Query())
	if err != nil {
		return "", err
	}
	query := url.Values{"client_id": {oc.secrets.ClientID}, "request_uri": {requestURI}}
	u.RawQuery = query.Encode()
	if base, err := url.Parse(p.oauth2.Endpoint.AuthURL); err == nil && base.RawQuery != "" {
		// Keep the parameters the endpoint URL itself carries.
		u.RawQuery = base.RawQuery + "&" + u.RawQuery
	}
	return u.String(), nil
}

// push sends the authorization request to the PAR endpoint with client
// authentication (RFC 9126 §2.1) and returns its request_uri.
func (oc *OpenIDConnect) push(ctx context.Context, p *providerState, form url.Values) (string, error) {
	ctx, cancel := oc.outbound(ctx)
	defer cancel()
	basic := p.oauth2.Endpoint.AuthStyle == oauth2.AuthStyleInHeader && p.fapi.assertions == nil
	if !basic && p.fapi.assertions == nil {
		form.Set("client_secret", oc.secrets.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.fapi.parURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: pushed authorization request: %w", ErrInvalidConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 §2.3.1: the credentials are form-encoded first.
		req.SetBasicAuth(url.QueryEscape(oc.secrets.ClientID), url.QueryEscape(oc.secrets.ClientSecret))
	}
	resp, err := oc.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: pushed authorization request: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: pushed authorization request: %w", ErrProviderUnavailable, err)
	}
	var answer struct {
		RequestURI string `json:"request_uri"`
		Error      string `json:"error"`
	}
	decodeErr := json.Unmarshal(body, &answer)
	switch {
	case resp.StatusCode >= 500:
		return "", fmt.Errorf("%w: pushed authorization request: status %d", ErrProviderUnavailable, resp.StatusCode)
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		// RFC 9126 §2.3: the provider refused the client or the request,
		// which no retry mends.
		return "", fmt.Errorf("%w: the provider refused the pushed authorization request: status %d, error %q", ErrInvalidConfig, resp.StatusCode, answer.Error)
	case decodeErr != nil || answer.RequestURI == "":
		return "", fmt.Errorf("%w: pushed authorization request: %w", ErrProviderUnavailable, errors.New("no request_uri in the answer"))
	}
	return answer.RequestURI, nil
}

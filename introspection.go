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
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
)

// checkIntrospection asks the provider about an opaque token, once for all
// the requests that present it at the same time.
func (oc *OpenIDConnect) checkIntrospection(ctx context.Context, p *providerState, raw string, key digest) (*Token, error) {
	rs := &oc.resource
	d := &key
	if _, refused := rs.rejected.get(d, oc.cfg.Now()); refused {
		return nil, fmt.Errorf("%w: inactive (remembered)", ErrInvalidToken)
	}
	// Do, as checkJWT: the call runs on the caller's goroutine, with no
	// goroutine or channel per token. Requests sharing it wait for its
	// answer, which Config.Timeout bounds.
	v, err, _ := rs.flight.Do(string(d[:]), func() (any, error) {
		now := oc.cfg.Now()
		if e, ok := rs.cache.get(d, now); ok {
			return e.tok, nil
		}
		if _, refused := rs.rejected.get(d, now); refused {
			return nil, fmt.Errorf("%w: inactive (remembered)", ErrInvalidToken)
		}
		// Only a call the caches cannot spare spends the budget: tokens
		// validated earlier never reach here, and requests sharing this
		// call take nothing. The budget runs on the wall clock, as the
		// provider's load does, not on Config.Now.
		if !rs.budget.allow(time.Now()) {
			return nil, errIntrospectionBudget
		}
		// Other requests share the answer, so the caller leaving must not
		// abort the request: its context gives only its values.
		return oc.introspect(oc.introspectionContext(ctx, p), p, raw, d)
	})
	if err != nil {
		return nil, err
	}
	return v.(*Token), nil
}

// introspectionContext is the context of an introspection call: ctx's
// values, and a deadline shared with the other calls (sharedDeadline). The
// HTTP client rides in it only for the client credentials grant of
// AuthBearer; the introspection request itself is sent with
// introspectionClient directly.
func (oc *OpenIDConnect) introspectionContext(ctx context.Context, p *providerState) context.Context {
	rs := &oc.resource
	ctx = deadlineWithValues{Context: rs.deadline.get(time.Now()), values: ctx}
	if p.introspectionAuthMethod == AuthBearer {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, oc.cfg.HTTPClient)
	}
	return ctx
}

// sharedDeadline bounds introspection calls without a timer each: the
// calls that start within a tenth of the bound share one context whose
// deadline is the bound after the first of them, so that each call gets
// between nine tenths of the bound and all of it. A timer per call
// (http.Client.Timeout, context.WithTimeout) cost 4% of the CPU of a new
// opaque token.
type sharedDeadline struct {
	bound time.Duration

	mu      sync.Mutex
	current context.Context
	cancel  context.CancelFunc
	renewAt time.Time
}

// newSharedDeadline returns a sharedDeadline for client, whose own Timeout
// it takes over when that is shorter than timeout, and the client to send
// with it: client without its Timeout.
func newSharedDeadline(client *http.Client, timeout time.Duration) (*sharedDeadline, *http.Client) {
	bound := timeout
	if client.Timeout > 0 {
		bound = min(bound, client.Timeout)
	}
	untimed := *client
	untimed.Timeout = 0
	return &sharedDeadline{bound: bound}, &untimed
}

// get returns the context for a call starting at now (wall clock).
func (s *sharedDeadline) get(now time.Time) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil || !now.Before(s.renewAt) {
		// The context replaced is not cancelled: the calls that have it
		// end at its deadline at the latest, when its timer releases it.
		s.current, s.cancel = context.WithDeadline(context.Background(), now.Add(s.bound))
		s.renewAt = now.Add(s.bound / 10)
	}
	return s.current
}

// stop releases the current context's timer.
func (s *sharedDeadline) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// deadlineWithValues is the deadline and cancellation of one context with
// the values of another. The deadline's context answers Value first: it
// answers only the context package's own key, through which the HTTP
// transport's child contexts attach to it (context.propagateCancel), where
// the values' context would make each of them start a goroutine.
type deadlineWithValues struct {
	context.Context
	values context.Context
}

func (c deadlineWithValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// introspect validates raw with the provider's introspection endpoint and
// caches the answer.
func (oc *OpenIDConnect) introspect(ctx context.Context, p *providerState, raw string, d *digest) (*Token, error) {
	var claims claimValues
	doc, err := oc.introspection(ctx, p, raw, &claims)
	if err != nil {
		return nil, err
	}
	now := oc.cfg.Now()
	ttl := oc.cfg.IntrospectionCacheTTL
	refuse := func(err error) (*Token, error) {
		if ttl > 0 {
			oc.resource.rejected.put(d, cacheEntry{expires: now.Add(min(ttl, rejectionTTL))}, now)
		}
		return nil, err
	}
	if active, _ := claims.active.boolean(); !active {
		return refuse(fmt.Errorf("%w: introspection: inactive", ErrInvalidToken))
	}
	pol := oc.resource.policy
	// Providers answer active for refresh and ID tokens too.
	if err := pol.judgeIntrospection(&claims, raw, p.issuer); err != nil {
		return refuse(err)
	}
	tok, err := newToken(doc, &claims)
	if err != nil {
		return nil, err
	}
	if tok.Issuer == "" {
		tok.Issuer = p.issuer
	}
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry.Add(oc.cfg.ClockSkew)) {
		return refuse(fmt.Errorf("%w: introspection: expired", ErrInvalidToken))
	}
	if err := pol.forThisAPI(tok, true); err != nil {
		return refuse(err)
	}
	if ttl > 0 {
		expires := now.Add(ttl)
		if !tok.Expiry.IsZero() {
			expires = earliest(expires, tok.Expiry.Add(oc.cfg.ClockSkew))
		}
		oc.resource.cache.put(d, cacheEntry{tok: tok, expires: expires}, now)
	}
	return tok, nil
}

// introspection posts raw to the introspection endpoint, reads the answer
// into claims and returns it. Anything but a 200 JSON object is the
// provider's failure.
func (oc *OpenIDConnect) introspection(ctx context.Context, p *providerState, raw string, claims *claimValues) (string, error) {
	for retried := false; ; retried = true {
		var bearer string
		if p.introspectionAuthMethod == AuthBearer {
			var err error
			if bearer, err = oc.resource.bearer.get(ctx, oc, p); err != nil {
				return "", err
			}
		}
		status, body, err := oc.postIntrospection(ctx, p, raw, bearer)
		if err != nil {
			return "", err
		}
		if status == http.StatusUnauthorized && bearer != "" && !retried {
			// The provider ended our access token before its expiry:
			// get another one and try once more.
			oc.resource.bearer.forget(bearer)
			continue
		}
		if status == http.StatusBadRequest {
			// oidc-provider answers its JWT access tokens with RFC 7009's
			// unsupported_token_type: it is up, and the token cannot be
			// accepted this way.
			var refusal struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(body, &refusal) == nil && refusal.Error == "unsupported_token_type" {
				return "", fmt.Errorf("%w: the introspection endpoint does not take this type of token", ErrInvalidToken)
			}
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			// RFC 7662 §2.3: the provider refuses this API, not the token;
			// no request will pass until a setting changes.
			return "", fmt.Errorf("%w: the introspection endpoint %s answered %d to client %q authenticating with %s: "+
				"check the client secret, that the provider lets this client introspect, and set "+
				"Config.IntrospectionAuthMethod (OIDC_INTROSPECTION_AUTH_METHOD) to a method it accepts",
				ErrInvalidConfig, p.introspectionURL, status, oc.secrets.ClientID, p.introspectionAuthMethod)
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("%w: introspection endpoint answered %d", ErrProviderUnavailable, status)
		}
		// The body is this answer's own, never changed: the claims read
		// from it share its memory.
		doc := stringOf(body)
		if err := readClaims(doc, claims); err != nil {
			return "", fmt.Errorf("%w: introspection answer is not a JSON object", ErrProviderUnavailable)
		}
		return doc, nil
	}
}

// maxIntrospectionAnswer bounds the introspection answer read.
const maxIntrospectionAnswer = 1 << 20

func (oc *OpenIDConnect) postIntrospection(ctx context.Context, p *providerState, raw, bearer string) (int, []byte, error) {
	// The form is written out rather than built as url.Values, which
	// costs a map and a sort on every call.
	form := "token=" + url.QueryEscape(raw) + "&token_type_hint=access_token"
	if p.introspectionAuthMethod == AuthClientSecretPost {
		form += "&client_id=" + url.QueryEscape(oc.secrets.ClientID) + "&client_secret=" + url.QueryEscape(oc.secrets.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.introspectionURL, strings.NewReader(form))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: introspection request: %w", ErrInvalidConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	switch p.introspectionAuthMethod {
	case AuthClientSecretBasic:
		req.Header.Set("Authorization", oc.resource.basicAuthorization)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := oc.resource.introspectionClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: introspection: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	var body []byte
	if n := resp.ContentLength; n >= 0 && n <= maxIntrospectionAnswer {
		// Read into a buffer of the announced size, which a cached
		// answer keeps no more of than it needs.
		body = make([]byte, n)
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionAnswer))
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: reading introspection answer: %w", ErrProviderUnavailable, err)
	}
	return resp.StatusCode, body, nil
}

// introspectionBearer is the access token that authenticates introspection
// requests with AuthBearer, obtained by the client credentials grant and
// reused until it is about to expire.
type introspectionBearer struct {
	mu     sync.Mutex
	token  string
	expiry time.Time // on Config.Now's clock; zero when the provider did not say
	flight singleflight.Group
}

// bearerExpiryMargin renews the token this long before it expires, so that
// it does not expire on the way to the provider.
const bearerExpiryMargin = 10 * time.Second

func (b *introspectionBearer) get(ctx context.Context, oc *OpenIDConnect, p *providerState) (string, error) {
	b.mu.Lock()
	token, expiry := b.token, b.expiry
	b.mu.Unlock()
	if token != "" && (expiry.IsZero() || oc.cfg.Now().Add(bearerExpiryMargin).Before(expiry)) {
		return token, nil
	}
	v, err, _ := b.flight.Do("", func() (any, error) {
		cc := clientcredentials.Config{
			ClientID:     oc.secrets.ClientID,
			ClientSecret: oc.secrets.ClientSecret,
			TokenURL:     p.oauth2.Endpoint.TokenURL,
			AuthStyle:    p.oauth2.Endpoint.AuthStyle,
		}
		tok, err := cc.Token(ctx)
		var refused *oauth2.RetrieveError
		if errors.As(err, &refused) && refused.Response != nil && refused.Response.StatusCode < 500 {
			// RFC 6749 §5.2: the provider refuses this client the grant
			// (invalid_client, unauthorized_client): no retry mends that.
			return nil, fmt.Errorf("%w: the token endpoint refused client %q the client credentials grant that "+
				"IntrospectionAuthMethod bearer needs (%s): check the client secret and that the client may use "+
				"the grant, or choose another IntrospectionAuthMethod", ErrInvalidConfig, oc.secrets.ClientID, refused.ErrorCode)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: client credentials grant for introspection: %w", ErrProviderUnavailable, err)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.token, b.expiry = tok.AccessToken, time.Time{}
		if exp := oc.expiryUnix(tok); exp != 0 {
			b.expiry = time.Unix(exp, 0)
		}
		return tok.AccessToken, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// forget drops token if it is still the current one.
func (b *introspectionBearer) forget(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token == token {
		b.token = ""
	}
}

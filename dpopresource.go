package httpoidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/httpoidc/httpoidc/internal/dpop"
)

// DPoP in AcceptToken (RFC 9449 §7): a request may present its access
// token with the DPoP scheme and a DPoP header holding a proof, a JWT
// signed by the client's own key for this one request. The proof is
// checked before the token (internal/dpop does what a single proof can be
// checked for: typ, an asymmetric alg, the signature by its jwk, htm, htu,
// iat and ath; here the nonce), then the token, then the binding: the
// token's cnf.jkt (a JWT's claim, or the introspection answer's member,
// RFC 9449 §6) must be the thumbprint of the proof's key, and the proof's
// jti must not have been seen before.

const (
	// dpopProofLifetime is how long after its iat a proof is accepted,
	// Config.ClockSkew aside (RFC 9449 §11.1: a proof is for one request,
	// sent at once).
	dpopProofLifetime = time.Minute
	// dpopNonceStep is how often the server's nonce changes, and
	// dpopNonceLifetime how long a nonce stays good after it was issued.
	dpopNonceStep     = time.Minute
	dpopNonceLifetime = 5 * time.Minute
	// dpopReplayCacheSize bounds the proof IDs each process remembers
	// (24 bytes each, about 50 MB when full): two minutes' worth (the
	// proof lifetime and the default ClockSkew) at over 8000 DPoP requests
	// a second, about what one core can verify. Beyond it the oldest are
	// forgotten and proofs as old refused (replayCache).
	dpopReplayCacheSize = 1 << 20
)

// Error descriptions of DPoP refusals: fixed sentences, as in resource.go.
const (
	descDPoPRequired   = "this API accepts only DPoP-bound access tokens, with the DPoP scheme and a DPoP proof"
	descInvalidProof   = "the DPoP proof is missing, malformed, replayed or does not match the request and the access token"
	descUseNonce       = "the DPoP proof must carry the server's nonce from the DPoP-Nonce header"
	descBoundAsBearer  = "the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof"
	descInvalidBinding = "the access token is not bound to the key that signed the DPoP proof"
)

// dpopState is the resource server's DPoP state, shared by every
// AcceptToken of an OpenIDConnect.
type dpopState struct {
	replay *replayCache
	// store, when set, is the session store the replay guard shares with
	// other replicas.
	store scs.Store
	// nonceKey authenticates the nonces this server issues; derived once,
	// by the first AcceptToken, when RequireDPoPNonce is set.
	nonceOnce sync.Once
	nonceKey  []byte
	// algs is the algs parameter of DPoP challenges (RFC 9449 §7.1).
	algs string
}

func newDPoPState(cfg *Config) *dpopState {
	s := &dpopState{replay: newReplayCache(dpopReplayCacheSize)}
	switch {
	case cfg.SessionStore != nil:
		s.store = cfg.SessionStore
	case cfg.Sessions != nil:
		s.store = cfg.Sessions.Store
	}
	algs := make([]string, len(dpop.Algorithms))
	for i, a := range dpop.Algorithms {
		algs[i] = string(a)
	}
	s.algs = strings.Join(algs, " ")
	return s
}

// initDPoP prepares an acceptor's DPoP challenges: a DPoP challenge offered
// beside the Bearer one, or instead of it with Config.RequireDPoP.
func (a *acceptor) initDPoP() {
	s := a.oc.resource.dpop
	a.dpop = newChallenges(fmt.Sprintf("DPoP realm=%q", a.oc.cfg.Realm), `, algs="`+s.algs+`"`, a.required)
	if a.oc.cfg.RequireDPoP {
		a.bearer = a.dpop
	} else {
		a.bearer.offers = []string{a.dpop.realm}
	}
	if a.oc.cfg.RequireDPoPNonce {
		s.nonceOnce.Do(func() { s.nonceKey = a.oc.dpopNonceKey() })
	}
}

// dpopError answers 401 with a DPoP challenge carrying code (RFC 9449
// §7.1), and with the current nonce when nonces are on (§9).
func (a *acceptor) dpopError(w http.ResponseWriter, code, description string) {
	a.setNonce(w)
	challenge := fmt.Sprintf(`DPoP realm=%q, error=%q, error_description=%q, algs="%s"`, a.oc.cfg.Realm, code, description, a.oc.resource.dpop.algs)
	writeBearerError(w, http.StatusUnauthorized, challenge, code, description)
}

func (a *acceptor) setNonce(w http.ResponseWriter) {
	if s := a.oc.resource.dpop; s.nonceKey != nil {
		w.Header().Set("DPoP-Nonce", s.nonce(a.oc.cfg.Now()))
	}
}

// checkProof checks the DPoP proof of a request whose token came with the
// DPoP scheme, and refuses a bearer token when Config.RequireDPoP is set.
// It returns the proof (nil for a bearer token), or false after answering
// the request.
func (a *acceptor) checkProof(w http.ResponseWriter, r *http.Request, raw string, isDPoP bool) (*dpop.Proof, bool) {
	cfg := &a.oc.cfg
	if cfg.Disabled {
		// The testing switch takes any token, as it takes any bearer token.
		return nil, true
	}
	if !isDPoP {
		if cfg.RequireDPoP {
			a.oc.log.Debug("httpoidc: bearer token refused: Config.RequireDPoP", "path", r.URL.Path)
			a.dpopError(w, "invalid_token", descDPoPRequired)
			return nil, false
		}
		return nil, true
	}
	// RFC 9449 §4.3 step 1: exactly one DPoP header.
	values := r.Header.Values("DPoP")
	if len(values) != 1 {
		a.oc.log.Debug("httpoidc: DPoP proof refused", "path", r.URL.Path, "reason", fmt.Sprintf("%d DPoP headers", len(values)))
		a.dpopError(w, "invalid_dpop_proof", descInvalidProof)
		return nil, false
	}
	now := cfg.Now()
	proof, err := dpop.Verify(values[0], dpop.Request{
		Method:      r.Method,
		URL:         a.oc.requestURL(r),
		AccessToken: raw,
		Now:         now,
		MaxAge:      dpopProofLifetime,
		Leeway:      cfg.ClockSkew,
	})
	if err != nil {
		a.oc.log.Debug("httpoidc: DPoP proof refused", "path", r.URL.Path, "reason", err)
		a.dpopError(w, "invalid_dpop_proof", descInvalidProof)
		return nil, false
	}
	// RFC 9449 §9: with nonces on, a proof without the server's nonce, or
	// with one too old, is answered with a fresh nonce to retry with.
	if s := a.oc.resource.dpop; s.nonceKey != nil && !s.validNonce(proof.Nonce, now, cfg.ClockSkew) {
		a.oc.log.Debug("httpoidc: DPoP proof refused: no valid nonce", "path", r.URL.Path)
		a.dpopError(w, "use_dpop_nonce", descUseNonce)
		return nil, false
	}
	return proof, true
}

// checkBinding checks that a valid token is presented as its binding says
// (RFC 9449 §7.1, §7.2), and records the proof's jti. It returns false
// after answering the request.
func (a *acceptor) checkBinding(w http.ResponseWriter, r *http.Request, tok *Token, proof *dpop.Proof) bool {
	if a.oc.cfg.Disabled {
		return true
	}
	jkt, bound := tok.confirmation()
	switch {
	case proof == nil && bound:
		// RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is
		// refused, else whoever stole it could use it without the key.
		a.oc.log.Debug("httpoidc: DPoP-bound token refused: sent as a bearer token", "path", r.URL.Path)
		a.dpopError(w, "invalid_token", descBoundAsBearer)
		return false
	case proof == nil:
		return true
	case !bound || subtle.ConstantTimeCompare([]byte(jkt), []byte(proof.Thumbprint)) != 1:
		// RFC 9449 §7.1: the proof's key must be the one the token is
		// bound to; a token bound to no key is no DPoP token.
		a.oc.log.Debug("httpoidc: DPoP-bound token refused: the proof's key is not the token's cnf.jkt", "path", r.URL.Path, "bound", bound)
		a.dpopError(w, "invalid_token", descInvalidBinding)
		return false
	}
	// RFC 9449 §11.1: a proof is good for one request. Recorded only now,
	// after the token is known good, so that only holders of a valid
	// bound token can fill the cache.
	replayed, err := a.oc.resource.dpop.replayed(r.Context(), proof, a.oc.cfg.Now(), a.oc.cfg.ClockSkew)
	if err != nil {
		a.oc.log.Warn("httpoidc: DPoP proof not checked for replay: session store", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "5")
		writeBearerError(w, http.StatusServiceUnavailable, "", "temporarily_unavailable", descUnavailable)
		return false
	}
	if replayed {
		a.oc.log.Debug("httpoidc: DPoP proof refused: jti replayed", "path", r.URL.Path)
		a.dpopError(w, "invalid_dpop_proof", descInvalidProof)
		return false
	}
	a.setNonce(w)
	return true
}

// confirmation returns the token's cnf.jkt and whether the token is
// DPoP-bound (claimValues.confirmation).
func (t *Token) confirmation() (string, bool) {
	if t.claims == nil {
		return "", false
	}
	return t.claims.jkt, t.claims.bound
}

// requestURL returns the absolute URL of r as the client sent it, for
// htu: behind Config.TrustedProxies, the scheme and host of
// X-Forwarded-Proto and X-Forwarded-Host; the path as received, under
// Config.BasePath if a proxy stripped it.
func (oc *OpenIDConnect) requestURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if oc.trustedPeer(r.RemoteAddr) {
		if v := firstForwarded(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstForwarded(r.Header.Get("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	// RequestURI is the path as received, before any http.StripPrefix.
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "*" {
		path = u.EscapedPath()
	}
	if base := oc.cfg.BasePath; base != "" && path != base && !strings.HasPrefix(path, base+"/") {
		path = base + path
	}
	return scheme + "://" + host + path
}

// firstForwarded returns the first of a comma-separated X-Forwarded-*
// value: the one the proxy nearest the client set.
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

var loopbackProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// trustedPeer reports whether the request came from Config.TrustedProxies.
func (oc *OpenIDConnect) trustedPeer(remoteAddr string) bool {
	trusted := oc.cfg.TrustedProxies
	if trusted == nil {
		trusted = loopbackProxies
	}
	return trustedAddr(trusted, remoteIP(remoteAddr))
}

// trustedAddr reports whether ip (IPv4-mapped IPv6 as IPv4) is in one of
// trusted; an invalid ip is in none.
func trustedAddr(trusted []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// replayed records the proof's jti (with its key's thumbprint: jti values
// are unique per key) until the proof would expire, and reports whether it
// was recorded already, in this process or, through the shared session
// store, in another replica.
func (s *dpopState) replayed(ctx context.Context, proof *dpop.Proof, now time.Time, skew time.Duration) (bool, error) {
	d := sha256.Sum256([]byte(proof.Thumbprint + "\x00" + proof.ID))
	until := proof.IssuedAt.Time().Add(dpopProofLifetime + skew)
	if !s.replay.add(replayID(d[:16]), until, now) {
		return true, nil
	}
	if s.store == nil {
		return false, nil
	}
	// The store has no add-if-absent: two replicas receiving one proof in
	// the same instant could both pass; the in-process guard above is
	// exact.
	store := sessionStore{ctx: ctx, store: s.store}
	key := "httpoidc-dpop-jti-" + base64.RawURLEncoding.EncodeToString(d[:])
	if _, found, err := store.find(key); err != nil || found {
		return found, err
	}
	// Stores expire entries by the wall clock, whatever Config.Now says.
	return false, store.commit(key, []byte{1}, time.Now().Add(until.Sub(now)))
}

// replayCache remembers proof IDs, at most size of them, the oldest
// forgotten first. Forgetting one before its proof expires raises a floor:
// proofs expiring no later are refused, since the cache could no longer
// tell a replay of them. A flood therefore costs legitimate clients a
// retry with a fresh proof, never a replay.
type replayCache struct {
	mu    sync.Mutex
	seen  map[replayID]int64 // until when (Unix nanoseconds) each ID must be remembered
	order []replayID         // ring of the IDs in seen, oldest at next
	next  int
	floor int64
	size  int
}

// replayID is half the SHA-256 of a proof's key thumbprint and jti: 128
// bits, which no one can find a second value for.
type replayID [16]byte

func newReplayCache(size int) *replayCache {
	return &replayCache{seen: make(map[replayID]int64), size: size}
}

// add records id, remembered until until, and reports whether it was new.
func (c *replayCache) add(id replayID, until, now time.Time) bool {
	u := until.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.seen[id]; seen || u <= c.floor {
		return false
	}
	if len(c.order) < c.size {
		c.order = append(c.order, id)
	} else {
		old := c.order[c.next]
		if t := c.seen[old]; t > now.UnixNano() && t > c.floor {
			c.floor = t
		}
		delete(c.seen, old)
		c.order[c.next] = id
		c.next = (c.next + 1) % c.size
	}
	c.seen[id] = u
	return true
}

// dpopNonceKey returns the key of DPoP nonces, the same on every replica
// (sharedkey.go).
func (oc *OpenIDConnect) dpopNonceKey() []byte {
	key, err := oc.sharedKey("httpoidc DPoP nonce v1")
	if err != nil {
		// Only in FIPS 140-only mode with a short secret: this process's
		// own key still issues and checks its nonces.
		key = make([]byte, 32)
		rand.Read(key)
	}
	return key
}

// nonce returns the server's current DPoP nonce: the start of the current
// step and its HMAC, so any replica holding the key can check it without
// state (RFC 9449 §8.2 leaves the form to the server).
func (s *dpopState) nonce(now time.Time) string {
	step := now.Truncate(dpopNonceStep).Unix()
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(step))
	copy(b[8:], s.nonceMAC(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *dpopState) nonceMAC(issued []byte) []byte {
	m := hmac.New(sha256.New, s.nonceKey)
	m.Write(issued)
	return m.Sum(nil)[:16]
}

// validNonce reports whether nonce is one this server issued, at most
// dpopNonceLifetime ago.
func (s *dpopState) validNonce(nonce string, now time.Time, skew time.Duration) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 8+16 || !hmac.Equal(b[8:], s.nonceMAC(b[:8])) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return !issued.After(now.Add(skew)) && now.Sub(issued) < dpopNonceLifetime+skew
}

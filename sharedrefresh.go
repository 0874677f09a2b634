package httpoidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Replicas that share a session store also share refreshes. Two replicas
// refreshing the same session at once would each send the refresh token;
// a provider that rotates refresh tokens honours the first and refuses the
// second, and that user would be sent through login again. So the refresh
// grant is made by one replica only, and its result is kept in the store
// for recentRefreshTTL under a hash of the old refresh token: the other
// replicas wait for it and reuse it.
//
// scs stores offer no atomic "set if absent", so the one replica is chosen
// with Fischer's timed mutual exclusion: a replica that finds no claim
// writes its own, waits refreshClaimDelay, and refreshes only if its claim
// is still the one stored. That is exact when reading the absent claim and
// writing one's own takes less than refreshClaimDelay; a replica measures
// it, and one that was slower does not refresh but waits for the result
// (when no replica could trust its claim, the requests keep the old tokens
// until the claim expires, after Config.Timeout, and the next one
// refreshes: safety, one grant, comes before speed).
// The claim is released once the result is in the store, so a replica that
// wins a claim looks for a result once more before refreshing.

const (
	// refreshClaimDelay is how long a replica waits after claiming a
	// refresh before it trusts the claim.
	refreshClaimDelay = 250 * time.Millisecond
	// refreshPollInterval is how often a waiting replica looks for the
	// result.
	refreshPollInterval = 20 * time.Millisecond
)

// sharedRefresh is what the store holds about one refresh token's refresh:
// the new tokens, or why the provider refused.
type sharedRefresh struct {
	loginTokens
	// Profile is there when the refresh updated the profile.
	Profile map[string]any `json:"profile,omitempty"`
	Refused string         `json:"refused,omitempty"`
}

func refreshResultKey(key string) string { return "httpoidc-refreshed-" + key }
func refreshClaimKey(key string) string  { return "httpoidc-refreshing-" + key }

// refreshShared refreshes the login, or reuses the refresh another replica
// made or is making of the same refresh token (whose hash is key).
func (oc *OpenIDConnect) refreshShared(ctx context.Context, key string, login *loginData) (*loginData, error) {
	store := oc.store(ctx)
	claim := []byte(rand.Text())
	// A replica that claimed the refresh and died leaves a claim that
	// expires: the others then try again.
	claimTTL := oc.cfg.Timeout + 2*refreshClaimDelay
	deadline := time.Now().Add(claimTTL + refreshClaimDelay)
	for {
		if fresh, found, err := oc.sharedRefreshResult(ctx, key, login); err != nil || found {
			return fresh, err
		}
		began := time.Now()
		_, claimed, err := store.find(refreshClaimKey(key))
		if err != nil {
			return nil, fmt.Errorf("%w: session store: %w", ErrProviderUnavailable, err)
		}
		if !claimed {
			// Stores expire entries by the wall clock.
			if err := store.commit(refreshClaimKey(key), claim, time.Now().Add(claimTTL)); err != nil {
				return nil, fmt.Errorf("%w: session store: %w", ErrProviderUnavailable, err)
			}
			// Fischer's bound: a claim written later than refreshClaimDelay
			// after the read that found none may have landed after another
			// replica trusted its own; this one then only waits.
			trusted := time.Since(began) < refreshClaimDelay
			time.Sleep(refreshClaimDelay)
			current, stillClaimed, err := store.find(refreshClaimKey(key))
			if err != nil {
				return nil, fmt.Errorf("%w: session store: %w", ErrProviderUnavailable, err)
			}
			if trusted && stillClaimed && bytes.Equal(current, claim) {
				// The replica that refreshed before may have shared its
				// result and released its claim between this replica's
				// two first reads.
				if fresh, found, err := oc.sharedRefreshResult(ctx, key, login); err != nil || found {
					oc.releaseRefreshClaim(ctx, key)
					return fresh, err
				}
				return oc.refreshAndShare(ctx, key, login)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: another replica's token refresh did not finish", ErrProviderUnavailable)
		}
		time.Sleep(refreshPollInterval)
	}
}

// releaseRefreshClaim deletes this replica's claim, so that a failed
// refresh can be tried again at once.
func (oc *OpenIDConnect) releaseRefreshClaim(ctx context.Context, key string) {
	if err := oc.store(ctx).delete(refreshClaimKey(key)); err != nil {
		oc.log.Warn("httpoidc: releasing a token refresh claim", "error", err)
	}
}

// refreshAndShare makes the refresh grant this replica claimed and leaves
// its outcome in the store for the others.
func (oc *OpenIDConnect) refreshAndShare(ctx context.Context, key string, login *loginData) (*loginData, error) {
	store := oc.store(ctx)
	fresh, err := oc.refreshGrant(ctx, login)
	var shared sharedRefresh
	switch {
	case err == nil:
		shared = sharedRefresh{loginTokens: fresh.loginTokens, Profile: fresh.Profile}
	case errors.Is(err, errRefreshRejected):
		shared = sharedRefresh{Refused: err.Error()}
	default:
		// A transient failure is not shared: the next replica to try
		// makes its own attempt.
		oc.releaseRefreshClaim(ctx, key)
		return nil, err
	}
	raw, _ := json.Marshal(shared)
	if cerr := store.commit(refreshResultKey(key), raw, time.Now().Add(recentRefreshTTL)); cerr != nil {
		oc.log.Warn("httpoidc: sharing a token refresh with other replicas", "error", cerr)
	} else {
		oc.releaseRefreshClaim(ctx, key)
	}
	return fresh, err
}

// sharedRefreshResult returns the login with the tokens another replica's
// refresh of the same refresh token left in the store, if there are any
// and they do not need refreshing themselves (a provider that does not
// rotate refresh tokens makes every refresh of a login use one key).
func (oc *OpenIDConnect) sharedRefreshResult(ctx context.Context, key string, login *loginData) (*loginData, bool, error) {
	raw, found, err := oc.store(ctx).find(refreshResultKey(key))
	if err != nil {
		return nil, false, fmt.Errorf("%w: session store: %w", ErrProviderUnavailable, err)
	}
	if !found {
		return nil, false, nil
	}
	var shared sharedRefresh
	if err := json.Unmarshal(raw, &shared); err != nil {
		return nil, false, nil
	}
	if shared.Refused != "" {
		return nil, true, fmt.Errorf("%w: refused when another replica refreshed it (%s)", errRefreshRejected, shared.Refused)
	}
	fresh := *login
	fresh.loginTokens = shared.loginTokens
	if shared.Profile != nil {
		fresh.Profile = shared.Profile
	}
	if oc.needsRefresh(&fresh) {
		return nil, false, nil
	}
	return &fresh, true, nil
}

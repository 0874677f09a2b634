package httpoidc

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// errIntrospectionBudget refuses to introspect a token never seen before
// because Config.IntrospectionsPerSecond is spent: the API is overloaded,
// not the token refused, so the answer is 503, and the provider is spared.
var errIntrospectionBudget = fmt.Errorf("%w: introspection budget spent", ErrProviderUnavailable)

// isBudgetSpent tells a refusal by the budget from an unreachable provider.
func isBudgetSpent(err error) bool { return errors.Is(err, errIntrospectionBudget) }

// tokenBucket allows rate events a second on average and bursts of up to
// rate. A nil bucket allows everything.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newTokenBucket(perSecond int) *tokenBucket {
	if perSecond < 0 {
		return nil
	}
	return &tokenBucket{rate: float64(perSecond), tokens: float64(perSecond)}
}

// allow takes one event from the bucket at now, if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		if !b.last.IsZero() {
			b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		}
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

package httpoidc

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenCacheBound(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 10, 1000, 10000} {
		c := newTokenCache(size)
		now := time.Now()
		for i := range 100_000 {
			d := digest(sha256.Sum256(fmt.Appendf(nil, "token-%d", i)))
			c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		}
		require.LessOrEqual(t, c.len(), size)
		require.GreaterOrEqual(t, c.len(), size*9/10, "the cache is used")
		// The latest entry is always there.
		d := digest(sha256.Sum256(fmt.Appendf(nil, "token-%d", 99_999)))
		_, ok := c.get(&d, now)
		require.True(t, ok)
	}
}

// TestTokenCachePrefersExpiredVictims checks that a full cache evicts an
// expired entry rather than a live one when its sample holds one.
func TestTokenCachePrefersExpiredVictims(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for trial := range 500 {
		c := newTokenCache(64)
		live := digest{0xff}
		c.put(&live, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		for i := range 63 {
			d := digest{byte(i)}
			c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(-time.Second)}, now)
		}
		d := digest{0xfe}
		c.put(&d, cacheEntry{tok: &Token{}, expires: now.Add(time.Hour)}, now)
		require.Equal(t, 64, c.len())
		_, ok := c.get(&live, now)
		require.True(t, ok, "trial %d", trial)
	}
}

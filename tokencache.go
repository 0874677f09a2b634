package httpoidc

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// digest is the SHA-256 of a bearer token: caches and the single-flight
// group are keyed by it, so they never hold a token as a key.
type digest [sha256.Size]byte

// tokenDigest returns the digest of token. It hashes the string's bytes
// in place: converting the string to a []byte would copy and allocate on
// every request of the cache hit path, and Sum256 neither keeps nor
// changes its argument.
func tokenDigest(token string) digest {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// cacheEntry is a remembered validation result.
type cacheEntry struct {
	tok     *Token // nil for a remembered rejection
	expires time.Time
	// keys and thumbprint name the key that verified a JWT; a hit needs
	// keys.has(thumbprint), so a key removed at the provider stops vouching
	// for the tokens it signed. Both are zero for introspection results.
	keys       *keySet
	thumbprint string
}

// valid reports whether the entry can answer at now.
func (e *cacheEntry) valid(now time.Time) bool {
	return now.Before(e.expires) && (e.keys == nil || e.keys.has(e.thumbprint, now))
}

// tokenCache is a bounded map from token digests to validation results.
// It is split into shards, each with its own lock, so that concurrent hits
// on different tokens rarely meet; a full shard evicts an expired entry if
// it finds one among a few, else a random one (Go randomizes where map
// iteration starts). Random eviction keeps the hit path to one read lock
// and one map lookup, with no bookkeeping to update, and is as good as LRU
// for tokens, which are all used at about the same rate until they expire.
type tokenCache struct {
	shards   []cacheShard
	perShard int
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[digest]cacheEntry
	// The padding keeps two shards' locks off one cache line.
	_ [32]byte
}

// evictionSample is how many entries a full shard looks at for an expired
// one before evicting at random.
const evictionSample = 4

// newTokenCache returns a cache holding at most size entries.
func newTokenCache(size int) *tokenCache {
	shards := 32
	for shards > 1 && size/shards < 64 {
		shards /= 2
	}
	c := &tokenCache{shards: make([]cacheShard, shards), perShard: max(size/shards, 1)}
	for i := range c.shards {
		c.shards[i].entries = make(map[digest]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(d *digest) *cacheShard {
	// The digest is uniformly distributed, so its first byte spreads the
	// entries evenly (the shard count is a power of two up to 32).
	return &c.shards[int(d[0])%len(c.shards)]
}

// get returns the entry for d if there is one valid at now.
func (c *tokenCache) get(d *digest, now time.Time) (cacheEntry, bool) {
	s := c.shard(d)
	s.mu.RLock()
	e, ok := s.entries[*d]
	s.mu.RUnlock()
	if !ok || !e.valid(now) {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e for d, evicting another entry if the shard is full.
func (c *tokenCache) put(d *digest, e cacheEntry, now time.Time) {
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[*d]; !ok && len(s.entries) >= c.perShard {
		var victim digest
		seen := 0
		for k, old := range s.entries {
			victim = k
			if !now.Before(old.expires) {
				break
			}
			if seen++; seen == evictionSample {
				break
			}
		}
		delete(s.entries, victim)
	}
	s.entries[*d] = e
}

// len returns the number of entries, expired ones included.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

package httpoidc

import (
	"sync"
	"time"
)

// memoryStore is the session store New uses when Config gives none: an
// scs.Store (and scs.IterableStore) in this process's memory, whose expired
// entries a goroutine removes every minute until Close. scs's memstore
// would do, but its cleanup goroutine cannot be stopped without a data
// race (it creates its stop channel itself, after starting), and scs.New
// always starts one, so New builds its session manager without either.
type memoryStore struct {
	mu    sync.RWMutex
	items map[string]memoryItem
	stop  chan struct{}
	done  chan struct{}
}

type memoryItem struct {
	value  []byte
	expiry time.Time
}

func newMemoryStore(cleanupInterval time.Duration) *memoryStore {
	m := &memoryStore{items: map[string]memoryItem{}, stop: make(chan struct{}), done: make(chan struct{})}
	go m.cleanup(cleanupInterval)
	return m
}

func (m *memoryStore) cleanup(interval time.Duration) {
	defer close(m.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-tick.C:
			m.deleteExpired(now)
		}
	}
}

func (m *memoryStore) deleteExpired(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, it := range m.items {
		if !now.Before(it.expiry) {
			delete(m.items, k)
		}
	}
}

// close stops the cleanup goroutine and waits for it to end.
func (m *memoryStore) close() {
	close(m.stop)
	<-m.done
}

// Find implements scs.Store. Stores expire entries by the wall clock.
func (m *memoryStore) Find(token string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	it, ok := m.items[token]
	if !ok || !time.Now().Before(it.expiry) {
		return nil, false, nil
	}
	return it.value, true, nil
}

// Commit implements scs.Store.
func (m *memoryStore) Commit(token string, value []byte, expiry time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[token] = memoryItem{value: value, expiry: expiry}
	return nil
}

// Delete implements scs.Store.
func (m *memoryStore) Delete(token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, token)
	return nil
}

// All implements scs.IterableStore: every entry not yet expired.
func (m *memoryStore) All() (map[string][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := time.Now()
	all := make(map[string][]byte, len(m.items))
	for k, it := range m.items {
		if now.Before(it.expiry) {
			all[k] = it.value
		}
	}
	return all, nil
}

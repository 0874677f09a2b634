package httpoidc

import (
	"sync"
)

// decodedSessions remembers the last sessions decoded, by the SHA-256 of
// the stored value: a logged-in user's requests carry the same value until
// it changes, and hashing it costs a tenth of decoding its JSON, ID token
// and profile again. decodeSession is a pure function of the value, so a
// remembered result is the same as a fresh one; each caller gets its own
// copy, profile included, since User.Profile is the application's to
// read and change. The zero value is ready to use.
type decodedSessions struct {
	mu      sync.RWMutex
	entries map[digest]sessionData
}

// maxDecodedSessions bounds the memory this takes: a few kilobytes each.
const maxDecodedSessions = 1024

func (m *decodedSessions) decode(raw string) sessionData {
	if raw == "" {
		return decodeSession(raw)
	}
	key := tokenDigest(raw)
	m.mu.RLock()
	d, ok := m.entries[key]
	m.mu.RUnlock()
	if ok {
		return d.clone()
	}
	d = decodeSession(raw)
	m.mu.Lock()
	if m.entries == nil {
		m.entries = make(map[digest]sessionData)
	}
	if len(m.entries) >= maxDecodedSessions {
		// Go randomizes where map iteration starts: a random eviction.
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[key] = d
	m.mu.Unlock()
	return d.clone()
}

// clone returns a copy of d sharing nothing that can be changed.
func (d sessionData) clone() sessionData {
	if d.Logout != nil {
		logout := *d.Logout
		d.Logout = &logout
	}
	if d.Login != nil {
		login := *d.Login
		if login.Profile != nil {
			login.Profile = cloneJSON(login.Profile).(map[string]any)
		}
		d.Login = &login
	}
	return d
}

// cloneJSON deep-copies a value decoded by encoding/json into an any.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, item := range v {
			c[k] = cloneJSON(item)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, item := range v {
			c[i] = cloneJSON(item)
		}
		return c
	}
	// Strings, numbers, booleans and nil are values.
	return v
}

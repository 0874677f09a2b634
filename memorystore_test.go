package httpoidc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMemoryStoreForgetsExpiredEntriesAndStops: entries are gone at their
// expiry and removed by the cleanup; close stops the cleanup goroutine.
func TestMemoryStoreForgetsExpiredEntriesAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := newMemoryStore(time.Hour)
	defer m.close()
	now := time.Now()
	require.NoError(t, m.Commit("live", []byte("a"), now.Add(time.Hour)))
	require.NoError(t, m.Commit("dead", []byte("b"), now.Add(-time.Second)))

	value, found, err := m.Find("live")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, []byte("a"), value)
	_, found, err = m.Find("dead")
	require.NoError(t, err)
	require.False(t, found, "an expired entry is not found")
	all, err := m.All()
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"live": []byte("a")}, all)

	m.deleteExpired(now)
	require.Len(t, m.items, 1, "the cleanup removed the expired entry")
	require.NoError(t, m.Delete("live"))
	require.Empty(t, m.items)
}

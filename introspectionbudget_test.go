package httpoidc

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

func TestTokenBucket(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_000_000, 0)
	tests := []struct {
		name      string
		perSecond int
		at        []time.Duration // since start, one allow each
		want      []bool
	}{
		{"a burst up to the rate", 3, []time.Duration{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"refills with time", 2, []time.Duration{0, 0, 0, 500 * time.Millisecond, 500 * time.Millisecond}, []bool{true, true, false, true, false}},
		{"never holds more than a second's worth", 2, []time.Duration{0, 10 * time.Second, 10 * time.Second, 10 * time.Second}, []bool{true, true, true, false}},
		{"a clock going back refills nothing", 1, []time.Duration{time.Second, 0, 0}, []bool{true, false, false}},
		{"zero allows nothing", 0, []time.Duration{0, time.Second}, []bool{false, false}},
		{"negative allows everything", -1, []time.Duration{0, 0, 0}, []bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBucket(tt.perSecond)
			for i, at := range tt.at {
				require.Equal(t, tt.want[i], b.allow(start.Add(at)), "allow #%d", i)
			}
		})
	}
}

// TestIntrospectionBudget floods an API with garbage opaque tokens: the
// provider sees no more introspection calls than the budget, the excess
// gets a fast 503 with Retry-After, and a token validated before the flood
// is served from the cache throughout.
func TestIntrospectionBudget(t *testing.T) {
	const budget, garbage = 5, 200
	a := newAPI(t, func(c *Config) { c.IntrospectionsPerSecond = budget })
	valid := a.issue(oidctest.Opaque, "read")
	require.Equal(t, http.StatusOK, a.get(valid, "read").Code)
	a.op.ResetCounts()

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	refused := make([]bool, garbage)
	for i := range garbage {
		wg.Go(func() {
			rec := a.get(fmt.Sprintf("garbage-%d", i), "read")
			mu.Lock()
			defer mu.Unlock()
			statuses[rec.Code]++
			refused[i] = rec.Code == http.StatusUnauthorized
			if rec.Code == http.StatusServiceUnavailable {
				require.Equal(t, "1", rec.Header().Get("Retry-After"))
				require.JSONEq(t, `{"error":"temporarily_unavailable","error_description":"`+descUnavailable+`"}`, rec.Body.String())
			}
		})
		// The validated token passes whatever the flood.
		rec := a.get(valid, "read")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "alice read", rec.Body.String())
	}
	wg.Wait()

	calls := a.op.Requests(oidctest.EndpointIntrospection)
	// The bucket refills while the test runs; a slow machine may see a few
	// more calls than the burst, never the flood.
	require.LessOrEqual(t, calls, budget*4)
	require.Equal(t, calls, statuses[http.StatusUnauthorized], "every introspected garbage token is refused")
	require.Equal(t, garbage-calls, statuses[http.StatusServiceUnavailable], "the rest is not introspected")
	// A remembered rejection costs no budget and no call: the same garbage
	// again is refused with 401.
	for i := range garbage {
		if refused[i] {
			requireAnswer(t, answerInvalidToken, a.get(fmt.Sprintf("garbage-%d", i), "read"))
		}
	}
	require.Equal(t, calls, a.op.Requests(oidctest.EndpointIntrospection), "remembered rejections call nobody")
}

// TestIntrospectionBudgetUnlimited: a negative budget introspects every new
// token.
func TestIntrospectionBudgetUnlimited(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.IntrospectionsPerSecond = -1 })
	for i := range 50 {
		requireAnswer(t, answerInvalidToken, a.get(fmt.Sprintf("garbage-%d", i), "read"))
	}
	require.Equal(t, 50, a.op.Requests(oidctest.EndpointIntrospection))
}

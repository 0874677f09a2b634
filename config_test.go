package httpoidc_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

// TestClockSkewIsBounded: a leeway of more than a few minutes would keep
// expired tokens usable, so New refuses it, from a Config or from
// OIDC_CLOCK_SKEW.
func TestClockSkewIsBounded(t *testing.T) {
	tests := []struct {
		skew time.Duration
		ok   bool
	}{
		{-1, true},
		{0, true},
		{5 * time.Minute, true},
		{5*time.Minute + time.Second, false},
		{time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.skew.String(), func(t *testing.T) {
			oc, err := httpoidc.New(context.Background(), httpoidc.Config{Disabled: true, ClockSkew: tt.skew, Logger: slog.New(slog.DiscardHandler)})
			if tt.ok {
				require.NoError(t, err)
				oc.Close()
				return
			}
			require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
			require.ErrorContains(t, err, "ClockSkew")
		})
	}

	t.Setenv("OIDC_CLOCK_SKEW", "600")
	cfg, err := httpoidc.ConfigFromEnv()
	require.NoError(t, err)
	cfg.Disabled, cfg.Testing = true, true
	_, err = httpoidc.New(context.Background(), cfg)
	require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
	require.ErrorContains(t, err, "OIDC_CLOCK_SKEW")
}

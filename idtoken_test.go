package httpoidc

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRefreshedIDTokenContinuesTheLogin checks OpenID Connect Core §12.2
// claim by claim, including those oidctest has no fault for (auth_time, a
// changed sub, azp appearing).
func TestRefreshedIDTokenContinuesTheLogin(t *testing.T) {
	t.Parallel()
	original := map[string]any{"iss": "https://op.example", "sub": "alice", "aud": "app", "azp": "app", "auth_time": float64(1000)}
	tests := []struct {
		name   string
		change func(fresh map[string]any)
		ok     bool
	}{
		{"the same authentication", func(map[string]any) {}, true},
		{"aud as a one-element array", func(c map[string]any) { c["aud"] = []any{"app"} }, true},
		{"auth_time left out", func(c map[string]any) { delete(c, "auth_time") }, true},
		{"another iss", func(c map[string]any) { c["iss"] = "https://other.example" }, false},
		{"another sub", func(c map[string]any) { c["sub"] = "mallory" }, false},
		{"sub of another type", func(c map[string]any) { c["sub"] = []any{"alice"} }, false},
		{"another aud", func(c map[string]any) { c["aud"] = "other" }, false},
		{"an audience added", func(c map[string]any) { c["aud"] = []any{"app", "other"} }, false},
		{"azp removed", func(c map[string]any) { delete(c, "azp") }, false},
		{"another azp", func(c map[string]any) { c["azp"] = "other" }, false},
		{"azp an array", func(c map[string]any) { c["azp"] = []any{"app"} }, false},
		{"auth_time of a new authentication", func(c map[string]any) { c["auth_time"] = float64(2000) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := maps.Clone(original)
			tt.change(fresh)
			err := sameAuthentication(original, fresh)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}

	withoutAZP := maps.Clone(original)
	delete(withoutAZP, "azp")
	require.Error(t, sameAuthentication(withoutAZP, original), "an azp the login's ID token did not have must not appear")
	require.NoError(t, sameAuthentication(withoutAZP, maps.Clone(withoutAZP)))
}

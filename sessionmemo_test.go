package httpoidc

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodedSessions(t *testing.T) {
	t.Parallel()
	stored := func(sub string) string {
		raw, err := json.Marshal(sessionData{Version: sessionVersion, Login: &loginData{
			Subject: sub, Profile: map[string]any{"email": sub + "@example.com", "groups": []any{"staff"}, "address": map[string]any{"country": "NL"}},
			loginTokens: loginTokens{IDToken: "id-token", AccessToken: "access-token"},
		}, Logout: &pendingLogout{State: "s"}})
		require.NoError(t, err)
		return string(raw)
	}
	var m decodedSessions
	for _, raw := range []string{"", "not json", `{"v":0}`, stored("alice")} {
		require.Equal(t, decodeSession(raw), m.decode(raw), raw)
		require.Equal(t, decodeSession(raw), m.decode(raw), "remembered: %s", raw)
	}

	// A request changing its copy changes nobody else's.
	raw := stored("alice")
	first := m.decode(raw)
	first.Login.Subject = "mallory"
	first.Login.Profile["email"] = "mallory@example.com"
	first.Login.Profile["groups"].([]any)[0] = "admins"
	first.Login.Profile["address"].(map[string]any)["country"] = "XX"
	first.Logout.State = "changed"
	require.Equal(t, decodeSession(raw), m.decode(raw))

	// Bounded.
	for i := range maxDecodedSessions + 10 {
		m.decode(stored(fmt.Sprint("user", i)))
	}
	require.LessOrEqual(t, len(m.entries), maxDecodedSessions)
}

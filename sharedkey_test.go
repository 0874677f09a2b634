package httpoidc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
)

// TestReplicasAgreeOnKeysOrNewFails: with a session store given (so
// replicas may share it), a login started on one replica completes on
// another and DPoP-bound tokens keep their key. A client without a client
// secret (private_key_jwt) has nothing to derive the shared keys from, and
// a per-process DPoP key binds tokens to one replica: New refuses both
// set-ups and names the setting that fixes them, rather than let logins
// fail at random behind a load balancer.
func TestReplicasAgreeOnKeysOrNewFails(t *testing.T) {
	store := func(c *httpoidc.Config) { c.SessionStore = memstore.NewWithCleanupInterval(0) }
	tests := []struct {
		name      string
		withKey   bool // private_key_jwt, no client secret
		configure func(*httpoidc.Config)
		refuse    string // what the error names; empty: New succeeds
	}{
		{"private_key_jwt with a store", true, store, "CookieSecret"},
		{"private_key_jwt with Sessions", true, func(c *httpoidc.Config) { c.Sessions = scs.New() }, "OIDC_COOKIE_SECRET"},
		{"private_key_jwt with a store and CookieSecret", true, func(c *httpoidc.Config) {
			store(c)
			c.CookieSecret = strings.Repeat("k", 32)
		}, ""},
		{"private_key_jwt in one process", true, nil, ""},
		{"DPoP with a store", false, func(c *httpoidc.Config) { store(c); c.DPoP = true }, "DPoPKeyFile"},
		{"DPoP with a store and DPoPKey", false, func(c *httpoidc.Config) {
			store(c)
			c.DPoP, c.DPoPKey = true, newECKey(t)
		}, ""},
		{"DPoP in one process", false, func(c *httpoidc.Config) { c.DPoP = true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newECKey(t)
			if !tt.withKey {
				key = nil
			}
			h, err := newFAPIHarness(t, key, tt.configure)
			if tt.refuse != "" {
				require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
				require.ErrorContains(t, err, tt.refuse)
				return
			}
			require.NoError(t, err)
			if h.config.SessionStore == nil {
				return
			}
			// The login starts on one replica and comes back to another.
			callback := h.callbackURL(h.client)
			replica, err := httpoidc.New(context.Background(), h.config)
			require.NoError(t, err)
			t.Cleanup(replica.Close)
			h.serveReplica(replica)
			require.Equal(t, http.StatusOK, visit(t, h.client, callback))
			require.True(t, h.loggedIn(h.client))
		})
	}
}

package httpoidc

import (
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/oidctest"
)

// appValue is an application's own session value, which needs gob.
type appValue struct{ Cart []string }

func TestSessionCodecRoundTrip(t *testing.T) {
	t.Parallel()
	gob.Register(appValue{})
	deadline := time.Unix(1_800_000_000, 123456789)
	tests := []struct {
		name   string
		values map[string]any
		binary bool
	}{
		{"httpoidc's value", map[string]any{sessionKey: `{"v":1,"login":{"sub":"alice"}}`}, true},
		{"several strings", map[string]any{sessionKey: "x", "theme": "dark", "": ""}, true},
		{"no values", map[string]any{}, true},
		{"an application's gob value beside ours", map[string]any{sessionKey: "x", "cart": appValue{Cart: []string{"a"}}}, false},
		{"an int", map[string]any{"visits": 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := sessionCodec{}.Encode(deadline, tt.values)
			require.NoError(t, err)
			require.Equal(t, tt.binary, string(b[:len(sessionMagic)]) == sessionMagic)
			gotDeadline, got, err := sessionCodec{}.Decode(b)
			require.NoError(t, err)
			require.True(t, deadline.Equal(gotDeadline))
			require.Equal(t, tt.values, got)
		})
	}
}

// TestSessionCodecReadsGob: every record scs's GobCodec wrote, as
// httpoidc's session manager did before this codec, decodes unchanged.
func TestSessionCodecReadsGob(t *testing.T) {
	t.Parallel()
	gob.Register(appValue{})
	deadline := time.Now().Add(time.Hour).Round(0)
	values := map[string]any{sessionKey: `{"v":1}`, "cart": appValue{Cart: []string{"a", "b"}}}
	b, err := scs.GobCodec{}.Encode(deadline, values)
	require.NoError(t, err)
	require.NotEqual(t, byte(0), b[0], "a gob record never starts like the binary form")
	gotDeadline, got, err := sessionCodec{}.Decode(b)
	require.NoError(t, err)
	require.True(t, deadline.Equal(gotDeadline))
	require.Equal(t, values, got)
}

func TestSessionCodecMalformed(t *testing.T) {
	t.Parallel()
	good, err := sessionCodec{}.Encode(time.Now(), map[string]any{"k": "value"})
	require.NoError(t, err)
	tests := map[string][]byte{
		"empty":              nil,
		"magic only":         []byte(sessionMagic),
		"truncated":          good[:len(good)-1],
		"trailing bytes":     append(append([]byte{}, good...), 0),
		"huge count":         append([]byte(sessionMagic), 0, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"value past the end": append([]byte(sessionMagic), 0, 1, 1, 'k', 100, 'v'),
		"not gob either":     []byte("garbage"),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := sessionCodec{}.Decode(b)
			require.Error(t, err)
		})
	}
}

// FuzzSessionCodec: any record decodes or fails without panicking, and a
// decoded binary record encodes back to the same values.
func FuzzSessionCodec(f *testing.F) {
	good, _ := sessionCodec{}.Encode(time.Unix(0, 42), map[string]any{sessionKey: `{"v":1}`, "a": "b"})
	f.Add(good)
	f.Add([]byte(sessionMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		deadline, values, err := sessionCodec{}.Decode(b)
		if err != nil || string(b[:min(len(b), len(sessionMagic))]) != sessionMagic {
			return
		}
		again, err := sessionCodec{}.Encode(deadline, values)
		require.NoError(t, err)
		_, got, err := sessionCodec{}.Decode(again)
		require.NoError(t, err)
		require.Equal(t, values, got)
	})
}

// TestSessionStoredByEarlierRelease logs in, rewrites the stored session
// as earlier releases stored it (scs's GobCodec), and checks that the user
// is still logged in, and that the next save uses the binary form.
func TestSessionStoredByEarlierRelease(t *testing.T) {
	t.Parallel()
	op := oidctest.NewServer()
	t.Cleanup(op.Close)
	var handler http.Handler
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(app.Close)
	op.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{app.URL + "/authorize"}})
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com"}})
	op.AutoLogin("alice")
	secrets, err := ParseClientSecrets(op.ClientSecrets("app"))
	require.NoError(t, err)
	store := memstore.NewWithCleanupInterval(0)
	oc, err := New(context.Background(), Config{
		ClientSecrets: secrets, Scopes: []string{"openid", "email"}, Now: op.Now,
		Logger: slog.New(slog.DiscardHandler), SessionStore: store,
	})
	require.NoError(t, err)
	t.Cleanup(oc.Close)
	handler = oc.Handler(oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("touch") {
			oc.Sessions().Put(r.Context(), "visited", "yes")
		}
		fmt.Fprint(w, UserFrom(r.Context()).Email)
	})))
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		resp, err := browser.Get(app.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, body := get("/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice@example.com", body)

	appURL, err := url.Parse(app.URL)
	require.NoError(t, err)
	var token string
	for _, c := range jar.Cookies(appURL) {
		if c.Name == "httpoidc_session" {
			token = c.Value
		}
	}
	require.NotEmpty(t, token)
	record, found, err := store.Find(token)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, sessionMagic, string(record[:len(sessionMagic)]))
	deadline, values, err := sessionCodec{}.Decode(record)
	require.NoError(t, err)
	old, err := scs.GobCodec{}.Encode(deadline, values)
	require.NoError(t, err)
	require.NoError(t, store.Commit(token, old, deadline))

	status, body = get("/?touch")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice@example.com", body, "a session stored with gob keeps its user")
	record, found, err = store.Find(token)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, sessionMagic, string(record[:len(sessionMagic)]), "saved again in the binary form")
}

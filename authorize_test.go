package httpoidc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// serve replaces the application behind h.oc.Handler.
func (h *harness) serve(app http.Handler) {
	h.handler.Store(http.HandlerFunc(h.oc.Handler(app).ServeHTTP))
}

// syncBuffer is a log destination tests read while the app writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loginStatus runs a login from /login and returns the final status and
// body, and whether the browser is logged in afterwards.
func (h *harness) loginStatus() (int, string, bool) {
	h.t.Helper()
	resp, body := h.get(h.client, "/login", "Accept", "text/html")
	return resp.StatusCode, body, h.loggedIn(h.client)
}

func TestAuthorizeRefusesBeforeAnySession(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	var loginCalls int
	h := newHarness(t, func(c *httpoidc.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Authorize = func(_ context.Context, u *httpoidc.User) error {
			if u.Subject == "alice" {
				return errors.New("alice is suspended")
			}
			return nil
		}
		c.OnLogin = func(context.Context, *httpoidc.User) { loginCalls++ }
	})
	resp, err := noRedirects(h.client).Get(h.callbackURL(h.client))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	require.Contains(t, page.String(), "Access denied")
	require.Zero(t, loginCalls, "OnLogin is not called")
	require.False(t, h.loggedIn(h.client))
	require.Contains(t, logs.String(), "sub=alice")
	require.Contains(t, logs.String(), "alice is suspended")
}

func TestEmailPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		email    string
		verified any
		config   func(*httpoidc.Config)
		allowed  bool
	}{
		{"domain listed", "alice@example.com", true, domains("example.com"), true},
		{"domain in another case", "Alice@EXAMPLE.com", true, domains("Example.COM"), true},
		{"domain written with @", "alice@example.com", true, domains("@example.com"), true},
		{"second domain", "alice@example.org", true, domains("example.com", "example.org"), true},
		{"verified as a string", "alice@example.com", "true", domains("example.com"), true},
		{"suffix trick", "mallory@evil-example.com", true, domains("example.com"), false},
		{"prefix trick", "mallory@example.com.evil.org", true, domains("example.com"), false},
		{"subdomain", "mallory@mail.example.com", true, domains("example.com"), false},
		{"last @ decides", "example.com@evil.org", true, domains("example.com"), false},
		{"no email", "", true, domains("example.com"), false},
		{"unverified", "mallory@example.com", false, domains("example.com"), false},
		{"email_verified absent", "mallory@example.com", nil, domains("example.com"), false},
		{"unverified, insecure opt-out", "alice@example.com", false, func(c *httpoidc.Config) {
			c.AllowedEmailDomains = []string{"example.com"}
			c.InsecureAllowUnverifiedEmail = true
		}, true},
		{"RequireVerifiedEmail, verified", "alice@anywhere.org", true, func(c *httpoidc.Config) { c.RequireVerifiedEmail = true }, true},
		{"RequireVerifiedEmail, unverified", "alice@anywhere.org", false, func(c *httpoidc.Config) { c.RequireVerifiedEmail = true }, false},
		{"no policy, unverified", "alice@anywhere.org", false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.config)
			claims := map[string]any{"email": tt.email}
			if tt.verified != nil {
				claims["email_verified"] = tt.verified
			}
			h.op.AddUser(oidctest.User{Subject: "alice", Claims: claims})
			status, body, loggedIn := h.loginStatus()
			require.Equal(t, tt.allowed, loggedIn, body)
			if !tt.allowed {
				require.Equal(t, http.StatusForbidden, status)
				require.Contains(t, body, "Access denied")
			}
		})
	}
}

func domains(d ...string) func(*httpoidc.Config) {
	return func(c *httpoidc.Config) { c.AllowedEmailDomains = d }
}

func TestUserEmailVerified(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.serve(h.oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := httpoidc.UserFrom(r.Context())
		fmt.Fprintf(w, "%s %t", u.Email, u.EmailVerified)
	})))
	for _, verified := range []bool{true, false} {
		h.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "email_verified": verified}})
		client := newBrowser(t)
		_, body := h.get(client, "/")
		require.Equal(t, fmt.Sprintf("alice@example.com %t", verified), body)
	}
}

func TestAllowedGroups(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		allowed []string
		want    bool
	}{{[]string{"staff"}, true}, {[]string{"nobody", "admins"}, true}, {[]string{"nobody"}, false}} {
		t.Run(strings.Join(tt.allowed, ","), func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.AllowedGroups = tt.allowed })
			_, body, loggedIn := h.loginStatus()
			require.Equal(t, tt.want, loggedIn, body)
		})
	}
}

func TestGroupsClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		claim  string
		claims map[string]any
		want   []any
	}{
		{"", map[string]any{"groups": []any{"a", "b"}}, []any{"a", "b"}},
		{"", map[string]any{"groups": "solo"}, []any{"solo"}},
		{"roles", map[string]any{"roles": []any{"Reader"}}, []any{"Reader"}},
		{"realm_access.roles", map[string]any{"realm_access": map[string]any{"roles": []any{"admin", "user"}}}, []any{"admin", "user"}},
		{"resource_access.{client_id}.roles", map[string]any{"resource_access": map[string]any{
			"app": map[string]any{"roles": []any{"editor"}}, "other": map[string]any{"roles": []any{"root"}},
		}}, []any{"editor"}},
		{"cognito:groups", map[string]any{"cognito:groups": []any{"eu-admins"}}, []any{"eu-admins"}},
		{"https://example.com/roles", map[string]any{"https://example.com/roles": []any{"billing"}}, []any{"billing"}},
		{`org\.example.roles`, map[string]any{"org.example": map[string]any{"roles": []any{"x"}}}, []any{"x"}},
		{"urn:zitadel:iam:org:project:roles", map[string]any{"urn:zitadel:iam:org:project:roles": map[string]any{
			"viewer": map[string]any{"1": "org"}, "admin": map[string]any{"1": "org"},
		}}, []any{"admin", "viewer"}},
		{"realm_access.roles", map[string]any{"realm_access": []any{"not an object"}}, nil},
		{"missing.path", map[string]any{"groups": []any{"a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.claim, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) { c.GroupsClaim = tt.claim })
			claims := map[string]any{"email": "alice@example.com"}
			for k, v := range tt.claims {
				claims[k] = v
			}
			h.op.AddUser(oidctest.User{Subject: "alice", Claims: claims})
			h.login(h.client)
			got, _ := h.me(h.client)["groups"].([]any)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPolicyConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		configure func(*httpoidc.Config)
		want      string
	}{
		{"wildcard domain", domains("*"), "leave the list empty"},
		{"address as domain", domains("alice@example.com"), "is not a domain"},
		{"subdomain wildcard", domains(".example.com"), "is not a domain"},
		{"contradiction", func(c *httpoidc.Config) {
			c.RequireVerifiedEmail, c.InsecureAllowUnverifiedEmail = true, true
		}, "contradict"},
		{"empty group", func(c *httpoidc.Config) { c.AllowedGroups = []string{""} }, "empty group"},
		{"empty claim key", func(c *httpoidc.Config) { c.GroupsClaim = "realm_access..roles" }, "empty key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := httpoidc.Config{Disabled: true}
			tt.configure(&cfg)
			_, err := httpoidc.New(context.Background(), cfg)
			require.ErrorIs(t, err, httpoidc.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestInsecureAllowUnverifiedEmailWarns(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	_, err := httpoidc.New(context.Background(), httpoidc.Config{
		Disabled: true, AllowedEmailDomains: []string{"example.com"}, InsecureAllowUnverifiedEmail: true,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "InsecureAllowUnverifiedEmail")
}

func TestGroupsAndPolicyFollowRefresh(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var refreshed []string
	var ended []httpoidc.LogoutReason
	h := newHarness(t, func(c *httpoidc.Config) {
		c.AllowedGroups = []string{"staff"}
		c.OnRefresh = func(_ context.Context, u *httpoidc.User) {
			mu.Lock()
			defer mu.Unlock()
			refreshed = append(refreshed, strings.Join(u.Groups, ","))
		}
		c.OnLogout = func(_ context.Context, _ *httpoidc.User, reason httpoidc.LogoutReason) {
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, reason)
		}
	})
	h.login(h.client)

	// The provider moves alice to other groups: seen at the next refresh.
	h.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": true, "groups": []any{"staff", "auditors"},
	}})
	require.Equal(t, []any{"admins", "staff"}, h.me(h.client)["groups"])
	h.op.Advance(59 * time.Minute)
	require.Equal(t, []any{"staff", "auditors"}, h.me(h.client)["groups"])
	require.Equal(t, []string{"staff,auditors"}, refreshed)

	// Removed from every allowed group: the next refresh ends the login.
	h.op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "email_verified": true}})
	h.op.Advance(59 * time.Minute)
	resp, _ := h.get(h.client, "/me", "Accept", "application/json")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, []httpoidc.LogoutReason{httpoidc.LogoutAuthorizeRefused}, ended)
	require.False(t, h.loggedIn(h.client))
}

func TestRequireGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/admin", h.oc.RequireGroup("admins")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "admin page")
	})))
	mux.Handle("/vault", h.oc.RequireGroup("vault-keepers", "auditors")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "vault")
	})))
	mux.Handle("/", testApp(h.oc))
	h.serve(mux)

	// Anonymous: API calls get 401, navigations go through login first.
	resp, _ := h.get(h.client, "/admin", "Accept", "application/json")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, body := h.get(h.client, "/admin", "Accept", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "admin page", body)
	require.Equal(t, "/admin", resp.Request.URL.Path)

	resp, body = h.get(h.client, "/vault", "Accept", "text/html")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "Access denied")
	resp, _ = h.get(h.client, "/vault", "Accept", "application/json")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	require.Panics(t, func() { h.oc.RequireGroup() })
}

func TestRequireTokenGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format oidctest.AccessTokenFormat
		claims map[string]any
		want   int
	}{
		{"JWT in group", oidctest.JWT, map[string]any{"groups": []any{"admins"}}, http.StatusOK},
		{"JWT outside", oidctest.JWT, map[string]any{"groups": []any{"staff"}}, http.StatusForbidden},
		{"JWT without groups", oidctest.JWT, nil, http.StatusForbidden},
		{"introspected in group", oidctest.Opaque, map[string]any{"groups": []any{"admins"}}, http.StatusOK},
		{"introspected outside", oidctest.Opaque, map[string]any{"groups": []any{"staff"}}, http.StatusForbidden},
	}
	h := newHarness(t, nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpoidc.TokenFrom(r.Context())
		fmt.Fprint(w, "hello "+tok.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("/alone", h.oc.RequireTokenGroup("admins")(ok))
	mux.Handle("/scoped", h.oc.AcceptToken("read")(h.oc.RequireTokenGroup("admins")(ok)))
	h.serve(mux)
	call := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, h.app.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error + " " + resp.Header.Get("WWW-Authenticate")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := h.op.IssueAccessToken(oidctest.TokenRequest{
				ClientID: "app", Subject: "alice", Scopes: []string{"read"}, Format: tt.format, Claims: tt.claims,
			})
			for _, path := range []string{"/alone", "/scoped"} {
				status, detail := call(path, token)
				require.Equal(t, tt.want, status, path+": "+detail)
				if status == http.StatusForbidden {
					require.Contains(t, detail, `insufficient_scope`)
					require.Contains(t, detail, `error_description="the access token's subject is not in a required group"`)
				}
			}
		})
	}
	status, _ := call("/alone", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = call("/scoped", h.op.IssueAccessToken(oidctest.TokenRequest{
		ClientID: "app", Subject: "alice", Format: oidctest.JWT, Claims: map[string]any{"groups": []any{"admins"}},
	}))
	require.Equal(t, http.StatusForbidden, status, "the scope is still required")
	require.Panics(t, func() { h.oc.RequireTokenGroup() })
}

func TestOnLogoutReasons(t *testing.T) {
	t.Parallel()
	type ending struct {
		sub    string
		reason httpoidc.LogoutReason
	}
	tests := []struct {
		name    string
		options []oidctest.Option
		end     func(h *harness)
		want    httpoidc.LogoutReason
	}{
		{"User.Logout", nil, func(h *harness) { h.get(h.client, "/local-logout") }, httpoidc.LogoutLocal},
		{"logout path without end session", []oidctest.Option{oidctest.WithoutEndSession()}, func(h *harness) {
			h.get(h.client, "/logout", "Sec-Fetch-Site", "same-origin")
		}, httpoidc.LogoutLocal},
		{"RP-initiated", nil, func(h *harness) { h.get(h.client, "/logout", "Sec-Fetch-Site", "same-origin") }, httpoidc.LogoutRPInitiated},
		{"back-channel", nil, func(h *harness) {
			postLogoutToken(h.t, h, h.op.LogoutToken("app", "alice", ""))
			// A back-channel logout is reported when the session it ended
			// is next used.
			h.get(h.client, "/")
		}, httpoidc.LogoutBackchannel},
		{"refresh refused", nil, func(h *harness) {
			h.op.Revoke(h.me(h.client)["refresh_token"].(string))
			h.op.Advance(2 * time.Hour)
			h.get(h.client, "/me", "Accept", "application/json")
		}, httpoidc.LogoutRefreshRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endings := make(chan ending, 4)
			h := newHarness(t, func(c *httpoidc.Config) {
				c.OnLogout = func(_ context.Context, u *httpoidc.User, reason httpoidc.LogoutReason) {
					endings <- ending{u.Subject, reason}
				}
			}, tt.options...)
			h.login(h.client)
			tt.end(h)
			require.Equal(t, ending{"alice", tt.want}, <-endings)
			require.Empty(t, endings, "OnLogout runs once")
			require.False(t, h.loggedIn(h.client))
		})
	}
}

// BenchmarkRequireGroup measures a request through Handler and
// RequireGroup with Keycloak client roles read from a nested claim.
func BenchmarkRequireGroup(b *testing.B) {
	oc, err := httpoidc.New(context.Background(), httpoidc.Config{
		Disabled: true, GroupsClaim: "resource_access.{client_id}.roles", Logger: slog.New(slog.DiscardHandler),
		TestingProfile: map[string]any{"sub": "alice", "resource_access": map[string]any{
			"testing-client-id": map[string]any{"roles": []any{"viewer", "editor"}},
		}},
	})
	require.NoError(b, err)
	h := oc.Handler(oc.RequireGroup("editor")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

package httpoidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc"
	"github.com/httpoidc/httpoidc/oidctest"
)

// securityCase is one attack on the login, or one legitimate variation
// that must keep working, modelled on the OpenID Foundation RP
// certification tests and RFC 9700.
type securityCase struct {
	name    string // the RP certification test, or what is attacked
	outcome string // as the README's security table says it
	// attack runs the case on a harness; it returns the final response of
	// the browser's login attempt.
	attack func(t *testing.T, h *harness) (*http.Response, string)
}

// caseConfig changes the application's Config for a case, to take away a
// check that would hide the one under test.
var caseConfig = map[string]func(*httpoidc.Config){
	"rp-id_token-sub: sub missing, userinfo off": func(c *httpoidc.Config) { c.DisableUserInfo = true },
}

// pendingLoginAge is past the ten minutes a login may take.
const pendingLoginAge = 10*time.Minute + time.Second

const (
	loggedIn  = "logged in"
	refused   = "400, no session"
	forbidden = "403, no session"
	outage    = "503, no session"
)

// withFault logs in while the provider misbehaves.
func withFault(f oidctest.Fault) func(*testing.T, *harness) (*http.Response, string) {
	return func(t *testing.T, h *harness) (*http.Response, string) {
		h.op.SetFault(f, true)
		return h.get(h.client, "/login")
	}
}

// withCallback runs the flow to the provider's redirect back, lets change
// rewrite that URL, and visits it.
func withCallback(change func(t *testing.T, h *harness, callback *url.URL)) func(*testing.T, *harness) (*http.Response, string) {
	return func(t *testing.T, h *harness) (*http.Response, string) {
		callback, err := url.Parse(h.callbackURL(h.client))
		require.NoError(t, err)
		change(t, h, callback)
		return h.get(h.client, strings.TrimPrefix(callback.String(), h.app.URL))
	}
}

func setQuery(callback *url.URL, key, value string) {
	q := callback.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	callback.RawQuery = q.Encode()
}

var securityCases = []securityCase{
	{"rp-response_type-code: a normal login", loggedIn, func(t *testing.T, h *harness) (*http.Response, string) {
		return h.get(h.client, "/login")
	}},
	{"implicit flow response (tokens, no code)", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		setQuery(cb, "code", "")
		setQuery(cb, "id_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.")
		setQuery(cb, "access_token", "stolen")
	})},
	{"state missing", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) { setQuery(cb, "state", "") })},
	{"state wrong", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) { setQuery(cb, "state", "forged") })},
	{"state replayed", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		h.get(h.client, strings.TrimPrefix(cb.String(), h.app.URL))
		h.get(h.client, "/local-logout")
	})},
	{"state from another browser (login CSRF)", refused, func(t *testing.T, h *harness) (*http.Response, string) {
		callback := h.callbackURL(newBrowser(t))
		return h.get(h.client, strings.TrimPrefix(callback, h.app.URL))
	}},
	{"pending login cookie changed", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		for _, c := range pendingCookies(t, h, h.client) {
			v := []byte(c.Value)
			v[len(v)-2] ^= 1
			setCookie(t, h, h.client, c.Name, string(v))
		}
	})},
	{"pending login cookie moved to another state", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		cookies := pendingCookies(t, h, h.client)
		require.Len(t, cookies, 1)
		state := "FORGEDSTATEFORGEDSTATEFORG"
		setCookie(t, h, h.client, strings.TrimSuffix(cookies[0].Name, cb.Query().Get("state"))+state, cookies[0].Value)
		setQuery(cb, "state", state)
	})},
	{"pending login older than 10 minutes", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		h.op.Advance(pendingLoginAge)
	})},
	{"rp-nonce-unless-code-flow: nonce missing", refused, withFault(oidctest.FaultMissingNonce)},
	{"rp-nonce-invalid: nonce wrong", refused, withFault(oidctest.FaultWrongNonce)},
	{"rp-id_token-bad-sig-rs256", refused, withFault(oidctest.FaultBadSignature)},
	{"rp-id_token-sig-none: alg none", refused, withFault(oidctest.FaultAlgNone)},
	{"HS256 signed with the client secret", refused, withFault(oidctest.FaultHS256ClientSecret)},
	{"rp-id_token-iss-mismatch", refused, withFault(oidctest.FaultWrongIssuer)},
	{"rp-id_token-aud-mismatch", refused, withFault(oidctest.FaultWrongAudience)},
	{"azp of another client with several audiences", refused, withFault(oidctest.FaultAZPMismatch)},
	{"several audiences with azp of this client", loggedIn, withFault(oidctest.FaultMultipleAudiences)},
	{"ID token expired", refused, withFault(oidctest.FaultExpired)},
	{"rp-id_token-iat: iat far in the future", refused, withFault(oidctest.FaultIssuedInFuture)},
	{"rp-id_token-sub: sub missing", refused, withFault(oidctest.FaultMissingSubject)},
	{"rp-id_token-sub: sub missing, userinfo off", refused, withFault(oidctest.FaultMissingSubject)},
	{"rp-id_token-kid-absent-single-jwks", loggedIn, withFault(oidctest.FaultNoKID)},
	{"rp-id_token-kid-absent-multiple-jwks", loggedIn, withFault(oidctest.FaultNoKIDMultipleKeys)},
	{"rp-key-rotation-op-sign-key: new key without restart", loggedIn, func(t *testing.T, h *harness) (*http.Response, string) {
		h.get(h.client, "/login")
		h.get(h.client, "/local-logout")
		h.op.RotateKey(false)
		return h.get(h.client, "/login")
	}},
	{"rp-userinfo-bad-sub-claim", refused, withFault(oidctest.FaultUserInfoSubMismatch)},
	{"RFC 9207 iss parameter wrong", refused, withFault(oidctest.FaultWrongAuthResponseIssuer)},
	{"RFC 9207 iss parameter missing when advertised", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) { setQuery(cb, "iss", "") })},
	{"mix-up: a code from another issuer, with its iss", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		other := oidctest.NewServer()
		t.Cleanup(other.Close)
		other.AddClient(oidctest.Client{ID: "app", Secret: "app-secret", RedirectURIs: []string{h.app.URL + "/authorize"}})
		other.AddUser(oidctest.User{Subject: "eve"})
		other.AutoLogin("eve")
		c := noRedirects(newBrowser(t))
		resp, err := c.Get(other.URL + "/authorize?" + url.Values{
			"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {h.app.URL + "/authorize"},
			"scope": {"openid"}, "state": {"s"}, "nonce": {"n"},
		}.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		stolen, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		setQuery(cb, "code", stolen.Query().Get("code"))
		setQuery(cb, "iss", stolen.Query().Get("iss"))
	})},
	{"a code the provider did not issue", refused, withCallback(func(t *testing.T, h *harness, cb *url.URL) {
		setQuery(cb, "code", "code-from-elsewhere")
	})},
	{"access denied at the provider", forbidden, withFault(oidctest.FaultAccessDenied)},
	{"token endpoint error", outage, withFault(oidctest.FaultTokenEndpointError)},
	{"token endpoint hangs", outage, withFault(oidctest.FaultTokenEndpointHang)},
}

// TestSecurity runs every case: attacks leave no session and a clear error
// page at the callback, with no redirect loop; legitimate variations log
// in.
func TestSecurity(t *testing.T) {
	for _, tc := range securityCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) {
				c.Timeout = time.Second
				if configure := caseConfig[tc.name]; configure != nil {
					configure(c)
				}
			})
			resp, body := tc.attack(t, h)
			if tc.outcome == loggedIn {
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.True(t, h.loggedIn(h.client))
				return
			}
			want := map[string]int{refused: http.StatusBadRequest, forbidden: http.StatusForbidden, outage: http.StatusServiceUnavailable}[tc.outcome]
			require.Equal(t, want, resp.StatusCode, body)
			require.Equal(t, "/authorize", resp.Request.URL.Path, "the error is shown at the callback")
			require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			require.Contains(t, body, "<h1>")
			require.NotContains(t, body, "app-secret")
			require.False(t, h.loggedIn(h.client), "a refused login leaves no session")
		})
	}
}

// TestSecurityTableInREADME keeps the README's table of cases true.
func TestSecurityTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, tc := range securityCases {
		require.Contains(t, string(readme), "| "+tc.name+" | "+tc.outcome+" |", "README.md lacks the row for %q", tc.name)
	}
}

// TestIDTokenIsNotAnAccessToken presents a user's ID token, whose aud is the
// client ID (AcceptToken's default audience), to an API.
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	h := newHarness(t, nil)
	h.login(h.client)
	idToken := h.me(h.client)["id_token"].(string)
	api := h.oc.AcceptToken()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "accepted")
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	req.Header.Set("Authorization", "Bearer "+idToken)
	api.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	require.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
}

package httpoidc_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
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
	// Outcomes for a browser that was logged in before the case.
	loggedOut    = "logged out"
	sessionKept  = "400, session kept"
	confirmation = "confirmation page, session kept"
	loginEnded   = "401, login ended"
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

// TestSecurity runs every login case: attacks leave no session and a clear
// error page at the callback, with no redirect loop; legitimate variations
// log in.
func TestSecurity(t *testing.T) { runSecurityCases(t, securityCases) }

func runSecurityCases(t *testing.T, cases []securityCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *httpoidc.Config) {
				c.Timeout = time.Second
				if configure := caseConfig[tc.name]; configure != nil {
					configure(c)
				}
			})
			resp, body := tc.attack(t, h)
			switch tc.outcome {
			case loggedIn:
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.True(t, h.loggedIn(h.client))
			case loggedOut:
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.False(t, h.loggedIn(h.client))
			case sessionKept:
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
				require.True(t, h.loggedIn(h.client), "a refused request changes no session")
			case confirmation:
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.Contains(t, body, `<form method="post" action="/logout">`)
				require.Equal(t, "frame-ancestors 'none'", resp.Header.Get("Content-Security-Policy"), "the button cannot be clicked in a frame")
				require.True(t, h.loggedIn(h.client), "a logout another site may have asked for waits for the user")
			case loginEnded:
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
				require.False(t, h.loggedIn(h.client))
			default:
				want := map[string]int{refused: http.StatusBadRequest, forbidden: http.StatusForbidden, outage: http.StatusServiceUnavailable}[tc.outcome]
				require.NotZero(t, want, "unknown outcome %q", tc.outcome)
				require.Equal(t, want, resp.StatusCode, body)
				require.Equal(t, "/authorize", resp.Request.URL.Path, "the error is shown at the callback")
				require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
				require.Contains(t, body, "<h1>")
				require.NotContains(t, body, "app-secret")
				require.False(t, h.loggedIn(h.client), "a refused login leaves no session")
			}
		})
	}
}

// TestSecurityTableInREADME keeps the README's tables of cases true.
func TestSecurityTableInREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, tc := range slices.Concat(securityCases, logoutTokenCases, refreshCases, logoutRequestCases) {
		require.Contains(t, string(readme), "| "+tc.name+" | "+tc.outcome+" |", "README.md lacks the row for %q", tc.name)
	}
}

// withLogoutToken logs in, then posts a back-channel logout token for the
// session that change has rewritten: typ is its JWS typ header.
func withLogoutToken(change func(typ *string, claims map[string]any)) func(*testing.T, *harness) (*http.Response, string) {
	return func(t *testing.T, h *harness) (*http.Response, string) {
		h.login(h.client)
		sid := jwtClaims(t, h.me(h.client)["id_token"].(string))["sid"].(string)
		claims := jwtClaims(t, h.op.LogoutToken("app", "alice", sid))
		typ := "logout+jwt"
		change(&typ, claims)
		return h.deliverLogoutToken(h.op.SignJWT(typ, claims))
	}
}

func setEvent(value any) func(*string, map[string]any) {
	return func(_ *string, c map[string]any) {
		c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": value}
	}
}

// logoutTokenCases are OpenID Connect Back-Channel Logout 1.0 §2.6, check
// by check.
var logoutTokenCases = []securityCase{
	{"back-channel logout: a valid logout token", loggedOut, withLogoutToken(func(*string, map[string]any) {})},
	{"logout token typed JWT (Keycloak)", loggedOut, withLogoutToken(func(typ *string, _ map[string]any) { *typ = "JWT" })},
	{"logout token without typ", loggedOut, withLogoutToken(func(typ *string, _ map[string]any) { *typ = "" })},
	{"logout token typed at+jwt", sessionKept, withLogoutToken(func(typ *string, _ map[string]any) { *typ = "at+jwt" })},
	{"logout token without iat", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { delete(c, "iat") })},
	{"logout token issued in the future", sessionKept, withLogoutToken(func(_ *string, c map[string]any) {
		c["iat"] = c["iat"].(float64) + 3600
	})},
	{"logout token expired", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { c["exp"] = c["iat"].(float64) - 3600 })},
	{"logout token without jti", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { delete(c, "jti") })},
	{"logout token with neither sid nor sub", sessionKept, withLogoutToken(func(_ *string, c map[string]any) {
		delete(c, "sid")
		delete(c, "sub")
	})},
	{"logout token with a nonce", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { c["nonce"] = "n" })},
	{"logout token with a null nonce", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { c["nonce"] = nil })},
	{"logout token without events", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { delete(c, "events") })},
	{"logout token event null", sessionKept, withLogoutToken(setEvent(nil))},
	{"logout token event a string", sessionKept, withLogoutToken(setEvent("logout"))},
	{"logout token event an array", sessionKept, withLogoutToken(setEvent([]any{}))},
	{"logout token for another client", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { c["aud"] = oidctest.OtherClientID })},
	{"logout token from another issuer", sessionKept, withLogoutToken(func(_ *string, c map[string]any) { c["iss"] = oidctest.WrongIssuerURL })},
}

// TestLogoutTokensCheckedAsBackchannelLogoutSays: a logout token ends
// sessions only if it passes every check of Back-Channel Logout 1.0 §2.6.
func TestLogoutTokensCheckedAsBackchannelLogoutSays(t *testing.T) {
	t.Parallel()
	runSecurityCases(t, logoutTokenCases)
}

// afterRefresh logs in, switches the provider into fault f, and makes an
// API call once the access token has expired, so that it is refreshed.
func afterRefresh(f oidctest.Fault) func(*testing.T, *harness) (*http.Response, string) {
	return func(t *testing.T, h *harness) (*http.Response, string) {
		h.login(h.client)
		if f != 0 {
			h.op.SetFault(f, true)
		}
		h.op.Advance(59 * time.Minute) // inside the clock skew of the 1 h expiry
		tokenRequests := h.op.Requests(oidctest.EndpointToken)
		resp, body := h.get(h.client, "/me", "Accept", "application/json")
		require.Equal(t, tokenRequests+1, h.op.Requests(oidctest.EndpointToken), "the tokens were refreshed")
		h.op.ClearFaults()
		return resp, body
	}
}

// refreshCases are ID tokens from a refresh, which OpenID Connect Core
// §12.2 holds to every check of the login and to the login's iss, sub,
// aud, azp and auth_time.
var refreshCases = []securityCase{
	{"refresh: a normal refresh", loggedIn, afterRefresh(0)},
	{"refresh: ID token with azp of another client", loginEnded, afterRefresh(oidctest.FaultAZPMismatch)},
	{"refresh: ID token with another audience added", loginEnded, afterRefresh(oidctest.FaultMultipleAudiences)},
	{"refresh: ID token issued an hour ahead", loginEnded, afterRefresh(oidctest.FaultIssuedInFuture)},
	{"refresh: ID token with a nonce of another login", loginEnded, afterRefresh(oidctest.FaultWrongNonce)},
	{"refresh: ID token expired", loginEnded, afterRefresh(oidctest.FaultExpired)},
	{"refresh: ID token from another issuer", loginEnded, afterRefresh(oidctest.FaultWrongIssuer)},
	{"refresh: ID token without sub", loginEnded, afterRefresh(oidctest.FaultMissingSubject)},
	{"refresh: ID token with a bad signature", loginEnded, afterRefresh(oidctest.FaultBadSignature)},
}

// TestRefreshedIDTokensCheckedAsAtLogin: an ID token from a refresh that
// would not pass at login, or that belongs to another authentication,
// ends the login.
func TestRefreshedIDTokensCheckedAsAtLogin(t *testing.T) {
	t.Parallel()
	runSecurityCases(t, refreshCases)
}

// logoutRequest logs in, then sends method /logout with the given
// header name/value pairs (a form body for POST) and follows redirects.
func logoutRequest(method string, header ...string) func(*testing.T, *harness) (*http.Response, string) {
	return func(t *testing.T, h *harness) (*http.Response, string) {
		h.login(h.client)
		return h.send(h.client, method, "/logout", url.Values{"next": {"/"}}, header...)
	}
}

// send is get for any method, with form as the body of a POST.
func (h *harness) send(client *http.Client, method, path string, form url.Values, header ...string) (*http.Response, string) {
	h.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.app.URL+path, body)
	require.NoError(h.t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp, string(data)
}

// logoutRequestCases are requests to /logout: from this site's own pages
// they log out; from anywhere else they get a page whose button does.
var logoutRequestCases = []securityCase{
	{"logout link on this site (Sec-Fetch-Site same-origin)", loggedOut, logoutRequest(http.MethodGet, "Sec-Fetch-Site", "same-origin")},
	{"logout URL typed or bookmarked (Sec-Fetch-Site none)", loggedOut, logoutRequest(http.MethodGet, "Sec-Fetch-Site", "none")},
	{"logout link, browser without Fetch Metadata, Referer of this site", loggedOut, func(t *testing.T, h *harness) (*http.Response, string) {
		return logoutRequest(http.MethodGet, "Referer", h.app.URL+"/account")(t, h)
	}},
	{"logout POST from this site (Origin)", loggedOut, func(t *testing.T, h *harness) (*http.Response, string) {
		return logoutRequest(http.MethodPost, "Origin", h.app.URL)(t, h)
	}},
	{"cross-site GET /logout (Sec-Fetch-Site cross-site)", confirmation, logoutRequest(http.MethodGet, "Sec-Fetch-Site", "cross-site", "Referer", "https://evil.example/")},
	{"GET /logout from a sibling subdomain (Sec-Fetch-Site same-site)", confirmation, logoutRequest(http.MethodGet, "Sec-Fetch-Site", "same-site")},
	{"GET /logout with another site's Referer", confirmation, logoutRequest(http.MethodGet, "Referer", "https://evil.example/page")},
	{"GET /logout that names no origin", confirmation, logoutRequest(http.MethodGet)},
	{"cross-site POST /logout", confirmation, logoutRequest(http.MethodPost, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")},
	{"POST /logout with another Origin", confirmation, logoutRequest(http.MethodPost, "Origin", "https://evil.example")},
	{"the confirmation page's button", loggedOut, func(t *testing.T, h *harness) (*http.Response, string) {
		_, page := logoutRequest(http.MethodGet, "Sec-Fetch-Site", "cross-site")(t, h)
		require.True(t, h.loggedIn(h.client))
		next := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(page)
		require.NotNil(t, next, page)
		return h.send(h.client, http.MethodPost, "/logout", url.Values{"next": {html.UnescapeString(next[1])}}, "Sec-Fetch-Site", "same-origin", "Origin", h.app.URL)
	}},
}

// TestLogoutOnlyFromThisSite: another site cannot end a session by sending
// the browser to /logout; the user is asked instead.
func TestLogoutOnlyFromThisSite(t *testing.T) {
	t.Parallel()
	runSecurityCases(t, logoutRequestCases)
}

// TestIDTokenIsNotAnAccessToken presents a user's ID token, whose aud is the
// client ID (AcceptToken's default audience), to an API.
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	t.Parallel()
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

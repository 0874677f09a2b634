package httpoidc

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// openRedirectSeeds are known ways to smuggle another site past a "path
// only" check.
var openRedirectSeeds = []string{
	"/", "/ok", "/ok?next=//evil.example", "/a/b?c=d#e",
	"//", "//evil.example", "///evil.example", "////evil.example", "/\\evil.example", "\\/evil.example", "\\\\evil.example",
	"/%2f%2fevil.example", "%2f%2fevil.example", "/%5cevil.example", "/%2F/evil.example",
	"https://evil.example", "http:evil.example", "//user@evil.example", "/@evil.example", "https://app@evil.example",
	"javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
	" //evil.example", "/ /evil.example", "/.//evil.example", "evil.example", "", ".", "..", "../x",
	// Go's resolver removes the empty segment after "..", browsers keep it:
	// https://app/..//evil.example is the path //evil.example.
	"/..//evil.com", "/%2e%2e//evil.com", "/a/../..//evil.com", "/a/..\\/evil.com", "/ok/./x", "/ok/%2E",
}

// FuzzSafeNext checks that every return target safeNext lets through stays
// on the site, read the way a browser reads a Location header.
func FuzzSafeNext(f *testing.F) {
	for _, s := range openRedirectSeeds {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/current/page")
	f.Fuzz(func(t *testing.T, target string) {
		got := safeNext(target)
		if got != "/" && got != target {
			t.Fatalf("safeNext(%q) = %q: it must return the target or /", target, got)
		}
		// Browsers strip tabs and newlines and read backslashes as
		// slashes; Go's parser does neither, so mimic the browser first.
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := url.Parse(browser)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", target, got, err)
		}
		resolved := base.ResolveReference(u)
		if resolved.Scheme != "https" || resolved.Host != "app.example" || resolved.User != nil {
			t.Fatalf("safeNext(%q) = %q leads to %s", target, got, resolved)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q is not a plain path", target, got)
		}
		// Go's resolver, unlike a browser's, drops the empty segment
		// after a dot segment: a path that passes has none.
		path, _ := url.PathUnescape(u.EscapedPath())
		for _, segment := range strings.Split(path, "/") {
			if segment == "." || segment == ".." {
				t.Fatalf("safeNext(%q) = %q has the dot segment %q, which browsers resolve differently", target, got, segment)
			}
		}
	})
}

func TestSafeNextSeeds(t *testing.T) {
	t.Parallel()
	allowed := map[string]bool{"/": true, "/ok": true, "/ok?next=//evil.example": true, "/a/b?c=d#e": true, "/@evil.example": true}
	for _, target := range openRedirectSeeds {
		t.Run(target, func(t *testing.T) {
			want := "/"
			if allowed[target] {
				want = target
			}
			require.Equal(t, want, safeNext(target))
		})
	}
}

// FuzzParseClientSecrets checks that any document either parses into
// complete secrets or gives an error that never quotes the input.
func FuzzParseClientSecrets(f *testing.F) {
	for _, s := range []string{
		`{"web":{"client_id":"id","client_secret":"s","issuer":"https://op.example"}}`,
		`{"web":{"client_id":"id","client_secret":"s","issuer":"https://op.example","redirect_uris":["https://a/b"]}}`,
		`{"web":{}}`, `{"web":null}`, `{}`, `[]`, `null`, `{"web":{"client_id":1}}`, `{"web":"`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := ParseClientSecrets(doc)
		if err != nil {
			if len(doc) > 8 && strings.Contains(err.Error(), string(doc)) {
				t.Fatalf("the error quotes the document: %v", err)
			}
			return
		}
		if s.ClientID == "" || s.ClientSecret == "" || checkAbsoluteURL(s.Issuer) != nil {
			t.Fatalf("incomplete secrets accepted: %v", s)
		}
	})
}

// FuzzDecodeSession checks that any stored value decodes to a usable
// session: never a panic, never a login without a subject.
func FuzzDecodeSession(f *testing.F) {
	valid, _ := json.Marshal(sessionData{Version: sessionVersion, Login: &loginData{Subject: "alice", Profile: map[string]any{"email": "a@example.com"}}})
	for _, s := range []string{string(valid), `{"v":1,"login":{"sub":""}}`, `{"v":2,"login":{"sub":"x"}}`, `{"v":1,"pending":[{"state":1}]}`, `null`, `"x"`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d := decodeSession(raw)
		if d.Version != sessionVersion {
			t.Fatalf("decoded version %d", d.Version)
		}
		if d.Login != nil && d.Login.Subject == "" {
			t.Fatal("a login without subject was accepted")
		}
	})
}

// FuzzCallbackQuery sends arbitrary authorization responses to the
// callback of a browser with no login in progress: every one must be
// refused without contacting anybody and without logging anyone in.
func FuzzCallbackQuery(f *testing.F) {
	for _, s := range []string{
		"code=abc&state=xyz", "error=access_denied&state=x", "state=&code=", "iss=https://evil.example&code=1&state=2",
		"code=%00&state=%ff", "state=a&state=b", "error=", strings.Repeat("a=b&", 100),
	} {
		f.Add(s)
	}
	oc, err := New(context.Background(), Config{
		ClientSecrets: &ClientSecrets{ClientID: "id", ClientSecret: "s", Issuer: "https://op.invalid", RedirectURIs: []string{"https://app.example/authorize"}},
		LazyDiscovery: true,
		Logger:        slog.New(slog.DiscardHandler),
	})
	require.NoError(f, err)
	f.Cleanup(oc.Close)
	handler := oc.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := UserFrom(r.Context())
		if t.LoggedIn() {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	f.Fuzz(func(t *testing.T, query string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "https://app.example/authorize", nil)
		req.URL.RawQuery = query
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusForbidden {
			t.Fatalf("callback with %q answered %d", query, rec.Code)
		}
		if rec.Header().Get("Location") != "" {
			t.Fatalf("callback with %q redirected", query)
		}
		if oc.provider.Load() != nil {
			t.Fatal("the callback contacted the provider")
		}
	})
}

// Package httpoidc adds OpenID Connect login to a net/http application and
// OAuth 2.0 bearer-token protection to an API, in a few lines. It is the Go
// counterpart of Flask-OIDC: the same client_secrets.json, the same
// settings (see ConfigFromEnv), the same testing switch, built on
// github.com/coreos/go-oidc/v3, golang.org/x/oauth2 and
// github.com/alexedwards/scs/v2.
//
// # Logging users in
//
// New reads the client secrets and discovers the provider. Handler wraps
// the application: it keeps the session, serves the callback (/authorize),
// logout (/logout) and back-channel logout (/backchannel-logout) paths,
// refreshes tokens and puts the User in every request's context.
// RequireLogin sends anonymous visitors to the provider and back:
//
//	func main() {
//		ctx := context.Background()
//		oc, err := httpoidc.New(ctx, httpoidc.Config{ClientSecretsFile: "client_secrets.json"})
//		if err != nil {
//			log.Fatal(err)
//		}
//		mux := http.NewServeMux()
//		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//			if u := httpoidc.UserFrom(r.Context()); u.LoggedIn() {
//				fmt.Fprintf(w, "Welcome %s", u.Email)
//				return
//			}
//			fmt.Fprint(w, "Not logged in")
//		})
//		mux.Handle("/login", oc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintf(w, "Welcome %s", httpoidc.UserFrom(r.Context()).Email)
//		})))
//		mux.Handle("/api", oc.AcceptToken("profile")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			tok, _ := httpoidc.TokenFrom(r.Context())
//			fmt.Fprintf(w, "Welcome %s", tok.Subject)
//		})))
//		log.Fatal(http.ListenAndServe("127.0.0.1:8080", oc.Handler(mux)))
//	}
//
// The login uses the authorization code flow with PKCE (S256), state and
// nonce. The callback verifies the ID token (signature, iss, aud, azp, exp,
// iat and nonce, with Config.ClockSkew), the RFC 9207 iss parameter, and
// that the userinfo response is for the same subject; it renews the session
// token and returns only to a path on the same site.
//
// # Protecting an API
//
// AcceptToken validates bearer tokens as RFC 9068 JWT access tokens against
// the provider's keys, or by RFC 7662 introspection, caches the result, and
// answers failures as RFC 6750 says. TokenFrom reads the validated token.
// Set Config.ResourceServerOnly for an API without login.
//
// # Sessions
//
// Everything httpoidc stores lives under one key of an scs session, as a
// JSON string. The default store is in memory; to run several replicas,
// give every replica a SessionManager on a shared store such as
// github.com/alexedwards/scs/goredisstore.
//
// # Testing
//
// With Config.Disabled no provider is contacted and Config.TestingProfile
// is the user every request is logged in as; see Example_testing. For
// tests that go through the real flow, package
// github.com/httpoidc/httpoidc/oidctest runs an OpenID Provider in the
// test process.
package httpoidc

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
//		defer oc.Close()
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
// token and returns only to a path on the same site. ID tokens from a
// refresh get the same checks and must continue the login's
// authentication. The logout path logs out on a GET or POST from the
// application's own pages, and asks for confirmation otherwise, so other
// sites cannot log users out. Every provider URL must be https, except on
// loopback addresses (see Config.InsecureHTTPProvider).
//
// # Who may log in, and calling APIs as the user
//
// Config.AllowedEmailDomains, Config.AllowedGroups and Config.Authorize
// refuse logins at the callback, before any session exists, and again
// after every refresh. Config.GroupsClaim says where User.Groups are read
// (realm_access.roles, resource_access.{client_id}.roles, ...);
// RequireGroup and RequireTokenGroup keep routes for some groups.
// Client and User.TokenSource send the user's access token to other APIs,
// refreshing and saving it when due.
//
// # In front of an application in any language
//
// ReverseProxy is the handler of an authenticating reverse proxy, as
// oauth2-proxy: logged-in requests go to an upstream URL with the user in
// X-Forwarded-User, -Email, -Groups and -Preferred-Username (any such
// header the client sent is removed first), and /oauth2/auth answers nginx
// auth_request. Command oidc-proxy runs it with oauth2-proxy's options.
//
// # Protecting an API
//
// AcceptToken validates bearer tokens as RFC 9068 JWT access tokens against
// the provider's keys, or by RFC 7662 introspection, caches the result, and
// answers failures as RFC 6750 says. TokenFrom reads the validated token;
// Token.Claims decodes the claims it has no field for.
// Set Config.ResourceServerOnly for an API without login.
//
// # Token policy
//
// AcceptToken accepts exactly the access tokens meant for this API: that
// the provider vouches for a token, by its signature or at its
// introspection endpoint, is not enough. Once its signature, iss, exp, nbf
// and iat pass, a JWT is
//   - never accepted if it carries the mark of another kind of token: a
//     nonce, at_hash, c_hash or s_hash claim (ID tokens), events (logout
//     tokens), a typ claim other than Keycloak's Bearer (Keycloak's ID,
//     Refresh, Offline and Logout tokens), a token_use other than access
//     (Cognito's ID tokens), or a typ header other than at+jwt,
//     application/at+jwt and JWT (logout+jwt);
//   - an access token if its typ header is at+jwt (RFC 9068 §2.1) or,
//     without it, on positive evidence only: a scope, scp, typ (Keycloak's
//     Bearer) or token_use (Cognito's access) claim, a client_id claim
//     without azp, or an aud holding a Config.Audience other than the
//     client ID. The client ID is the aud of ID tokens, which carry none of
//     these (zitadel's carry client_id, but beside azp);
//   - meant for this API if its aud contains Config.Audience (default: the
//     client ID) or, with Config.AllowedClients set, if it has no aud at
//     all (Cognito, Ory Hydra without a requested audience); and, with
//     AllowedClients set, only if its client (client_id, else azp, Okta's
//     cid or Entra ID v1's appid) is listed.
//
// An introspection answer must say active, and is refused if its
// token_type is anything but Bearer (refresh_token, ID; DPoP only with
// the cnf that binds it, see DPoP below), if it
// carries one of the marks above (token_use refresh_token from Ory Hydra
// and Dex, typ ID from Keycloak), if the token is a JWT carrying one (Dex
// calls its ID tokens active access tokens), or if its iss, when present,
// is not the provider. It is meant for this API if its aud contains
// Config.Audience. With the default Audience the answer is also for this
// API when its client_id is the client ID or, with AllowedClients set, a
// listed client, as long as its aud names no other API: every value must be
// the client ID, an allowed client or a provider's own audience (only
// Keycloak's "account"); an answer of this client for another API is
// refused, as a JWT would be. With an Audience of the API's own, an
// answer without aud (Ory Hydra's default) is for this API only when its
// client is in AllowedClients. An answer naming no audience and no client is refused.
//
// Keycloak puts the client in azp and "account" in aud: add an audience
// mapper that puts the API's client ID (or Config.Audience) in aud. Dex
// issues access tokens that nothing tells apart from its ID tokens;
// Config.InsecureAcceptIDTokenShapedAccessTokens accepts both, and is
// announced by a warning at New. The first refusal each minute that a
// setting could fix is logged at warning level with the claim that failed
// and the setting; tokens are never logged.
//
// The token and introspection endpoint authentication methods default to
// what the discovery document lists (client_secret_post, else
// client_secret_basic). An introspection endpoint that refuses the API's
// credentials (401 or 403), or a token endpoint that refuses it the client
// credentials grant AuthBearer needs, is a configuration error: every
// request is answered 500 server_error and the error is logged, once a
// minute, with the fix. New fails when the validation mode cannot work: introspection
// without an introspection endpoint (set token_introspection_uri in
// client_secrets.json), or a provider without jwks_uri.
//
// # DPoP
//
// AcceptToken also accepts DPoP-bound access tokens (RFC 9449 §7): the
// token with the DPoP scheme (Authorization: DPoP <token>) and a DPoP
// header holding a proof, a JWT the client signs for this one request.
// The proof must be one (§4.3): typ dpop+jwt, an asymmetric alg, signed by
// the public key in its jwk header, htm the request's method, htu the URL
// the client called (behind Config.TrustedProxies, with the scheme and
// host of X-Forwarded-Proto and X-Forwarded-Host; the path as received,
// under Config.BasePath), iat at most a minute old (ClockSkew aside), ath
// the hash of the token, a jti not seen before (remembered in a bounded
// cache and, when Config.SessionStore or Config.Sessions is set, in the
// session store, so replicas sharing it refuse each other's replays) and,
// with Config.RequireDPoPNonce, a nonce this server issued. The token's
// cnf.jkt, a JWT's claim or the introspection answer's, must be the
// RFC 7638 thumbprint of the proof's key. A token with cnf.jkt sent as a
// bearer token is refused (§7.2); with Config.RequireDPoP every bearer
// token is. Refusals are 401 with a DPoP challenge naming the accepted
// algs and the error invalid_dpop_proof (the proof), invalid_token (the
// binding) or use_dpop_nonce (with a DPoP-Nonce header); a 401 to a bearer
// request offers the DPoP challenge beside the Bearer one.
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
// is the user every request is logged in as; see Example_testing. As that
// switches authentication off, New logs it at error level and refuses it
// next to client secrets or a RedirectURL off this machine, unless
// Config.Testing (OIDC_TESTING=true) declares a test set-up. For tests that
// go through the real flow, package
// github.com/httpoidc/httpoidc/oidctest runs an OpenID Provider in the
// test process.
package httpoidc

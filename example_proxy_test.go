package httpoidc_test

import (
	"context"
	"log"
	"net/http"
	"net/url"

	"github.com/httpoidc/httpoidc"
)

// ExampleOpenIDConnect_ReverseProxy puts a login in front of an
// application in any language, as oauth2-proxy does; it is the README's
// "In front of any app" section. The callback and logout paths go under
// /oauth2, so that the proxy hides none of the application's pages.
func ExampleOpenIDConnect_ReverseProxy() {
	ctx := context.Background()
	oc, err := httpoidc.New(ctx, httpoidc.Config{
		ClientSecretsFile: "client_secrets.json", // redirect URI https://app.example.com/oauth2/callback
		CallbackPath:      "/oauth2/callback",
		LogoutPath:        "/oauth2/sign_out",
	})
	if err != nil {
		log.Fatal(err)
	}
	upstream, _ := url.Parse("http://127.0.0.1:7860")
	proxy, err := oc.ReverseProxy(upstream, httpoidc.ProxyConfig{PassAccessToken: true})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:4180", proxy))
}

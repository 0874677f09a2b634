package httpoidc

import (
	"fmt"
	"maps"
	"net/url"
)

// testingAccessToken is the access token the testing user carries, as in
// Flask-OIDC.
const testingAccessToken = "testing-access-token"

// checkDisabled refuses Config.Disabled where the configuration looks like
// a real deployment, so that a stray OIDC_ENABLED=false cannot switch a
// production application's authentication off: client secrets, or a
// redirect URL on another host than this machine, need Config.Testing too.
func (c *Config) checkDisabled() error {
	if c.Testing {
		return nil
	}
	if c.ClientSecrets != nil || c.ClientSecretsFile != "" {
		return fmt.Errorf("%w: Disabled (OIDC_ENABLED=false) turns authentication off, but client secrets are configured (OIDC_CLIENT_SECRETS) as in a real deployment; "+
			"set Testing (OIDC_TESTING=true) as well if this is a test set-up", ErrInvalidConfig)
	}
	if c.RedirectURL != "" {
		if u, err := url.Parse(c.RedirectURL); err != nil || !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%w: Disabled (OIDC_ENABLED=false) turns authentication off, but RedirectURL (OIDC_OVERWRITE_REDIRECT_URI) is not on a loopback address, as in a real deployment; "+
				"set Testing (OIDC_TESTING=true) as well if this is a test set-up", ErrInvalidConfig)
		}
	}
	return nil
}

// logDisabled says at error level, once at New, that authentication is
// off: it must never go unnoticed in a deployment's logs.
func (oc *OpenIDConnect) logDisabled() {
	user := "anonymous"
	if login := oc.testingLogin(); login != nil {
		user = login.Subject
	}
	oc.log.Error("httpoidc: authentication is DISABLED (Config.Disabled, OIDC_ENABLED=false): no one logs in, every request is the testing user and AcceptToken accepts any token; for tests only",
		"testing_user", user, "testing", oc.cfg.Testing)
}

// testingLogin is the login every request has when Config.Disabled is set:
// Config.TestingProfile, or nobody when it is empty. It is built afresh for
// each request so handlers cannot change it for the next one.
func (oc *OpenIDConnect) testingLogin() *loginData {
	if len(oc.cfg.TestingProfile) == 0 {
		return nil
	}
	sub, _ := oc.cfg.TestingProfile["sub"].(string)
	if sub == "" {
		sub = "testing-user"
	}
	return &loginData{
		Subject:     sub,
		Profile:     maps.Clone(oc.cfg.TestingProfile),
		loginTokens: loginTokens{AccessToken: testingAccessToken},
	}
}

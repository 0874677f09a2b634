package httpoidc

import "maps"

// testingAccessToken is the access token the testing user carries, as in
// Flask-OIDC.
const testingAccessToken = "testing-access-token"

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
		AccessToken: testingAccessToken,
	}
}

package bench

import "github.com/httpoidc/httpoidc"

// setIntrospectionBudget sets Config.IntrospectionsPerSecond.
func setIntrospectionBudget(c *httpoidc.Config, perSecond int) { c.IntrospectionsPerSecond = perSecond }

package bench

import "github.com/httpoidc/httpoidc"

// setIntrospectionBudget is a no-op before the introspection budget.
func setIntrospectionBudget(*httpoidc.Config, int) {}

package app

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/gateway"
)

// buildGateway compiles the gateway_routes rules; a bad rule stops the
// process from starting, with every problem listed.
func (a *App) buildGateway() error {
	apis := map[string]bool{}
	for _, api := range a.Config.Sections.APIs {
		apis[api.Identifier] = true
	}
	rules, err := gateway.Compile(a.Config.Sections.Routes,
		func(s string) bool { _, ok := a.Scopes.Load().Lookup(s); return ok },
		func(id string) bool { return apis[id] })
	if err != nil {
		return fmt.Errorf("invalid gateway route rules:\n%w", err)
	}
	a.Gateway = gateway.New(rules, a.Authn, a.Log)
	return nil
}

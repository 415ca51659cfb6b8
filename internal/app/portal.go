package app

import (
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/portal"
)

// buildPortal wires the developer portal: the signed-in user's apps, over
// the one app-management service, drawn in the account pages' layout. It
// runs after buildApps.
func (a *App) buildPortal() error {
	h, err := portal.New(portal.Config{Sandbox: a.sandbox()}, a.Accounts, a.Apps, a.Identity, a.Scopes, a.Log)
	if err != nil {
		return err
	}
	a.portal = h
	return nil
}

// sandbox reports whether this is a sandbox deployment (the `environment`
// setting): pages carry a banner and the portal offers test users.
func (a *App) sandbox() bool { return a.Config.Environment == apps.EnvSandbox }

package app

import (
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/portal"
	"github.com/gatehouse/gatehouse/internal/server"
)

// portalArea is the developer portal (issue 11): the signed-in user's apps,
// over the one app-management service, drawn in the account pages' layout.
func (a *App) portalArea() server.Area {
	svc, err := a.portalApps()
	if err == nil {
		var h *portal.Handler
		if h, err = portal.New(portal.Config{Sandbox: a.sandbox()}, a.Accounts, svc, a.Identity, a.Scopes, a.Log); err == nil {
			return h
		}
	}
	// Every input was validated when the App was opened.
	panic("portal: " + err.Error())
}

// portalApps is the app-management service the portal calls.
// TODO(merge): use the App's apps service once it is wired in app.go.
func (a *App) portalApps() (*apps.Service, error) {
	return apps.New(apps.Config{
		Store: a.Store, Hasher: a.Hasher, Now: a.Now, Random: a.Rand, Log: a.Log,
		Scopes: a.Scopes, APIKeys: a.APIKeys,
		// The OAuth service forgets a changed client at once, so a retired
		// secret stops now, not when the token endpoint's cache expires.
		OAuth: a.OAuth,
	})
}

// sandbox reports whether this is a sandbox deployment.
// TODO(merge): read the `environment` setting.
func (a *App) sandbox() bool { return false }

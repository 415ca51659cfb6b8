package app

import (
	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/web"
)

// adminArea is the admin API (/admin), over the same identity.Admin
// operations as the console and the CLI.
func (a *App) adminArea() server.Area {
	return a.withWebhooks(adminapi.New(a.Identity.Admin(), a.Identity, a.PATs, a.OAuth, a.Authn, a.Log).WithApps(a.Apps).WithAudit(a.Audit).WithActivity(a.Activity))
}

// consoleArea is the administrators' console (/console).
func (a *App) consoleArea() server.Area {
	return web.NewConsolePages(a.Accounts, a.Identity.Admin(), a.PATs, a.OAuth).WithApps(a.Apps).WithActivity(a.Activity)
}

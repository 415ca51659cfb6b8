package app

import (
	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/server"
)

// adminArea is the admin API (/admin), over the same identity.Admin
// operations as the console and the CLI.
func (a *App) adminArea() server.Area {
	return adminapi.New(a.Identity.Admin(), a.Identity, a.PATs, a.Authn, a.Log)
}

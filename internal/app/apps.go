package app

import (
	"github.com/gatehouse/gatehouse/internal/apps"
)

// buildApps wires the app-management service every path (portal, admin
// console, admin API, CLI) changes apps through. It needs the OAuth and API
// key services, so it runs after buildOAuth and buildTokens.
//
// The environment is production until the `environment` setting exists;
// RequireVerifiedEmail and OnChange are left for email verification and
// the audit log / webhooks to set.
func (a *App) buildApps() error {
	svc, err := apps.New(apps.Config{
		Store: a.Store, Hasher: a.Hasher, Now: a.Now, Random: a.Rand, Log: a.Log,
		Scopes: a.Scopes, APIKeys: a.APIKeys, OAuth: a.OAuth,
	})
	if err != nil {
		return err
	}
	a.Apps = svc
	return nil
}

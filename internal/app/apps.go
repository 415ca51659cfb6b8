package app

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// buildApps wires the app-management service every path (portal, admin
// console, admin API, CLI) changes apps through. It needs the OAuth and API
// key services, so it runs after buildOAuth and buildTokens.
//
// Only accounts whose email address is verified may register production
// apps ("you need an active, verified account for your keys to be
// approved"). OnChange records each change in the audit log (webhooks hook in there too).
func (a *App) buildApps() error {
	cfg := apps.Config{
		Store: a.Store, Hasher: a.Hasher, Now: a.Now, Random: a.Rand, Log: a.Log,
		Scopes: a.Scopes, APIKeys: a.APIKeys, OAuth: a.OAuth,
		Environment: a.Config.Environment,
		OnChange:    a.appChanged,
	}
	// A sandbox app obtains only sandbox credentials: any account may
	// register one there.
	if a.Config.Environment != apps.EnvSandbox {
		cfg.RequireVerifiedEmail = a.Identity.EmailVerified
	}
	svc, err := apps.New(cfg)
	if err != nil {
		return err
	}
	a.Apps = svc
	return nil
}

// credentialEnv is the label every credential this deployment issues
// carries, and the only one it accepts ("" production, "test" sandbox).
func (a *App) credentialEnv() string { return credential.EnvLabel(a.Config.Environment) }

// appChanged is the apps service's change hook, run inside the change's
// transaction: the audit entry first, then the webhook event; either
// failing rolls the change back.
func (a *App) appChanged(ctx context.Context, tx store.Store, ev apps.Event) error {
	if err := a.auditAppChange(ctx, tx, ev); err != nil {
		return err
	}
	return a.onAppChange(ctx, tx, ev)
}

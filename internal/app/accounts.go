package app

import (
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web"
)

// buildAccounts wires issue 3: the account service, the API authenticator
// (other areas register their bearer validators on a.Authn) and the account
// pages (other page areas use a.Accounts.Render / VerifyCSRF / CurrentUser).
func (a *App) buildAccounts() error {
	cfg := identity.DefaultConfig()
	cfg.Argon2.Memory = a.Config.Argon2MemoryKiB
	cfg.Argon2.Iterations = a.Config.Argon2Time
	cfg.Argon2.Parallelism = a.Config.Argon2Threads
	cfg.SessionIdleTimeout = a.Config.SessionIdleTTL
	cfg.SessionLifetime = a.Config.SessionMaxTTL
	var err error
	if a.Identity, err = identity.New(a.Store, a.Box, a.Hasher, a.Now, a.Rand, a.Log, cfg); err != nil {
		return err
	}
	if a.Authn, err = authn.New(authn.Config{Issuer: a.Config.Issuer, BasicAuth: a.Config.BasicAuth}, a.Identity, a.Log); err != nil {
		return err
	}
	a.Accounts, err = web.New(web.Config{Issuer: a.Config.Issuer}, a.Identity, a.Hasher, a.Now, a.Log)
	return err
}

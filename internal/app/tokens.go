package app

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/leak"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/web"
)

// tokenServices are issue 5's services: personal access tokens, API keys and
// the leaked-credential revocation endpoint.
type tokenServices struct {
	PATs    *pat.Service
	APIKeys *apikey.Service
	Leak    *leak.Service
}

// buildTokens wires PATs and API keys and registers their bearer validators.
func (a *App) buildTokens() error {
	var err error
	if a.PATs, err = pat.New(a.Store, a.Hasher, a.Now, a.Rand, a.Log, pat.Config{Scopes: a.Scopes, Env: a.credentialEnv(), Created: a.AccountMail.PATCreated, Audit: a.Audit}); err != nil {
		return err
	}
	if a.APIKeys, err = apikey.New(a.Store, a.Hasher, a.Now, a.Rand, a.Log, apikey.Config{Scopes: a.Scopes, Env: a.credentialEnv(), Audit: a.Audit}); err != nil {
		return err
	}
	if a.Leak, err = leak.New(a.Store, a.Hasher, a.Now, a.Log); err != nil {
		return err
	}
	a.Authn.RegisterBearer(credential.PAT, a.PATs.Validator())
	a.Authn.RegisterBearer(credential.APIKey, a.APIKeys.Validator())
	return nil
}

func (a *App) tokenAreas() []server.Area {
	return []server.Area{
		pat.NewHandler(a.PATs, a.Authn, a.Log),
		apikey.NewHandler(a.APIKeys, a.Authn, a.Log),
		leak.NewHandler(a.Leak, leak.LimitConfig{}, a.Log),
		web.NewTokenPages(a.Accounts, a.PATs),
	}
}

// runTokenFlushers writes batched last-use stamps until ctx ends.
func (a *App) runTokenFlushers(ctx context.Context) {
	go a.PATs.RunLastUsedFlusher(ctx)
	go a.APIKeys.RunLastUsedFlusher(ctx)
	go a.OAuth.RunSecretLastUsedFlusher(ctx)
}

// flushTokens writes what is still buffered (at shutdown).
func (a *App) flushTokens() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.PATs.FlushLastUsed(ctx); err != nil {
		a.Log.Warn("flushing PAT last use", "err", err)
	}
	if err := a.APIKeys.FlushLastUsed(ctx); err != nil {
		a.Log.Warn("flushing API key last use", "err", err)
	}
	if err := a.OAuth.FlushSecretLastUsed(ctx); err != nil {
		a.Log.Warn("flushing client secret last use", "err", err)
	}
}

// Package app assembles one Gatehouse process from its configuration: master
// key, store, services and HTTP areas. The serve command and every admin
// command open the same App, so they share configuration and behaviour.
package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/portal"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/backend"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// SchemaMode says what Open does about the database schema version.
type SchemaMode int

const (
	// ServeSchema applies the `migrate` setting: auto migrates SQLite and
	// refuses an unmigrated PostgreSQL; always migrates; never refuses.
	ServeSchema SchemaMode = iota
	// CheckSchema is for admin commands: the same policy as serve.
	CheckSchema
	// NoSchemaCheck is for the migrate command itself.
	NoSchemaCheck
)

// App is one assembled Gatehouse process.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Store    *sqlstore.Store
	Box      *secret.Box
	Hasher   *credential.Hasher
	Now      func() time.Time
	Rand     io.Reader
	Registry *prometheus.Registry
	Issuer   *url.URL
	// Scopes holds the scope catalog (built-in plus the config file's
	// `scopes:`); ReloadScopes swaps it.
	Scopes *scope.Holder

	// keyCheck is the master key's check value (secret.KeyCheck); the key
	// itself is not kept beyond the subkeys derived from it.
	keyCheck string

	// services (wiring: add each area's service here and build it in Open)
	Identity      *identity.Service    // accounts, passwords, two-factor, sessions
	Authn         *authn.Authenticator // API authentication (Basic + OTP-Token, bearer dispatch)
	Accounts      *web.Handler         // account pages; Render/CSRF/CurrentUser for other pages
	OAuth         *oauth.Service       // OAuth 2.0 authorization server (issue 4)
	tokenServices                      // PATs, API keys, leak revocation (issue 5)
	Gateway       *gateway.Handler     // the reverse proxies' check endpoint (/gateway/check)
	Keys          *keys.Manager        // JWT signing keys and the JWKS (nil for the migrate command)
	emailServices                      // outbox and mailer (outgoing email)
	Apps          *apps.Service        // app management: every change to an app (issue 11)
	portal        *portal.Handler      // the developer portal (/portal)
	rateLimits                         // per-route-class rate limits (ratelimit.go)
	Webhooks      *webhook.Service     // signed webhooks to apps (webhooks.go)
	Audit         *audit.Log           // the hash-chained audit log (audit.go)
	auditKey      []byte               // signs the audit log's pruning checkpoints
	Activity      *activity.Counter    // hourly event counters (activity.go)
	pairwiseKey   []byte               // computes pairwise subjects (oidc.go)
}

// Open builds the App: it loads (or, for SQLite development setups,
// generates) the master key, opens the store and checks its schema.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, mode SchemaMode) (*App, error) {
	key, err := secret.LoadMasterKey(cfg.MasterKey, cfg.MasterKeyFile, !cfg.IsPostgres(), log)
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key, rand.Reader)
	if err != nil {
		return nil, err
	}
	pepper, err := secret.Derive(key, "credential-pepper-v1")
	if err != nil {
		return nil, err
	}
	hasher, err := credential.NewHasher(pepper)
	if err != nil {
		return nil, err
	}
	keyCheck, err := secret.KeyCheck(key)
	if err != nil {
		return nil, err
	}
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	// The operator's scopes are checked before anything is opened: serve
	// refuses to start with every problem listed.
	catalog, err := scope.New(cfg.Sections.Scopes)
	if err != nil {
		return nil, fmt.Errorf("invalid scopes in the configuration file:\n%w", err)
	}
	st, err := backend.Open(ctx, cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	a := &App{
		Config: cfg, Log: log, Store: st, Box: box, Hasher: hasher,
		Now: time.Now, Rand: rand.Reader, Registry: prometheus.NewRegistry(), Issuer: issuer,
		keyCheck: keyCheck,
		Scopes:   scope.NewHolder(catalog),
	}
	if a.auditKey, err = deriveAuditKey(key); err != nil {
		st.Close()
		return nil, err
	}
	if a.pairwiseKey, err = derivePairwiseKey(key); err != nil {
		st.Close()
		return nil, err
	}
	if mode != NoSchemaCheck {
		if err := a.ensureSchema(ctx); err != nil {
			st.Close()
			return nil, err
		}
		if err := a.VerifyMasterKey(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if mode != NoSchemaCheck {
		if err := a.buildKeys(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	if err := a.buildServices(); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) ensureSchema(ctx context.Context) error {
	cur, latest, err := a.Store.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if cur > latest {
		return fmt.Errorf("the database schema (version %d) is newer than this gatehouse supports (%d): run a newer gatehouse", cur, latest)
	}
	if cur == latest {
		return nil
	}
	migrate := a.Config.Migrate == "always" || (a.Config.Migrate == "auto" && !a.Config.IsPostgres())
	if !migrate {
		return fmt.Errorf("the database schema is at version %d but this gatehouse needs %d: run `gatehouse migrate up` (or set migrate=always)", cur, latest)
	}
	a.Log.Info("migrating database", "from", cur, "to", latest, "dialect", a.Store.Dialect())
	return a.Store.MigrateUp(ctx)
}

// masterKeyCheckName is the meta row holding the master key check value.
const masterKeyCheckName = "master_key_check"

// ErrWrongMasterKey: the process holds another master key than the one the
// database was first used with.
var ErrWrongMasterKey = errors.New("the master key does not match the one this database was created with")

// VerifyMasterKey compares the master key's check value with the one stored
// in the database, storing it first when there is none (a new database, or
// the first start of a version that keeps one). With another key every
// client secret, token and API key would fail to authenticate and every
// sealed TOTP seed fail to open — at request time, as 401s and 500s, long
// after the server reported ready — so the process refuses to start instead.
func (a *App) VerifyMasterKey(ctx context.Context) error {
	stored, err := a.Store.InitMetaValue(ctx, masterKeyCheckName, a.keyCheck, a.Now())
	if err != nil {
		return fmt.Errorf("checking the master key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(a.keyCheck)) != 1 {
		return fmt.Errorf("%w: start with the original key (%s); every credential and sealed secret in this database depends on it", ErrWrongMasterKey, a.keySource())
	}
	return nil
}

// keySource says where this process read its master key from.
func (a *App) keySource() string {
	if a.Config.MasterKey != "" {
		return "GATEHOUSE_MASTER_KEY"
	}
	return "master_key_file " + a.Config.MasterKeyFile
}

// ReloadScopes swaps in the catalog built from the operator's scopes (a
// re-read configuration file), for every service at once. When they are
// invalid it returns every problem and the running catalog stays.
// Credentials carrying a scope that is no longer in the catalog stop carrying
// it on their next use.
func (a *App) ReloadScopes(specs []config.ScopeSpec) error {
	catalog, err := scope.New(specs)
	if err != nil {
		return err
	}
	a.Scopes.Store(catalog)
	return nil
}

// buildServices constructs the domain services from the App's dependencies.
func (a *App) buildServices() error {
	// wiring: services
	if err := a.buildAudit(); err != nil {
		return err
	}
	if err := a.buildActivity(); err != nil {
		return err
	}
	if err := a.buildEmail(); err != nil {
		return err
	}
	if err := a.buildAccounts(); err != nil {
		return err
	}
	if err := a.buildOAuth(); err != nil {
		return err
	}
	if err := a.buildTokens(); err != nil {
		return err
	}
	if err := a.buildApps(); err != nil {
		return err
	}
	if err := a.buildPortal(); err != nil {
		return err
	}
	if err := a.buildWebhooks(); err != nil {
		return err
	}
	if err := a.buildGateway(); err != nil {
		return err
	}
	if err := a.buildRateLimit(); err != nil {
		return err
	}
	return nil
}

// Handler returns the HTTP handler with every area mounted.
func (a *App) Handler(version string) http.Handler {
	areas := []server.Area{
		// wiring: areas
		a.Accounts, api.NewMe(a.Identity, a.Authn, a.Log),
		a.oauthArea(), a.Gateway, jwksArea{a.Keys}, a.adminArea(), a.consoleArea(), a.portal,
		web.NewEmailPages(a.Accounts, a.AccountMail),
	}
	areas = append(areas, a.tokenAreas()...)
	areas = append(areas, a.auditAreas()...)
	// Validated with the configuration, so these cannot fail here.
	resolver, _ := clientaddr.New(a.Config.TrustedProxies, a.Config.ForwardedHeader)
	logoOrigin, _ := config.LogoOrigin(a.Config.LogoURL)
	return server.New(server.Options{
		ClientAddr: resolver,
		Log:        a.Log, DB: a.Store, Registry: a.Registry, MetricsToken: a.Config.MetricsToken,
		MaxBodyBytes: a.Config.MaxBodyBytes, AccessLog: a.Config.AccessLog,
		HTTPS: a.Issuer.Scheme == "https", Version: version, ImgOrigin: logoOrigin,
		Around:          []func(http.Handler) http.Handler{a.Authn.APIKeyHeader, a.rateLimitHandler, a.auditMeta},
		BrowserFallback: a.Accounts.BrowserFallback(),
	}, areas...)
}

// RunBackground runs periodic housekeeping (expired rows, batched last-use
// stamps) until ctx ends.
func (a *App) RunBackground(ctx context.Context) {
	a.runTokenFlushers(ctx)
	if a.Keys != nil {
		go a.Keys.Run(ctx)
	}
	a.runOutbox(ctx)
	a.runAudit(ctx)
	a.runActivity(ctx)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := a.Now()
			if _, err := a.Store.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
				a.Log.Warn("housekeeping: sessions", "err", err)
			}
			// Keep expired tokens a day so introspection of a just-expired
			// token still says inactive for the right reason in logs.
			if _, err := a.Store.DeleteExpiredTokens(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
				a.Log.Warn("housekeeping: tokens", "err", err)
			}
			if _, err := a.Store.DeleteExpiredAuthCodes(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
				a.Log.Warn("housekeeping: authorization codes", "err", err)
			}
			// TOTP steps are 30 s; anything older than ten minutes is far
			// outside the ±1-step window and cannot be replayed anyway.
			if _, err := a.Store.DeleteTOTPStepsBefore(ctx, now.Add(-10*time.Minute).Unix()/30); err != nil && ctx.Err() == nil {
				a.Log.Warn("housekeeping: TOTP steps", "err", err)
			}
			if _, err := a.Activity.Prune(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("housekeeping: activity counters", "err", err)
			}
		}
	}
}

// Close writes buffered last-use stamps and releases the store.
func (a *App) Close() error {
	a.flushTokens()
	a.flushActivity()
	a.closeRateLimits()
	return a.Store.Close()
}

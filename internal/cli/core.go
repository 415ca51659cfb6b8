package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/server"
)

func coreCommands() []Command {
	return []Command{
		{Path: "serve", Summary: "run the HTTP server", Run: runServe},
		{Path: "migrate up", Summary: "apply pending database migrations", Run: runMigrateUp},
		{Path: "migrate status", Summary: "show the database schema version", Run: runMigrateStatus},
		{Path: "version", Summary: "print the version", Run: func(ctx context.Context, env *Env, args []string) error {
			if _, err := env.Parse(env.ownFlagSet("version"), args, 0); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, "gatehouse", Version)
			return nil
		}},
		{Path: "config", Summary: "print the settings table (Markdown, as in the README)", Run: runConfigTable},
		{Path: "help settings", Summary: "describe every setting: flag, environment variable, YAML key, default", Run: func(ctx context.Context, env *Env, args []string) error {
			if _, err := env.Parse(env.ownFlagSet("help settings"), args, 0); err != nil {
				return err
			}
			settingsHelp(env.Stdout)
			return nil
		}},
	}
}

// serveGCPercent is the garbage collector's pace while serving (see
// runServe) unless the GOGC environment variable sets one.
const serveGCPercent = 200

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("serve")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	if err := checkDatabasePath(cfg); err != nil {
		return err
	}
	env.describe(cfg)
	log := env.Logger(cfg)
	a, err := app.Open(ctx, cfg, log, app.ServeSchema)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	h := a.Handler(Version)
	// The metrics listener binds before the server reports itself listening,
	// so a taken port is an error at start rather than a log line later.
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		metricsLn, err = net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics_addr: %w (set metrics_addr to another address, or off)", err)
		}
	}
	// Startup (decompressing the password blocklist, migrations) leaves
	// garbage the runtime would return to the OS only slowly; hand it back
	// now so the idle footprint is the live heap, not the startup peak.
	debug.FreeOSMemory()
	// The server's live heap is a few MiB and nearly all it allocates is
	// per-request garbage, so Go's default pace (collect whenever the heap
	// has doubled) runs many collections a second under load. Collecting at
	// three times the live heap measured 10–15% more JWT issuance
	// (gatehouse bench) for a few MiB of heap. GOGC, when set, decides.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	go a.RunBackground(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnSignal(ctx, hup, env, a, log)
	if cfg.DebugAddr != "" {
		go serveDebug(ctx, cfg.DebugAddr, log)
	}
	if metricsLn != nil {
		go serveMetrics(ctx, metricsLn, server.MetricsHandler(a.Registry), log)
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "database", a.Store.Dialect(), "version", Version)
	return server.Run(ctx, ln, h, log, cfg.ShutdownTimeout, cfg.TLSCert, cfg.TLSKey)
}

// reloadOnSignal re-reads the configuration on each signal (SIGHUP) and swaps
// in its scope catalog. A file that no longer loads, or invalid scopes, is
// logged with every problem and the running catalog stays: a typo must not
// take scopes away from a running server. Only the `scopes:` section is
// applied; other settings need a restart.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, env *Env, a *app.App, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		cfg, err := env.Config()
		if err == nil {
			err = a.ReloadScopes(cfg.Sections.Scopes)
		}
		if err != nil {
			log.Error("configuration reload refused; the running scopes stay", "err", err)
			continue
		}
		log.Info("configuration reloaded: scope catalog replaced", "scopes", len(a.Scopes.Load().Names()))
	}
}

type schemaStatus struct {
	Dialect string `json:"dialect"`
	Current int64  `json:"current"`
	Latest  int64  `json:"latest"`
}

func runMigrateUp(ctx context.Context, env *Env, args []string) error {
	return migrate(ctx, env, args, true)
}

func runMigrateStatus(ctx context.Context, env *Env, args []string) error {
	return migrate(ctx, env, args, false)
}

func migrate(ctx context.Context, env *Env, args []string, up bool) error {
	verb := "status"
	if up {
		verb = "up"
	}
	fs := env.FlagSet("migrate " + verb)
	env.OutputFlag(fs)
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	// Only `migrate up` (and serve) may create the database; status reports
	// on one that exists.
	check := requireDatabase
	if up {
		check = checkDatabasePath
	}
	if err := check(cfg); err != nil {
		return err
	}
	env.describe(cfg)
	a, err := app.Open(ctx, cfg, env.Logger(cfg), app.NoSchemaCheck)
	if err != nil {
		return err
	}
	defer a.Close()
	if up {
		if err := a.Store.MigrateUp(ctx); err != nil {
			return err
		}
		// The schema now has the table that holds the key check: record it,
		// or refuse a migration run with another key than the database's.
		if err := a.VerifyMasterKey(ctx); err != nil {
			return err
		}
	}
	cur, latest, err := a.Store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	st := schemaStatus{Dialect: a.Store.Dialect(), Current: cur, Latest: latest}
	return env.Print(st, func(w io.Writer) {
		state := "up to date"
		if cur < latest {
			state = "pending migrations: run `gatehouse migrate up`"
		} else if cur > latest {
			state = "NEWER than this binary"
		}
		fmt.Fprintf(w, "%s schema version %d of %d (%s)\n", st.Dialect, cur, latest, state)
	})
}

func runConfigTable(ctx context.Context, env *Env, args []string) error {
	if _, err := env.Parse(env.ownFlagSet("config"), args, 0); err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, configTable())
	return nil
}

// serveMetrics serves /metrics on its own listener (metrics_addr) until ctx
// ends. Nothing else is routed there.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Error("metrics listener", "err", err)
	}
}

// serveDebug serves net/http/pprof on its own loopback listener, never on the
// public mux.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Error("pprof listener", "err", err)
	}
}

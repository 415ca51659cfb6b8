// Package cli is Gatehouse's command line: a table of subcommands ("serve",
// "migrate up", "user create", …), each parsing its own flags plus the shared
// configuration flags, so admin commands read the same configuration as the
// server and work directly on the database whether or not a server runs.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/credential"
)

// Version is the release version, overridden at build time with
// -ldflags "-X github.com/gatehouse/gatehouse/internal/cli.Version=v1.2.3".
var Version = "0.1.0-dev"

// Env is what a command runs with: standard streams and the environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	cfgFlags *config.Flags
	output   *string
}

// Command is one subcommand. Path is its words ("user create").
type Command struct {
	Path    string
	Args    string // usage after the flags, e.g. "EMAIL"
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the table. Each area contributes its own slice.
func commands() []Command {
	var cmds []Command
	cmds = append(cmds, coreCommands()...)
	cmds = append(cmds, userCommands()...)
	cmds = append(cmds, clientCommands()...)
	cmds = append(cmds, apikeyCommands()...)
	cmds = append(cmds, benchCommands()...)
	return cmds
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	cmds := commands()
	// Longest matching path wins: "user create" before "user".
	sort.Slice(cmds, func(i, j int) bool { return len(cmds[i].Path) > len(cmds[j].Path) })
	joined := strings.Join(args, " ")
	for _, c := range cmds {
		if joined == c.Path || strings.HasPrefix(joined, c.Path+" ") {
			rest := args[len(strings.Fields(c.Path)):]
			if err := c.Run(ctx, env, rest); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0
				}
				fmt.Fprintf(env.Stderr, "gatehouse %s: %v\n", c.Path, err)
				return 1
			}
			return 0
		}
	}
	usage(env.Stderr, cmds)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return 0
	}
	fmt.Fprintf(env.Stderr, "\nunknown command %q\n", joined)
	return 2
}

func usage(w io.Writer, cmds []Command) {
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Path < cmds[j].Path })
	fmt.Fprintln(w, "Gatehouse — OAuth 2.0, accounts, tokens and API keys for your API.\n\nUsage: gatehouse COMMAND [flags]\n\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-18s %s\n", c.Path, c.Summary)
	}
	fmt.Fprintln(w, "\nEvery command accepts the configuration flags (gatehouse COMMAND -h lists them);\nsettings also come from GATEHOUSE_* variables and a YAML file (--config).")
}

// FlagSet returns a flag set for the command with the configuration flags
// registered; Parse it with env.Parse.
func (env *Env) FlagSet(c string) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+c, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	env.cfgFlags = config.RegisterFlags(fs)
	return fs
}

// OutputFlag adds --output text|json to fs, for commands that create or list.
func (env *Env) OutputFlag(fs *flag.FlagSet) {
	env.output = fs.String("output", "text", "text | json")
}

// Parse parses args and rejects stray positional arguments beyond want.
// Flags may come before or after the positional arguments
// ("client show ID --output json"); "--" ends flag parsing.
func (env *Env) Parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// flag stops at the first non-flag; "--" is consumed by fs.Parse,
		// so a rest that follows one is all positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if len(positional) != want {
		return nil, fmt.Errorf("expected %d argument(s), got %d (%s)", want, len(positional), strings.Join(positional, " "))
	}
	if env.output != nil && *env.output != "text" && *env.output != "json" {
		return nil, fmt.Errorf("--output must be text or json")
	}
	return positional, nil
}

// Config loads the configuration from defaults, file, environment and flags.
func (env *Env) Config() (config.Config, error) {
	return config.Load(env.cfgFlags, env.Getenv)
}

// Logger builds the process logger from the configuration (to stderr). Every
// line passes through credential.RedactHandler: a token that reaches a log
// line by any route (a URL path, an error message) is cut to its prefix.
func (env *Env) Logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(env.Stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(env.Stderr, opts)
	}
	return slog.New(credential.NewRedactHandler(h))
}

// OpenApp loads the configuration and opens the application for an admin
// command (quiet logs: warnings and errors only).
func (env *Env) OpenApp(ctx context.Context) (*app.App, error) {
	cfg, err := env.Config()
	if err != nil {
		return nil, err
	}
	if cfg.LogLevel == "info" || cfg.LogLevel == "debug" {
		cfg.LogLevel = "warn"
	}
	if err := requireDatabase(cfg); err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, env.Logger(cfg), app.CheckSchema)
}

// checkDatabasePath refuses a SQLite path that names a directory: opening
// it fails late and obscurely, and the key file derived from it
// (<dir of database>/gatehouse.key) would land in that directory's parent.
func checkDatabasePath(cfg config.Config) error {
	if cfg.IsPostgres() {
		return nil
	}
	if st, err := os.Stat(cfg.Database); err == nil && st.IsDir() {
		return fmt.Errorf("database %s is a directory; name a SQLite file in it, e.g. --database %s", cfg.Database, filepath.Join(cfg.Database, "gatehouse.db"))
	}
	return nil
}

// requireDatabase is the rule for every command other than `serve` and
// `migrate up`: they work on an existing SQLite database and never create
// one. Run from the wrong directory, an admin command would otherwise open
// a new empty gatehouse.db (and generate a master key beside it) and report
// an empty table as if it were the real one.
func requireDatabase(cfg config.Config) error {
	if err := checkDatabasePath(cfg); err != nil {
		return err
	}
	if cfg.IsPostgres() {
		return nil
	}
	path := cfg.Database
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if _, err := os.Stat(cfg.Database); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s: run this where the database is, set --database (GATEHOUSE_DATABASE), or create it with `gatehouse migrate up` or a first `gatehouse serve`", path)
	} else if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	// The database exists, so its master key must too: generating a new one
	// here would only write a stray key file and then be refused as the
	// wrong key.
	if cfg.MasterKey == "" && cfg.MasterKeyFile != "" {
		if _, err := os.Stat(cfg.MasterKeyFile); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no master key at %s for the database %s: set --master-key-file or GATEHOUSE_MASTER_KEY to the key it was created with", cfg.MasterKeyFile, path)
		}
	}
	return nil
}

// Open parses args (want positional arguments) and opens the application:
// the prelude of every admin command. The caller closes the App.
func (env *Env) Open(ctx context.Context, fs *flag.FlagSet, args []string, want int) (*app.App, []string, error) {
	rest, err := env.Parse(fs, args, want)
	if err != nil {
		return nil, nil, err
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return nil, nil, err
	}
	return a, rest, nil
}

// Print writes v as JSON with --output json, or calls text otherwise.
func (env *Env) Print(v any, text func(w io.Writer)) error {
	if env.output != nil && *env.output == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(env.Stdout)
	return nil
}

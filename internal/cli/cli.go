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
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	// Environ lists the environment (os.Environ when nil), to warn about
	// GATEHOUSE_* variables that are no setting.
	Environ func() []string

	cmd      *Command      // the command running, for its help and errors
	fs       *flag.FlagSet // its flag set, once created
	cfgFlags *config.Flags // the setting flags on fs, when registered
	output   *string       // --output, when the command has it
	verbose  bool          // -v: say which database and key are used
	warned   bool          // unknown GATEHOUSE_* variables reported
}

// Command is one subcommand. Path is its words ("user create").
type Command struct {
	Path    string
	Args    string // positional arguments after the flags, e.g. "CLIENT_ID"
	Summary string
	Long    string // more about the command, for its --help
	Run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the table. Each area contributes its own slice.
func commands() []Command {
	var cmds []Command
	cmds = append(cmds, coreCommands()...)
	cmds = append(cmds, userCommands()...)
	cmds = append(cmds, userAdminCommands()...)
	cmds = append(cmds, userEmailCommands()...)
	cmds = append(cmds, clientCommands()...)
	cmds = append(cmds, apikeyCommands()...)
	cmds = append(cmds, keysCommands()...)
	cmds = append(cmds, auditCommands()...)
	cmds = append(cmds, benchCommands()...)
	cmds = append(cmds, completionCommands()...)
	return cmds
}

// Exit codes: 1 for a command that failed, 2 for a command line that could
// not be understood (the convention of flag, getopt and most shells).
const (
	exitFailure = 1
	exitUsage   = 2
)

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Environ == nil {
		env.Environ = os.Environ
	}
	cmds := commands()
	if len(args) == 0 {
		// A bare `gatehouse` did not say what to do: help, as a usage error.
		topHelp(env.Stdout, cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		topHelp(env.Stdout, cmds)
		return 0
	case "help":
		if len(args) == 1 {
			topHelp(env.Stdout, cmds)
			return 0
		}
		if args[1] != "settings" {
			// `gatehouse help client show` is `gatehouse client show --help`.
			return Main(ctx, append(slices.Clone(args[1:]), "--help"), env)
		}
	case "-version", "--version":
		fmt.Fprintln(env.Stdout, "gatehouse", Version)
		return 0
	}
	// Longest matching path wins: "user create" before "user".
	sort.SliceStable(cmds, func(i, j int) bool { return len(cmds[i].Path) > len(cmds[j].Path) })
	joined := strings.Join(args, " ")
	for i := range cmds {
		c := &cmds[i]
		if joined != c.Path && !strings.HasPrefix(joined, c.Path+" ") {
			continue
		}
		env.cmd = c
		err := c.Run(ctx, env, args[len(strings.Fields(c.Path)):])
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			commandHelp(env.Stdout, c, env.fs)
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(env.Stderr, "gatehouse %s: %v (see gatehouse %s --help)\n", c.Path, err, c.Path)
			return exitUsage
		default:
			fmt.Fprintf(env.Stderr, "gatehouse %s: %v\n", c.Path, err)
			return exitFailure
		}
	}
	if verbs := groupCommands(cmds, args[0]); len(verbs) > 0 {
		// `gatehouse migrate` alone, or with a verb that does not exist.
		if len(args) == 1 || isHelpFlag(args[1]) {
			groupHelp(env.Stdout, args[0], verbs)
			if len(args) == 1 {
				return exitUsage
			}
			return 0
		}
		fmt.Fprintf(env.Stderr, "gatehouse %s: unknown command %q%s (see gatehouse %s --help)\n", args[0], args[1], suggest(args[1], verbWords(verbs)), args[0])
		return exitUsage
	}
	fmt.Fprintf(env.Stderr, "gatehouse: unknown command %q%s (see gatehouse --help)\n", args[0], suggest(args[0], firstWords(cmds)))
	return exitUsage
}

// FlagSet returns a flag set for the command with the configuration flags
// and -v registered; Parse it with env.Parse.
func (env *Env) FlagSet(c string) *flag.FlagSet {
	fs := env.ownFlagSet(c)
	env.cfgFlags = config.RegisterFlags(fs)
	fs.BoolVar(&env.verbose, "v", false, "say which database, master key and configuration file the command uses")
	return fs
}

// ownFlagSet is a flag set that reports nothing itself: Main prints help
// and errors, once and in one line.
func (env *Env) ownFlagSet(c string) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+c, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	env.fs = fs
	return fs
}

// OutputFlag adds --output text|json to fs, for commands that create or list.
func (env *Env) OutputFlag(fs *flag.FlagSet) {
	env.output = fs.String("output", "text", "print the result as `text|json`")
}

// Parse parses args and checks the number of positional arguments against
// want. Flags may come before or after the positional arguments
// ("client show ID --output json"); "--" ends flag parsing.
func (env *Env) Parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(fs, err)
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
	if err := env.checkArgs(positional, want); err != nil {
		return nil, err
	}
	if env.output != nil && *env.output != "text" && *env.output != "json" {
		return nil, usageErrorf("--output must be text or json, not %q", *env.output)
	}
	return positional, nil
}

// checkArgs names the missing argument from the command's synopsis
// ("missing client ID"), or the first argument too many.
func (env *Env) checkArgs(positional []string, want int) error {
	if len(positional) > want {
		if want == 0 {
			return usageErrorf("unexpected argument %q: this command takes none", positional[want])
		}
		return usageErrorf("unexpected argument %q after %s", positional[want], strings.Join(positional[:want], " "))
	}
	if len(positional) < want {
		var names []string
		if env.cmd != nil {
			names = strings.Fields(env.cmd.Args)
		}
		if len(positional) < len(names) {
			return usageErrorf("missing %s", argName(names[len(positional)]))
		}
		return usageErrorf("missing argument %d", len(positional)+1)
	}
	return nil
}

// Config loads the configuration from defaults, file, environment and flags.
func (env *Env) Config() (config.Config, error) {
	if !env.warned && env.Environ != nil {
		env.warned = true
		for _, w := range config.UnknownEnv(env.Environ()) {
			fmt.Fprintln(env.Stderr, "gatehouse:", w)
		}
	}
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
	env.describe(cfg)
	return app.Open(ctx, cfg, env.Logger(cfg), app.CheckSchema)
}

// describe says, with -v, which database, master key and configuration file
// the command uses: the question to ask first when an admin command shows
// an unexpected (say, empty) table.
func (env *Env) describe(cfg config.Config) {
	if !env.verbose {
		return
	}
	db := cfg.Database
	if cfg.IsPostgres() {
		if u, err := url.Parse(db); err == nil {
			db = u.Redacted()
		}
	} else if abs, err := filepath.Abs(db); err == nil {
		db = abs
	}
	key := "GATEHOUSE_MASTER_KEY"
	if cfg.MasterKey == "" {
		key = cfg.MasterKeyFile
	}
	file := cfg.ConfigFile
	if file == "" {
		file = "none"
	}
	fmt.Fprintf(env.Stderr, "gatehouse: database %s, master key %s, configuration file %s\n", db, key, file)
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

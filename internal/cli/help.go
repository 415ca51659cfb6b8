package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
)

// usageError is a command line that could not be understood: Main prints it
// on one line with a pointer to the command's help and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	invalidValue  = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^:]+): (.*)$`)
	// flag names flags with one dash; the help and README use two.
	singleDash = regexp.MustCompile(`(^|[\s(])-([a-zA-Z][a-zA-Z0-9-]*)`)
)

// flagError turns an error of flag.FlagSet.Parse into one line: an unknown
// flag gets the closest known one as a suggestion.
func flagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if m := invalidValue.FindStringSubmatch(err.Error()); m != nil {
		want := m[3]
		if f := fs.Lookup(m[2]); f != nil {
			switch kind, _ := flag.UnquoteUsage(f); {
			case kind == "duration" || metavar[f.Name] == "DURATION":
				want = "want a duration such as 90s, 15m or 12h"
			case kind == "":
				want = "want true or false"
			case kind == "int":
				want = "want a whole number"
			}
		}
		return usageErrorf("--%s %s: %s", m[2], m[1], want)
	}
	m := undefinedFlag.FindStringSubmatch(err.Error())
	if m == nil {
		return usageErrorf("%s", singleDash.ReplaceAllString(err.Error(), "$1--$2"))
	}
	name, _, _ := strings.Cut(m[1], "=")
	if (strings.Contains(name, "pass") || strings.HasPrefix(name, "pas")) && fs.Lookup("password-stdin") != nil {
		// A password on the command line is visible in ps and in the shell
		// history; the flag that exists reads it from standard input.
		return usageErrorf("unknown flag --%s: passwords are never taken as arguments (ps and shell history would see them); pipe it in with --password-stdin", name)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return usageErrorf("unknown flag --%s%s", name, suggest(name, names, "--"))
}

// suggest returns "; did you mean X?" for the candidate closest to word, or
// "" when none is close enough to be a likely misspelling.
func suggest(word string, candidates []string, prefix ...string) string {
	best, ok := config.Closest(word, candidates)
	if !ok {
		return ""
	}
	return fmt.Sprintf("; did you mean %s%s?", strings.Join(prefix, ""), best)
}

// argName is how an error names a positional argument: CLIENT_ID → client ID.
func argName(synopsis string) string {
	words := strings.Split(strings.ToLower(strings.Trim(synopsis, "[].")), "_")
	for i, w := range words {
		if w == "id" {
			words[i] = "ID"
		}
	}
	return strings.Join(words, " ")
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// groupCommands are the commands under a first word ("migrate" → migrate
// up, migrate status), for a group named without its verb.
func groupCommands(cmds []Command, group string) []Command {
	var out []Command
	for _, c := range cmds {
		if w := strings.Fields(c.Path); len(w) > 1 && w[0] == group {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func verbWords(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, strings.Fields(c.Path)[1])
	}
	return out
}

func firstWords(cmds []Command) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cmds {
		if w := strings.Fields(c.Path)[0]; !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func synopsis(c *Command) string {
	s := "gatehouse " + c.Path + " [flags]"
	if c.Args != "" {
		s += " " + c.Args
	}
	return s
}

func topHelp(w io.Writer, cmds []Command) {
	cmds = append([]Command(nil), cmds...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Path < cmds[j].Path })
	fmt.Fprint(w, "Gatehouse — OAuth 2.0, accounts, tokens and API keys for your API.\n\n")
	fmt.Fprint(w, "Usage:\n  gatehouse COMMAND [flags] [ARGUMENTS]\n\nCommands:\n")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Path+" "+c.Args))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, strings.TrimSpace(c.Path+" "+c.Args), c.Summary)
	}
	fmt.Fprint(w, "\nRun `gatehouse COMMAND --help` for a command's flags, and `gatehouse help settings`\n"+
		"for the settings every command reads (flags, GATEHOUSE_* variables, YAML file).\n")
}

func groupHelp(w io.Writer, group string, verbs []Command) {
	fmt.Fprintf(w, "Usage:\n  gatehouse %s COMMAND [flags]\n\nCommands:\n", group)
	width := 0
	for _, c := range verbs {
		width = max(width, len(c.Path+" "+c.Args))
	}
	for _, c := range verbs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, strings.TrimSpace(c.Path+" "+c.Args), c.Summary)
	}
	fmt.Fprintf(w, "\nRun `gatehouse %s COMMAND --help` for a command's flags.\n", group)
}

// globalFlags are the setting flags named in every command's help, because
// they say which installation an admin command works on; the other settings
// matter to serve and are documented once, by `gatehouse help settings`.
var globalFlags = []string{"config", "database", "v"}

// commandHelp prints the synopsis, the command's own flags and then the
// few global ones. fs is the command's flag set (nil: no flags).
func commandHelp(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s.\n", synopsis(c), upperFirst(c.Summary))
	if c.Long != "" {
		fmt.Fprintln(w)
		for _, line := range wrap(c.Long, 78) {
			fmt.Fprintln(w, line)
		}
	}
	if fs == nil {
		return
	}
	var own, global []*flag.Flag
	// Commands with the settings registered (all but bench and the
	// informational ones) have the -v flag that FlagSet adds with them.
	hasSettings := fs.Lookup("v") != nil && fs.Lookup("addr") != nil
	fs.VisitAll(func(f *flag.Flag) {
		switch {
		case hasSettings && contains(globalFlags, f.Name):
			global = append(global, f)
		case hasSettings && config.IsSettingFlag(f.Name):
		default:
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, f := range own {
			printFlag(w, f)
		}
	}
	if len(global) > 0 {
		fmt.Fprint(w, "\nGlobal flags:\n")
		for _, f := range global {
			printFlag(w, f)
		}
	}
	if hasSettings {
		fmt.Fprint(w, "\nEvery setting is also a flag here (--addr, --log-level, …): see `gatehouse help settings`.\n")
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// metavar names the value of a flag in help ("--owner EMAIL"); other flags
// are named after their last word.
var metavar = map[string]string{
	"config": "FILE", "database": "PATH|URL", "master-key-file": "FILE", "tls-cert": "FILE", "tls-key": "FILE",
	"addr": "HOST:PORT", "debug-addr": "HOST:PORT", "metrics-addr": "HOST:PORT", "issuer": "URL",
	"json": "FILE", "binary": "FILE", "target": "URL", "concurrency": "N", "workloads": "LIST",
	"redirect-uri": "URI", "grant-type": "TYPE", "scope": "SCOPE", "allow-cidr": "CIDR", "owner": "EMAIL",
	"client": "CLIENT_ID", "expires-in": "DURATION", "access-ttl": "DURATION", "refresh-ttl": "DURATION",
	"duration": "DURATION", "warmup": "DURATION", "resource-server": "API",
	"rate-limit-redis-failure": "open|closed",
}

func valueName(flagName string) string {
	if v, ok := metavar[flagName]; ok {
		return v
	}
	if strings.HasPrefix(flagName, "rate-limit-") {
		return "RATE"
	}
	parts := strings.Split(flagName, "-")
	return strings.ToUpper(parts[len(parts)-1])
}

// printFlag prints one flag as Go's flag package does, with two dashes, an
// upper-case value name (none for booleans) and no empty or zero default.
func printFlag(w io.Writer, f *flag.Flag) {
	value, usage := flag.UnquoteUsage(f)
	if value == "string" || value == "value" || value == "duration" || value == "int" {
		// No name in `backquotes`: name the value after the flag.
		value = valueName(f.Name)
	}
	dashes := "--"
	if len(f.Name) == 1 {
		dashes = "-"
	}
	head := "  " + dashes + f.Name
	if value != "" {
		head += " " + value
	}
	fmt.Fprintln(w, head)
	switch f.DefValue {
	case "", "false", "0", "0s":
	default:
		if !strings.Contains(usage, "(default") {
			usage += " (default " + f.DefValue + ")"
		}
	}
	for _, line := range wrap(usage, 72) {
		fmt.Fprintln(w, "      "+line)
	}
}

// wrap splits s into lines of at most width characters, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// settingsHelp prints every setting once: the text behind each command's
// pointer to `gatehouse help settings`.
func settingsHelp(w io.Writer) {
	fmt.Fprint(w, "Settings, in increasing precedence: built-in defaults, the YAML file (--config),\n"+
		"GATEHOUSE_* environment variables, flags. Every command accepts the flags.\n")
	for _, s := range config.Settings() {
		fmt.Fprintf(w, "\n%s\n", s.Key)
		where := []string{}
		if s.Flag != "" {
			fl := "--" + s.Flag
			if !s.Bool {
				fl += " " + valueName(s.Flag)
			}
			where = append(where, fl)
		}
		where = append(where, s.Env)
		if s.Default != "" {
			where = append(where, "default "+s.Default)
		}
		fmt.Fprintf(w, "      %s\n", strings.Join(where, ", "))
		for _, line := range wrap(s.Help, 72) {
			fmt.Fprintln(w, "      "+line)
		}
	}
}

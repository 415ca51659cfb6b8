package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden help files from the current output")

// TestHelpGolden keeps every command's --help (and the top-level, group and
// settings help) as reviewed text in testdata/*.golden: a change to a flag or
// a summary shows up in review as a diff of what users read. Regenerate with
// go test ./internal/cli -run TestHelpGolden -update.
func TestHelpGolden(t *testing.T) {
	cases := map[string][]string{
		"gatehouse": {"--help"},
		"settings":  {"help", "settings"},
		"migrate":   {"migrate", "--help"},
		"user":      {"user", "--help"},
		"client":    {"client", "--help"},
		"apikey":    {"apikey", "--help"},
	}
	for _, c := range commands() {
		cases[strings.ReplaceAll(c.Path, " ", "_")] = append(strings.Fields(c.Path), "--help")
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runIn(t, nil, args...)
			if code != 0 || errs != "" {
				t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("%v --help differs from %s (run with -update if intended):\n%s", args, golden, out)
			}
		})
	}
}

// TestCommandHelpShowsOwnFlagsOnly: a command's help starts with its
// synopsis, lists its own flags before the global ones, and leaves the
// server settings to `gatehouse help settings`; booleans take no value and
// empty defaults are not printed.
func TestCommandHelpShowsOwnFlagsOnly(t *testing.T) {
	_, out, _ := runIn(t, nil, "client", "show", "--help")
	if !strings.HasPrefix(out, "Usage:\n  gatehouse client show [flags] CLIENT_ID\n") {
		t.Errorf("no synopsis:\n%s", out)
	}
	for _, unwanted := range []string{"--argon2", "--shutdown-timeout", "(default )", "string"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("help contains %q:\n%s", unwanted, out)
		}
	}
	if !strings.Contains(out, "gatehouse help settings") {
		t.Errorf("help does not point to gatehouse help settings:\n%s", out)
	}
	_, out, _ = runIn(t, nil, "user", "create", "--help")
	if i, j := strings.Index(out, "--password-stdin"), strings.Index(out, "--database"); i < 0 || j < 0 || i > j {
		t.Errorf("own flags do not come first:\n%s", out)
	}
	if !strings.Contains(out, "  --admin\n") {
		t.Errorf("a boolean flag shows a value:\n%s", out)
	}
}

// TestCommandLineErrors: a command line that cannot be understood is one
// line on stderr, exit 2, nothing on stdout, with the suggestion that fixes
// it; help asked for goes to stdout with exit 0.
func TestCommandLineErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"client", "create", "--nme", "x"}, "gatehouse client create: unknown flag --nme; did you mean --name? (see gatehouse client create --help)"},
		{[]string{"user", "create", "--password", "hunter2"}, "pipe it in with --password-stdin"},
		{[]string{"client", "show"}, "gatehouse client show: missing client ID"},
		{[]string{"apikey", "revoke", "--client", "c"}, "gatehouse apikey revoke: missing key ID"},
		{[]string{"user", "disable"}, "gatehouse user disable: missing email"},
		{[]string{"user", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"clinet", "list"}, `gatehouse: unknown command "clinet"; did you mean client?`},
		{[]string{"migrate", "dwon"}, `gatehouse migrate: unknown command "dwon"`},
		{[]string{"migrate", "u"}, `did you mean up?`},
		{[]string{"frobnicate"}, `gatehouse: unknown command "frobnicate" (see gatehouse --help)`},
		{[]string{"client", "create", "--access-ttl", "5"}, `--access-ttl "5": want a duration`},
		{[]string{"client", "list", "--output", "yaml"}, `--output must be text or json`},
	}
	for _, c := range cases {
		code, out, errs := runIn(t, nil, c.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", c.args, code, out, errs, c.want)
		}
	}
}

func TestHelpVersionAndBareCommand(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		stdoutIs string // prefix of stdout
	}{
		{nil, exitUsage, "Gatehouse — "},
		{[]string{"--help"}, 0, "Gatehouse — "},
		{[]string{"help"}, 0, "Gatehouse — "},
		{[]string{"-h"}, 0, "Gatehouse — "},
		{[]string{"help", "client", "show"}, 0, "Usage:\n  gatehouse client show [flags] CLIENT_ID"},
		{[]string{"migrate"}, exitUsage, "Usage:\n  gatehouse migrate COMMAND"},
		{[]string{"--version"}, 0, "gatehouse " + Version},
		{[]string{"version"}, 0, "gatehouse " + Version},
		{[]string{"help", "settings"}, 0, "Settings, in increasing precedence"},
	}
	for _, c := range cases {
		code, out, errs := runIn(t, nil, c.args...)
		if code != c.code || !strings.HasPrefix(out, c.stdoutIs) || errs != "" {
			t.Errorf("%v: exit %d, stdout %.60q, stderr %q; want exit %d and stdout %q…", c.args, code, out, errs, c.code, c.stdoutIs)
		}
	}
	_, out, _ := runIn(t, nil, "migrate")
	if !strings.Contains(out, "migrate up") || !strings.Contains(out, "migrate status") {
		t.Errorf("gatehouse migrate does not list its verbs:\n%s", out)
	}
}

// TestVerboseNamesTheDatabase: -v says which database and key file a
// command used.
func TestVerboseNamesTheDatabase(t *testing.T) {
	db := newDB(t)
	code, _, errs := runCLI(t, db, "", "user", "list", "-v")
	if code != 0 || !strings.Contains(errs, "database "+db+", master key GATEHOUSE_MASTER_KEY") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestUnknownEnvironmentVariableWarned: a misspelt GATEHOUSE_* variable is
// named on stderr with the setting it probably meant; the command still runs.
func TestUnknownEnvironmentVariableWarned(t *testing.T) {
	db := newDB(t)
	var out, errb strings.Builder
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			return map[string]string{"GATEHOUSE_DATABASE": db, "GATEHOUSE_MASTER_KEY": testKey}[k]
		},
		Environ: func() []string { return []string{"GATEHOUSE_DATABASE=" + db, "GATEHOUSE_LOG_LEVLE=error"} },
	}
	code := Main(t.Context(), []string{"user", "list"}, env)
	if code != 0 || !strings.Contains(errb.String(), "GATEHOUSE_LOG_LEVLE: no such setting (did you mean GATEHOUSE_LOG_LEVEL?)") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the command line with only the given GATEHOUSE_* variables (no
// master key in the environment, so a key file would be generated), from
// the point of view of a process whose database setting is db.
func runIn(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Environ: func() []string { return nil },
		Getenv:  func(k string) string { return vars[k] },
	}
	code := Main(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestAdminCommandsNeverCreateADatabase: every command but serve and
// migrate up refuses a SQLite database that does not exist, naming the path
// it tried, and leaves nothing behind: no database, no key file, no
// directory.
func TestAdminCommandsNeverCreateADatabase(t *testing.T) {
	for _, args := range [][]string{
		{"user", "list"},
		{"user", "disable", "ada@example.com"},
		{"client", "list"},
		{"client", "show", "some-id"},
		{"apikey", "list", "--client", "some-id"},
		{"migrate", "status"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "sub", "gatehouse.db")
			code, out, errs := runIn(t, map[string]string{"GATEHOUSE_DATABASE": db}, args...)
			if code == 0 || !strings.Contains(errs, "no database at "+db) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want a refusal naming %s", code, out, errs, db)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Fatalf("left behind %v", names)
			}
		})
	}
	t.Run("relative path is named absolute", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		code, _, errs := runIn(t, nil, "user", "list")
		want := filepath.Join(dir, "gatehouse.db")
		if code == 0 || !strings.Contains(errs, "no database at "+want) {
			t.Fatalf("exit %d, stderr %q; want it to name %s", code, errs, want)
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Fatalf("left behind %v", names)
		}
	})
}

// TestDatabaseDirectoryRefused: --database naming a directory is refused by
// every command, serve and migrate up included, before a key file is written
// into the directory's parent.
func TestDatabaseDirectoryRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate", "up"}, {"serve", "--addr", "127.0.0.1:0"}, {"user", "list"}} {
		code, _, errs := runIn(t, map[string]string{"GATEHOUSE_DATABASE": dir, "GATEHOUSE_METRICS_ADDR": "off"}, args...)
		if code == 0 || !strings.Contains(errs, "is a directory") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if names := dirEntries(t, parent); len(names) != 1 || names[0] != "data" {
		t.Fatalf("parent holds %v, want only data/", names)
	}
}

// TestMigrateUpCreatesTheDatabase: the other side of the rule — migrate up
// creates the database, its directory and key, and admin commands then work.
func TestMigrateUpCreatesTheDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "new", "gatehouse.db")
	vars := map[string]string{"GATEHOUSE_DATABASE": db, "GATEHOUSE_LOG_LEVEL": "error"}
	if code, _, errs := runIn(t, vars, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s", code, errs)
	}
	for _, f := range []string{db, filepath.Join(filepath.Dir(db), "gatehouse.key")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := runIn(t, vars, "user", "list"); code != 0 {
		t.Fatalf("user list: %d %s", code, errs)
	}
	// The key file gone: refused, and no new key generated beside the
	// database.
	key := filepath.Join(filepath.Dir(db), "gatehouse.key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runIn(t, vars, "user", "list"); code == 0 || !strings.Contains(errs, "no master key at "+key) {
		t.Fatalf("user list without its key: %d %s", code, errs)
	}
	if _, err := os.Stat(key); err == nil {
		t.Fatal("a new key file was generated")
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// testKey is the master key runCLI gives every command (base64).
var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))

func runCLI(t *testing.T, db, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	key := testKey
	env := &Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Environ: func() []string { return nil },
		Getenv: func(k string) string {
			switch k {
			case "GATEHOUSE_MASTER_KEY":
				return key
			case "GATEHOUSE_DATABASE":
				return db
			case "GATEHOUSE_LOG_LEVEL":
				return "error"
			}
			return ""
		},
	}
	code := Main(context.Background(), args, env)
	return code, out.String(), errb.String()
}

// newDB creates a migrated SQLite database for admin commands, which never
// create one themselves.
func newDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "g.db")
	if code, _, errs := runCLI(t, db, "", "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s", code, errs)
	}
	return db
}

func TestUserCommands(t *testing.T) {
	db := newDB(t)

	code, out, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "Admin@Example.com", "--name", "Ada", "--admin", "--password-stdin", "--output", "json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	var u userJSON
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Email != "admin@example.com" || !u.Admin || u.Name != "Ada" || u.ID == "" {
		t.Fatalf("create output %q: %v", out, err)
	}
	if code, _, errs := runCLI(t, db, "another good passphrase\n", "user", "create", "--email", "admin@example.com", "--password-stdin"); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("duplicate: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, db, "password1\n", "user", "create", "--email", "b@example.com", "--password-stdin"); code == 0 || !strings.Contains(errs, "too common") {
		t.Fatalf("weak password: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, db, "", "user", "create", "--email", "b@example.com"); code == 0 || !strings.Contains(errs, "--password-stdin") {
		t.Fatalf("no --password-stdin: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, db, "a fine passphrase here\r\n", "user", "create", "--email", "b@example.com", "--password-stdin"); code != 0 || !strings.Contains(out, "created user b@example.com") {
		t.Fatalf("text create: %d %s", code, out)
	}

	code, out, _ = runCLI(t, db, "", "user", "list", "--output", "json")
	var list []userJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("list: %d %s", code, out)
	}
	code, out, _ = runCLI(t, db, "", "user", "list")
	if code != 0 || !strings.Contains(out, "EMAIL") || !strings.Contains(out, "b@example.com") {
		t.Fatalf("list text: %s", out)
	}

	if code, out, errs := runCLI(t, db, "", "user", "disable", "B@example.com"); code != 0 || !strings.Contains(out, "disabled b@example.com") {
		t.Fatalf("disable: %d %s %s", code, out, errs)
	}
	_, out, _ = runCLI(t, db, "", "user", "list", "--output", "json")
	json.Unmarshal([]byte(out), &list)
	for _, u := range list {
		if u.Email == "b@example.com" && !u.Disabled {
			t.Fatal("not disabled")
		}
	}
	if code, _, errs := runCLI(t, db, "", "user", "disable", "nobody@example.com"); code == 0 || !strings.Contains(errs, "no user") {
		t.Fatalf("disable unknown: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, db, "", "user", "enable", "b@example.com"); code != 0 {
		t.Fatal("enable failed")
	}
}

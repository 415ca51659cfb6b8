package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// runCLIWithKey is runCLI with the master key given (base64).
func runCLIWithKey(t *testing.T, db, key string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
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
	return code, errb.String()
}

// TestWrongMasterKeyRefused: the first command on a database records the
// master key's check value; a command (and so serve, which opens the same
// way) with another key is refused with a message saying so, on both
// backends.
func TestWrongMasterKeyRefused(t *testing.T) {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "g.db")}
	if base := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); base != "" {
		dsn, drop, err := postgres.NewSchema(t.Context(), base, "clikey")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		dbs["postgres"] = dsn
	} else {
		pgtest.ReportSkipped(t)
	}
	right := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	wrong := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32))
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			if code, errs := runCLIWithKey(t, db, right, "migrate", "up"); code != 0 {
				t.Fatalf("migrate up: %d %s", code, errs)
			}
			if code, errs := runCLIWithKey(t, db, right, "user", "list"); code != 0 {
				t.Fatalf("user list with the right key: %d %s", code, errs)
			}
			for _, args := range [][]string{{"user", "list"}, {"migrate", "up"}, {"client", "list"}} {
				code, errs := runCLIWithKey(t, db, wrong, args...)
				if code == 0 || !strings.Contains(errs, "the master key does not match the one this database was created with") {
					t.Fatalf("%v with another key: %d %q", args, code, errs)
				}
			}
			if code, errs := runCLIWithKey(t, db, right, "user", "list"); code != 0 {
				t.Fatalf("the right key after refusals: %d %s", code, errs)
			}
		})
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// TestLogsNeverCarryCredentials: DELETE /v0/me/tokens/<token> puts a secret
// in the URL path. Whether the request fails or succeeds, the process logger
// (built here exactly as `serve` builds it) must not write the secret, and no
// metric label may carry it.
func TestLogsNeverCarryCredentials(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	vars := map[string]string{
		"GATEHOUSE_DATABASE":          filepath.Join(t.TempDir(), "gatehouse.db"),
		"GATEHOUSE_LOG_LEVEL":         "debug",
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_TIME":       "1",
	}
	env := &Env{Stdout: io.Discard, Stderr: &logs, Getenv: func(k string) string { return vars[k] }}
	cfg, err := config.Load(nil, env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AccessLog {
		t.Fatal("the access log is off by default; this test needs it on")
	}
	a, err := app.Open(ctx, cfg, env.Logger(cfg), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler("test"))
	defer srv.Close()

	const password = "correct horse battery staple 42"
	ada, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "ada@example.com", Name: "Ada", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "bob@example.com", Name: "Bob", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	adaPAT, err := a.PATs.Create(ctx, pat.CreateRequest{UserID: ada.ID, Description: "script"})
	if err != nil {
		t.Fatal(err)
	}
	bobPAT, err := a.PATs.Create(ctx, pat.CreateRequest{UserID: bob.ID, Description: "script"})
	if err != nil {
		t.Fatal(err)
	}

	send := func(method, path string, header ...string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	basic := func(email, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+pw))
	}
	path := "/v0/me/tokens/" + adaPAT.Token
	steps := []struct {
		name   string
		status int
		got    int
	}{
		{"no credentials", 401, send("DELETE", path)},
		{"wrong password", 401, send("DELETE", path, "Authorization", basic("ada@example.com", "wrong password!"))},
		{"another user's token", 404, send("DELETE", path, "Authorization", "Bearer "+bobPAT.Token)},
		{"the token as a bearer too", 401, send("DELETE", path, "Authorization", "Bearer "+adaPAT.Token)},
		{"the token as the method", 405, send(adaPAT.Token, "/v0/me")},
		{"the owner (already revoked as leaked)", 204, send("DELETE", path, "Authorization", basic("ada@example.com", password))},
	}
	for _, s := range steps {
		if s.got != s.status {
			t.Errorf("%s: status %d, want %d", s.name, s.got, s.status)
		}
	}

	// Metrics as the separate metrics listener serves them.
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := rec.Body.Bytes()

	out := logs.String()
	for _, secret := range []string{adaPAT.Token, bobPAT.Token} {
		random := secret[len("gthp_"):]
		if strings.Contains(out, random[:16]) {
			t.Errorf("a secret reached the log:\n%s", out)
		}
		if strings.Contains(string(metrics), random[:16]) {
			t.Errorf("a secret reached /metrics")
		}
	}
	// The access log still shows which kind of credential was in the path.
	if n := strings.Count(out, `"path":"/v0/me/tokens/gthp_…[redacted]"`); n != 5 {
		t.Errorf("%d access-log lines with the redacted path, want 5:\n%s", n, out)
	}
	if !strings.Contains(string(metrics), `route="DELETE /v0/me/tokens/{token}"`) || !strings.Contains(string(metrics), `method="OTHER"`) {
		t.Errorf("metrics lack the route pattern or the OTHER method label")
	}
}

// TestCLIRefusesInvalidText: the command line is an edge too. Ids and emails
// that are not text are refused with a message, on both backends, and never
// stored (strings.ToLower used to turn "b\xff@…" into a valid-looking
// address).
func TestCLIRefusesInvalidText(t *testing.T) {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "g.db")}
	if base := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); base != "" {
		dsn, drop, err := postgres.NewSchema(context.Background(), base, "clitest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		dbs["postgres"] = dsn
	} else {
		pgtest.ReportSkipped(t)
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			if code, _, errs := runCLI(t, db, "", "migrate", "up"); code != 0 {
				t.Fatalf("migrate: %s", errs)
			}
			if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "ada@example.com", "--admin", "--password-stdin"); code != 0 {
				t.Fatalf("user create: %s", errs)
			}
			cases := []struct {
				args []string
				want string
			}{
				{[]string{"user", "create", "--email", "b\xff@example.com", "--password-stdin"}, "is not an email address"},
				{[]string{"user", "disable", "ada\x01@example.com"}, "no user"},
				{[]string{"client", "show", "\xff"}, `no client "\xff"`},
				{[]string{"client", "disable", "a\x00b"}, `no client "a\x00b"`},
				{[]string{"apikey", "list", "--client", "\xff"}, `no client "\xff"`},
				{[]string{"apikey", "create", "--client", "\xff", "--name", "k", "--scope", "profile:read"}, `no client "\xff"`},
				{[]string{"client", "create", "--name", "X", "--owner", "ada@example.com", "--redirect-uri", "https://app.example/\xff", "--grant-type", "authorization_code", "--scope", "profile:read"}, "non-ASCII"},
				{[]string{"client", "create", "--name", "X\xff", "--owner", "ada@example.com", "--redirect-uri", "https://app.example/cb", "--grant-type", "authorization_code", "--scope", "profile:read"}, "valid UTF-8"},
			}
			for _, c := range cases {
				code, _, errs := runCLI(t, db, "another vivid otter lamp\n", c.args...)
				if code == 0 || !strings.Contains(errs, c.want) || strings.Contains(errs, "SQLSTATE") {
					t.Errorf("%q: exit %d, stderr %q; want failure mentioning %q", c.args, code, errs, c.want)
				}
			}
			_, out, _ := runCLI(t, db, "", "user", "list")
			if strings.Contains(out, "\uFFFD") || strings.Count(out, "@example.com") != 1 {
				t.Errorf("user list after refusals:\n%s", out)
			}
		})
	}
}

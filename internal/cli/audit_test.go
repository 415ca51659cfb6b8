package cli

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditCommands: app changes made at the command line land in the
// audit log as the system actor; verify passes, then names the entry a raw
// UPDATE altered and exits 1.
func TestAuditCommands(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "", "audit", "verify"); code != 0 {
		t.Fatalf("verify on an empty log: %s", errs)
	}
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	code, out, errs := runCLI(t, db, "", "client", "create", "--name", "Backend", "--owner", "dev@example.com",
		"--grant-type", "client_credentials", "--scope", "profile:read", "--output", "json")
	var c clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, db, "", "client", "disable", c.ClientID); code != 0 {
		t.Fatalf("disable: %s", errs)
	}
	if code, _, errs := runCLI(t, db, "", "client", "enable", c.ClientID); code != 0 {
		t.Fatalf("enable: %s", errs)
	}
	code, out, errs = runCLI(t, db, "", "audit", "list", "--app", c.ClientID, "--output", "json")
	if code != 0 {
		t.Fatalf("list: %s", errs)
	}
	var list []struct {
		Seq       int64  `json:"seq"`
		Type      string `json:"type"`
		ActorKind string `json:"actor_kind"`
		Subject   string `json:"subject"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(list) < 2 || list[0].Type != "app.enabled" || list[0].ActorKind != "system" || list[0].Subject != c.ClientID {
		t.Fatalf("list = %+v", list)
	}
	code, out, _ = runCLI(t, db, "", "audit", "list", "--type", "app.disabled")
	if code != 0 || !strings.Contains(out, "app.disabled") || strings.Contains(out, "app.enabled") {
		t.Fatalf("list --type: %s", out)
	}
	code, out, errs = runCLI(t, db, "", "audit", "verify")
	if code != 0 || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_log SET actor_kind = 'admin' WHERE seq = ?`, list[0].Seq); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, db, "", "audit", "verify")
	if code != exitFailure || !strings.Contains(errs, "broken at entry") || !strings.Contains(errs, "altered") {
		t.Fatalf("verify after tampering: %d %s", code, errs)
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppCommands drives the review and secret verbs, which go through the
// app service as the System actor.
func TestAppCommands(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	code, out, errs := runCLI(t, db, "", "client", "create", "--name", "Backend", "--owner", "dev@example.com",
		"--grant-type", "client_credentials", "--scope", "profile:read", "--output", "json")
	var c clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	run := func(args ...string) map[string]any {
		t.Helper()
		code, out, errs := runCLI(t, db, "", append(args, "--output", "json")...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %q", args, out)
		}
		return m
	}
	if m := run("client", "disable", c.ClientID); m["status"] != "disabled" {
		t.Fatalf("disable: %v", m)
	}
	if m := run("client", "enable", c.ClientID); m["status"] != "active" {
		t.Fatalf("enable: %v", m)
	}
	rot := run("app", "rotate-secret", c.ClientID)
	if s, _ := rot["client_secret"].(string); !strings.HasPrefix(s, "gths_") {
		t.Fatalf("rotate: %v", rot)
	}
	if code, _, _ := runCLI(t, db, "", "app", "rotate-secret", c.ClientID); code == 0 {
		t.Fatal("a third live secret was minted")
	}
	if m := run("app", "retire-secret", c.ClientID, rot["secret_id"].(string)); m["retired"] != true {
		t.Fatalf("retire: %v", m)
	}
	if code, _, errs := runCLI(t, db, "", "app", "reject", c.ClientID, "--reason", "x"); code == 0 || errs == "" {
		t.Fatal("rejecting an active app with nothing pending succeeded")
	}
	if m := run("app", "approve", c.ClientID); m["status"] != "active" {
		t.Fatalf("approve: %v", m)
	}
	if m := run("client", "delete", c.ClientID); m["deleted"] != true {
		t.Fatalf("delete: %v", m)
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClientCommands(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}

	code, out, errs := runCLI(t, db, "", "client", "create", "--name", "Budget Buddy", "--owner", "Dev@Example.com",
		"--redirect-uri", "https://budget.example/cb", "--redirect-uri", "http://127.0.0.1/native",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--scope", "profile:read tokens:read", "--output", "json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	var c clientJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientID == "" || !strings.HasPrefix(c.ClientSecret, "gths_") ||
		c.Owner != "dev@example.com" || c.Type != "confidential" || c.Status != "active" || len(c.Scopes) != 2 || len(c.RedirectURIs) != 2 {
		t.Fatalf("create output %q: %v", out, err)
	}

	// Text output shows the secret once, with a warning.
	code, out, _ = runCLI(t, db, "", "client", "create", "--name", "CLI tool", "--owner", "dev@example.com", "--public",
		"--redirect-uri", "http://127.0.0.1/cb", "--scope", "profile:read")
	if code != 0 || !strings.Contains(out, "client_id:") || strings.Contains(out, "client_secret:") || !strings.Contains(out, "PKCE") {
		t.Fatalf("public create: %d %s", code, out)
	}
	code, out, _ = runCLI(t, db, "", "client", "create", "--name", "Backend", "--owner", "dev@example.com",
		"--grant-type", "client_credentials", "--scope", "profile:read")
	if code != 0 || !strings.Contains(out, "client_secret: gths_") || !strings.Contains(out, "shown only now") {
		t.Fatalf("cc create: %d %s", code, out)
	}

	for _, bad := range [][]string{
		{"--name", "X", "--owner", "dev@example.com", "--redirect-uri", "http://localhost/cb", "--scope", "profile:read"},
		{"--name", "X", "--owner", "dev@example.com", "--redirect-uri", "https://a.example/*", "--scope", "profile:read"},
		{"--name", "X", "--owner", "dev@example.com", "--redirect-uri", "https://a.example/cb", "--scope", "admin"},
		{"--name", "X", "--owner", "dev@example.com", "--public", "--grant-type", "client_credentials", "--scope", "profile:read"},
		{"--name", "X", "--owner", "dev@example.com", "--grant-type", "password", "--scope", "profile:read"},
		{"--name", "X", "--owner", "nobody@example.com", "--redirect-uri", "https://a.example/cb", "--scope", "profile:read"},
		{"--owner", "dev@example.com", "--redirect-uri", "https://a.example/cb", "--scope", "profile:read"},
		{"--name", "No admin yet", "--redirect-uri", "https://a.example/cb", "--scope", "profile:read"},
	} {
		if code, _, errs := runCLI(t, db, "", append([]string{"client", "create"}, bad...)...); code == 0 || errs == "" {
			t.Errorf("create %v succeeded", bad)
		}
	}

	// Without --owner: the only administrator.
	if code, _, errs := runCLI(t, db, "another vivid otter lamp\n", "user", "create", "--email", "root@example.com", "--admin", "--password-stdin"); code != 0 {
		t.Fatalf("admin create: %s", errs)
	}
	code, out, errs = runCLI(t, db, "", "client", "create", "--name", "Admin tool", "--grant-type", "client_credentials", "--scope", "profile:read", "--output", "json")
	var adm clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil || adm.Owner != "root@example.com" {
		t.Fatalf("create without --owner: %d %s %s", code, out, errs)
	}

	code, out, _ = runCLI(t, db, "", "client", "list", "--output", "json", "--owner", "dev@example.com")
	var list []clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 {
		t.Fatalf("list: %d %s", code, out)
	}
	for _, l := range list {
		if l.ClientSecret != "" {
			t.Fatal("list shows a secret")
		}
	}
	if code, out, _ := runCLI(t, db, "", "client", "list"); code != 0 || !strings.Contains(out, "Budget Buddy") || strings.Contains(out, "gths_") {
		t.Fatalf("list text: %s", out)
	}

	if code, out, errs := runCLI(t, db, "", "client", "disable", c.ClientID); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %d %s %s", code, out, errs)
	}
	_, out, _ = runCLI(t, db, "", "client", "show", "--output", "json", c.ClientID)
	var shown clientJSON
	if json.Unmarshal([]byte(out), &shown) != nil || shown.Status != "disabled" || shown.ClientSecret != "" {
		t.Fatalf("show: %s", out)
	}
	if code, _, _ := runCLI(t, db, "", "client", "enable", c.ClientID); code != 0 {
		t.Fatal("enable")
	}
	if code, _, errs := runCLI(t, db, "", "client", "disable", "no-such-client"); code == 0 || !strings.Contains(errs, "no client") {
		t.Fatalf("disable unknown: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, db, "", "client", "delete", c.ClientID); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %s", out)
	}
	if code, _, _ := runCLI(t, db, "", "client", "show", c.ClientID); code == 0 {
		t.Fatal("deleted client still shown")
	}
}

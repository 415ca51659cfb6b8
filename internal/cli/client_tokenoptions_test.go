package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClientCreateTokenOptions: client create takes the access token format
// and subject type, shows them, and refuses pairwise on two hosts.
func TestClientCreateTokenOptions(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	code, out, errs := runCLI(t, db, "", "client", "create", "--name", "Pairwise", "--owner", "dev@example.com",
		"--redirect-uri", "https://rp.example/cb", "--scope", "openid", "--subject-type", "pairwise", "--token-format", "opaque", "--output", "json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	var c clientJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.SubjectType != "pairwise" || c.AccessTokenFormat != "opaque" {
		t.Fatalf("create output %q: %v", out, err)
	}
	// app show says so too.
	code, out, errs = runCLI(t, db, "", "app", "show", c.ClientID)
	if code != 0 || !strings.Contains(out, "access tokens:    opaque") || !strings.Contains(out, "subject type:     pairwise") {
		t.Fatalf("app show: %d %s %s", code, out, errs)
	}
	code, _, errs = runCLI(t, db, "", "client", "create", "--name", "Two hosts", "--owner", "dev@example.com",
		"--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb", "--scope", "openid", "--subject-type", "pairwise")
	if code == 0 || !strings.Contains(errs, "one host") {
		t.Fatalf("pairwise on two hosts: %d %s", code, errs)
	}
}

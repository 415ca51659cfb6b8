package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppListShowDisableEnableDelete drives the console's app verbs at the
// shell, through the app service.
func TestAppListShowDisableEnableDelete(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	var ids []string
	for _, name := range []string{"Backend", "Reporting"} {
		code, out, errs := runCLI(t, db, "", "client", "create", "--name", name, "--owner", "dev@example.com",
			"--grant-type", "client_credentials", "--scope", "profile:read", "--output", "json")
		var c clientJSON
		if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
			t.Fatalf("create: %d %s %s", code, out, errs)
		}
		ids = append(ids, c.ClientID)
	}
	list := func(args ...string) []appViewJSON {
		t.Helper()
		code, out, errs := runCLI(t, db, "", append([]string{"app", "list", "--output", "json"}, args...)...)
		var l []appViewJSON
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("app list %v: %d %s %s", args, code, out, errs)
		}
		return l
	}
	if l := list(); len(l) != 2 || l[0].Owner != "dev@example.com" {
		t.Fatalf("list: %+v", l)
	}
	if l := list("--q", "REPORT"); len(l) != 1 || l[0].ClientID != ids[1] {
		t.Fatalf("search: %+v", l)
	}
	if code, _, errs := runCLI(t, db, "", "app", "disable", ids[0], "--reason", "leaked secret"); code != 0 {
		t.Fatalf("disable: %s", errs)
	}
	if l := list("--status", "disabled"); len(l) != 1 || l[0].ClientID != ids[0] || l[0].ReviewReason != "leaked secret" {
		t.Fatalf("disabled filter: %+v", l)
	}
	if code, _, _ := runCLI(t, db, "", "app", "list", "--status", "bogus"); code == 0 {
		t.Fatal("an unknown status was accepted")
	}
	code, out, errs := runCLI(t, db, "", "app", "show", ids[0], "--output", "json")
	var shown appViewJSON
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Status != "disabled" || len(shown.Secrets) != 1 {
		t.Fatalf("show: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, db, "", "app", "show", ids[0]); code != 0 || !strings.Contains(out, "leaked secret") || !strings.Contains(out, shown.Secrets[0].ID) {
		t.Fatalf("show (text): %s", out)
	}
	if code, _, errs := runCLI(t, db, "", "app", "enable", ids[0]); code != 0 {
		t.Fatalf("enable: %s", errs)
	}
	if l := list("--status", "active"); len(l) != 2 {
		t.Fatalf("after enable: %+v", l)
	}
	if code, _, errs := runCLI(t, db, "", "app", "delete", ids[1]); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	if code, _, _ := runCLI(t, db, "", "app", "show", ids[1]); code == 0 {
		t.Fatal("a deleted app is still shown")
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestUserAdminCommands(t *testing.T) {
	db := newDB(t)
	code, out, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "bob@example.com", "--password-stdin", "--output", "json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	var created userJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	show := func(ref string) userDetailJSON {
		t.Helper()
		code, out, errs := runCLI(t, db, "", "user", "show", ref, "--output", "json")
		if code != 0 {
			t.Fatalf("show %s: %d %s", ref, code, errs)
		}
		var d userDetailJSON
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("show output %q: %v", out, err)
		}
		return d
	}
	if d := show(created.ID); d.Email != "bob@example.com" || d.MustChangePassword || d.Sessions == nil || d.PATs == nil || d.AuthorizedApps == nil {
		t.Fatalf("show by id: %+v", d)
	}

	for _, verb := range []string{"end-sessions", "reset-2fa", "force-password-change"} {
		code, out, errs := runCLI(t, db, "", "user", verb, "Bob@Example.com")
		if code != 0 || !strings.Contains(out, "bob@example.com") {
			t.Fatalf("%s: %d %q %s", verb, code, out, errs)
		}
		code, _, errs = runCLI(t, db, "", "user", verb, "nobody@example.com")
		if code != 1 || !strings.Contains(errs, "no user nobody@example.com") {
			t.Fatalf("%s unknown user: %d %s", verb, code, errs)
		}
	}
	if d := show("bob@example.com"); !d.MustChangePassword {
		t.Fatal("force-password-change did not set must_change_password")
	}
	code, out, _ = runCLI(t, db, "", "user", "show", "bob@example.com")
	if code != 0 || !strings.Contains(out, "must change password  yes") {
		t.Fatalf("show text: %d %q", code, out)
	}
}

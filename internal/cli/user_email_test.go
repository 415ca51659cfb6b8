package cli

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/email/emailtest"
)

// TestUserSendReset: the operator's reset link lands (as an .eml file in
// the development default, email_dir beside the database) and points at
// /reset-password with a token.
func TestUserSendReset(t *testing.T) {
	db := newDB(t)
	if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	code, out, errs := runCLI(t, db, "", "user", "send-reset", "Dev@Example.com")
	if code != 0 || !strings.Contains(out, "reset link for dev@example.com") {
		t.Fatalf("send-reset: %d %q %q", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(db), "mail", "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d .eml files, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := emailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("links %v", links)
	}
	u, err := url.Parse(links[0])
	if err != nil || u.Path != "/reset-password" || u.Query().Get("token") == "" {
		t.Fatalf("link %q", links[0])
	}
	if code, _, _ := runCLI(t, db, "", "user", "send-reset", "nobody@example.com"); code == 0 {
		t.Fatal("send-reset for an unknown user succeeded")
	}
}

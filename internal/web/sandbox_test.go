package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/web"
)

// A sandbox deployment says so on every page; production pages do not.
func TestSandboxBanner(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		s := newTestServer(t, web.Config{Sandbox: sandbox})
		b := s.browser(t)
		for _, path := range []string{"/login", "/signup"} {
			p := b.get(path)
			if got := strings.Contains(p.body, `id="sandbox-banner"`); got != sandbox {
				t.Errorf("sandbox=%v: %s has banner=%v", sandbox, path, got)
			}
		}
	}
}

// "Not you?" on the consent page signs out and returns to the request it
// names — only ever a path on this server.
func TestSignOutReturnsTo(t *testing.T) {
	s := newTestServer(t, web.Config{})
	for i, c := range []struct{ returnTo, want string }{
		{"/oauth2/authorize?client_id=x&scope=profile%3Aread", "/oauth2/authorize?client_id=x&scope=profile%3Aread"},
		{"https://evil.example/", "/login?msg=signed_out"},
		{"//evil.example/", "/login?msg=signed_out"},
	} {
		b := s.browser(t)
		expect(t, b.signUp(fmt.Sprintf("carol%d@example.com", i), "correct horse battery staple 42", ""), http.StatusSeeOther, "")
		p := b.submit("/account", "/logout", url.Values{"return_to": {c.returnTo}})
		expect(t, p, http.StatusSeeOther, c.want)
		if p := b.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("still signed in after signing out (return_to %q)", c.returnTo)
		}
	}
}

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/web"
)

// namer names the app behind one return URL.
type namer struct{ returnTo, name string }

func (n namer) AppName(_ context.Context, returnTo string) string {
	if returnTo == n.returnTo {
		return n.name
	}
	return ""
}

// The sign-in and sign-up pages say which app sent the person, and keep
// saying it when the form comes back with an error.
func TestSignInAndSignUpNameTheApp(t *testing.T) {
	const authz = "/oauth2/authorize?client_id=app&state=s"
	s := newTestServer(t, web.Config{AppNames: namer{authz, "Photo <Printer>"}})
	b := s.browser(t)
	rt := "?return_to=" + url.QueryEscape(authz)
	contains(t, b.get("/login"+rt), "Sign in to continue to <strong>Photo &lt;Printer&gt;</strong>.")
	contains(t, b.get("/signup"+rt), "Create an account to continue to <strong>Photo &lt;Printer&gt;</strong>.")
	failed := b.submit("/login"+rt, "/login", url.Values{"email": {email}, "password": {"wrong"}, "return_to": {authz}})
	expect(t, failed, http.StatusUnauthorized, "")
	contains(t, failed, "continue to <strong>Photo &lt;Printer&gt;</strong>")
	if p := b.get("/login"); p.status != http.StatusOK || strings.Contains(p.body, "continue to") {
		t.Fatalf("sign-in without an app names one:\n%s", p.body)
	}
}

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/web"
)

// A user an administrator requires to change the password reaches only the
// change-password form until the password is changed.
func TestForcedPasswordChangeWeb(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	expect(t, b.signUp(email, password, ""), http.StatusSeeOther, "/account?msg=welcome")
	u, err := s.env.Service.Admin().Find(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Service.Admin().ForcePasswordChange(context.Background(), "test", u.ID); err != nil {
		t.Fatal(err)
	}
	// Forcing ended the session.
	expect(t, b.get("/account"), http.StatusSeeOther, "")
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")

	const forced = "/account?msg=password_change_required"
	expect(t, b.get("/account/2fa"), http.StatusSeeOther, forced)
	expect(t, b.submit("/account", "/account/2fa/start", nil), http.StatusSeeOther, forced)
	contains(t, b.get(forced), "An administrator requires you to choose a new password", `name="current_password"`)

	const next = "a brand new quiet harbour at dawn"
	expect(t, b.submit("/account", "/account/password", url.Values{
		"current_password": {password}, "new_password": {next}, "new_password_confirm": {next},
	}), http.StatusSeeOther, "/account?msg=password_changed")
	if p := b.get("/account/2fa"); p.location() == forced {
		t.Fatal("still redirected after the password was changed")
	}
}

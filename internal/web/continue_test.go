package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

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

// Sign-up signs the new account in and continues to return_to (or the
// account page); an email that already has an account gets no session and
// goes to sign-in with the email filled in.
func TestSignUpSignsIn(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	expect(t, b.signUp(email, password, ""), http.StatusSeeOther, "/account?msg=welcome")
	contains(t, b.get("/account?msg=welcome"), "you are signed in", email)

	const authz = "/oauth2/authorize?client_id=app&state=s"
	b2 := s.browser(t)
	expect(t, b2.signUp("bob@example.com", password, authz), http.StatusSeeOther, authz)
	expect(t, b2.get("/account"), http.StatusOK, "")

	// The address is taken: no session, on to sign-in, email filled in.
	b3 := s.browser(t)
	taken := b3.signUp(email, "another long pass phrase", authz)
	want := "/login?" + url.Values{"email": {email}, "msg": {"account_exists"}, "return_to": {authz}}.Encode()
	expect(t, taken, http.StatusSeeOther, want)
	expect(t, b3.get("/account"), http.StatusSeeOther, "/login?return_to=%2Faccount")
	login := b3.get(want)
	contains(t, login, `value="alice@example.com"`, "already has an account", `name="return_to" value="/oauth2/authorize?client_id=app&amp;state=s"`)
	if _, err := s.env.Service.CheckPassword(context.Background(), email, "another long pass phrase", "192.0.2.1"); err == nil {
		t.Fatal("sign-up over an existing account changed its password")
	}
}

// The links between sign-in and sign-up carry return_to and the email typed
// (server side after a failed form; pages.js adds what is typed later), and
// either page fills the email in from ?email=.
func TestSignInSignUpLinksCarryEmail(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	const authz = "/oauth2/authorize?client_id=app"
	login := b.get("/login?email=carol%40example.com&return_to=" + url.QueryEscape(authz))
	contains(t, login, `id="email"`, `value="carol@example.com"`,
		`href="/signup?email=carol%40example.com&amp;return_to=%2Foauth2%2Fauthorize%3Fclient_id%3Dapp" data-carry-email="email"`)
	signup := b.get("/signup?email=carol%40example.com")
	contains(t, signup, `value="carol@example.com"`, `href="/login?email=carol%40example.com" data-carry-email="email"`)
	// A failed sign-up links to sign-in with what was typed.
	bad := b.submit("/signup", "/signup", url.Values{"email": {"dave@example.com"}, "password": {password}, "password_confirm": {"other"}})
	expect(t, bad, http.StatusBadRequest, "")
	contains(t, bad, `href="/login?email=dave%40example.com"`)
	// Text that could not be an email is not filled in.
	if p := b.get("/login?email=x%00y"); strings.Contains(p.body, `value="x`) {
		t.Fatalf("control character prefilled:\n%s", p.body)
	}
	js := b.get("/static/pages.js")
	contains(t, js, `a[data-carry-email]`, `searchParams.set("email"`)
}

// Times are <time datetime="RFC 3339"> elements whose text is UTC, named
// as such (right without JavaScript); pages.js rewrites them to local time.
func TestTimesCarryDatetimeAndUTC(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	expect(t, b.signUp(email, password, ""), http.StatusSeeOther, "/account?msg=welcome")
	acct := b.get("/account")
	now := s.env.Clock.Now().UTC()
	contains(t, acct,
		`<time datetime="`+now.Format(time.RFC3339)+`" data-local="datetime">`+now.Format("2 Jan 2006, 15:04")+` UTC</time>`,
		`<time datetime="`+now.Format(time.RFC3339)+`" data-local="date">`+now.Format("2 January 2006")+`</time>`)
	if strings.Contains(acct.body, "<time") && regexp.MustCompile(`<time datetime="[^"]*"( |>)[^d]`).MatchString(acct.body) {
		t.Fatalf("a <time> without data-local:\n%s", acct.body)
	}
	contains(t, b.get("/static/pages.js"), `time[data-local]`, `timeZoneName: "short"`)
}

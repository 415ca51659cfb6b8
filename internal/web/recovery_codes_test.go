package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web"
)

// New recovery codes come from a POST that redirects (303) to a GET page,
// so reloading never resubmits the form (which would make and void another
// set). The page, its download (a no-store text/plain attachment) and its
// copy button work for this session only, until "I have saved my codes",
// sign-out or identity.RecoveryCodesViewTTL.
func TestRecoveryCodesPostRedirectGet(t *testing.T) {
	s := newTestServer(t, web.Config{SiteName: "Example Corp"})
	u := s.env.CreateUser(t, email, password)
	secret, _ := s.env.EnableTOTP(t, u.ID)
	signedIn := func() *browser {
		b := s.browser(t)
		expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/login/2fa")
		s.env.Clock.Advance(30 * time.Second) // a fresh code each time
		expect(t, b.submit("/login/2fa", "/login/2fa", url.Values{"code": {s.env.Code(t, secret)}}), http.StatusSeeOther, "/account")
		return b
	}
	b := signedIn()
	made := b.submit("/account", "/account/recovery-codes", url.Values{"password": {password}})
	expect(t, made, http.StatusSeeOther, "/account/recovery-codes")
	if recoveryRe.MatchString(made.body) {
		t.Fatal("the POST answer shows the codes")
	}
	first := b.get("/account/recovery-codes")
	expect(t, first, http.StatusOK, "")
	codes := recoveryRe.FindAllStringSubmatch(first.body, -1)
	if len(codes) != 10 || first.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d codes, Cache-Control %q", len(codes), first.header.Get("Cache-Control"))
	}
	contains(t, first, `href="/account/recovery-codes/download" download`, `data-copy="recovery-codes"`, `id="recovery-codes-copied"`)
	// Reloading shows the same codes; nothing new is made.
	if again := b.get("/account/recovery-codes"); again.body != first.body {
		t.Fatal("reloading changed the page")
	}
	left, err := s.env.Service.RecoveryCodesLeft(t.Context(), u.ID)
	if err != nil || left != 10 {
		t.Fatalf("%d codes left, %v", left, err)
	}

	dl := b.get("/account/recovery-codes/download")
	expect(t, dl, http.StatusOK, "")
	for k, want := range map[string]string{
		"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store",
		"Content-Disposition": `attachment; filename="recovery-codes.txt"`,
	} {
		if got := dl.header.Get(k); got != want {
			t.Errorf("download %s = %q, want %q", k, got, want)
		}
	}
	for _, c := range codes {
		if !strings.Contains(dl.body, "\n"+c[1]+"\n") {
			t.Fatalf("download lacks %s:\n%s", c[1], dl.body)
		}
	}
	if !strings.HasPrefix(dl.body, "Example Corp recovery codes for "+email) {
		t.Errorf("download header line: %q", strings.SplitN(dl.body, "\n", 2)[0])
	}

	// The sealed cookie is bound to this session: another session of the
	// same user, given the cookie, sees nothing.
	var sealed *http.Cookie
	base, _ := url.Parse(s.URL)
	for _, c := range b.client.Jar.Cookies(base) {
		if c.Name == "gh_codes" {
			sealed = c
		}
	}
	if sealed == nil {
		t.Fatal("no gh_codes cookie")
	}
	other := signedIn()
	other.client.Jar.SetCookies(base, []*http.Cookie{{Name: "gh_codes", Value: sealed.Value}})
	expect(t, other.get("/account/recovery-codes"), http.StatusSeeOther, "/account")
	expect(t, other.get("/account/recovery-codes/download"), http.StatusSeeOther, "/account")

	// "I have saved my codes" drops them.
	expect(t, b.submit("/account/recovery-codes", "/account/recovery-codes/done", nil), http.StatusSeeOther, "/account")
	expect(t, b.get("/account/recovery-codes"), http.StatusSeeOther, "/account")
	// Replaying the dropped cookie does not help once the time is up.
	b.client.Jar.SetCookies(base, []*http.Cookie{{Name: "gh_codes", Value: sealed.Value}})
	expect(t, b.get("/account/recovery-codes"), http.StatusOK, "")
	s.env.Clock.Advance(identity.RecoveryCodesViewTTL)
	expect(t, b.get("/account/recovery-codes"), http.StatusSeeOther, "/account")

	// Signed out: sign-in first.
	anon := s.browser(t)
	expect(t, anon.get("/account/recovery-codes"), http.StatusSeeOther, "/login?return_to=%2Faccount%2Frecovery-codes")
}

// Turning two-factor on answers with the same redirect, and the page says
// two-factor is now on.
func TestEnrolmentShowsCodesAfterRedirect(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	expect(t, b.signUp(email, password, ""), http.StatusSeeOther, "/account?msg=welcome")
	expect(t, b.submit("/account", "/account/2fa/start", nil), http.StatusSeeOther, "/account/2fa")
	setup := b.get("/account/2fa")
	m := secretRe.FindStringSubmatch(setup.body)
	if m == nil {
		t.Fatalf("no key shown:\n%s", setup.body)
	}
	code, _ := identity.TOTPCode(strings.ReplaceAll(m[1], " ", ""), s.env.Clock.Now())
	expect(t, b.submit("/account/2fa", "/account/2fa", url.Values{"code": {code}}), http.StatusSeeOther, "/account/recovery-codes")
	p := b.get("/account/recovery-codes")
	contains(t, p, "Save your recovery codes", "Two-factor authentication is now on.")
	if n := len(recoveryRe.FindAllString(p.body, -1)); n != 10 {
		t.Fatalf("%d codes", n)
	}
	// Sign-out drops them too.
	b.signOut()
	for _, c := range b.client.Jar.Cookies(mustURL(t, s.URL)) {
		if c.Name == "gh_codes" {
			t.Fatal("gh_codes survives sign-out")
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

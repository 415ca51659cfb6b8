package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web"
)

const (
	email    = "alice@example.com"
	password = "vivid otter anchors the lamp"
)

var (
	secretRe   = regexp.MustCompile(`<code id="totp-secret" class="secret">([A-Z2-7 ]+)</code>`)
	recoveryRe = regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`)
)

func (b *browser) signUp(email, password, returnTo string) page {
	b.t.Helper()
	path := "/signup"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	form := url.Values{"email": {email}, "name": {"Alice"}, "password": {password}, "password_confirm": {password}}
	if returnTo != "" {
		form.Set("return_to", returnTo)
	}
	return b.submit(path, "/signup", form)
}

func (b *browser) signIn(email, password, returnTo string) page {
	b.t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if returnTo != "" {
		form.Set("return_to", returnTo)
	}
	return b.submit("/login", "/login", form)
}

func (b *browser) signOut() {
	b.t.Helper()
	expect(b.t, b.submit("/account", "/logout", nil), http.StatusSeeOther, "/login?msg=signed_out")
}

// TestAccountJourney: sign up → sign in → enable TOTP → sign out → sign in
// needs the code; a reused code is refused; a recovery code works once.
func TestAccountJourney(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	clock := s.env.Clock

	// Sign up (which signs in); sign out and in again.
	expect(t, b.signUp(email, password, ""), http.StatusSeeOther, "/account?msg=welcome")
	b.signOut()
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")
	acct := b.get("/account")
	expect(t, acct, http.StatusOK, "")
	contains(t, acct, `id="twofactor-status">Off<`, email)

	// Enable TOTP: start, scan (read the key shown), confirm with a code.
	expect(t, b.submit("/account", "/account/2fa/start", nil), http.StatusSeeOther, "/account/2fa")
	setup := b.get("/account/2fa")
	expect(t, setup, http.StatusOK, "")
	contains(t, setup, `<img class="qr" src="data:image/png;base64,`, `autocomplete="one-time-code"`)
	m := secretRe.FindStringSubmatch(setup.body)
	if m == nil {
		t.Fatalf("no key on the setup page:\n%s", setup.body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code := func() string {
		c, err := identity.TOTPCode(secret, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrong := b.submit("/account/2fa", "/account/2fa", url.Values{"code": {"000000"}})
	expect(t, wrong, http.StatusBadRequest, "")
	enrolCode := code()
	expect(t, b.submit("/account/2fa", "/account/2fa", url.Values{"code": {enrolCode}}), http.StatusSeeOther, "/account/recovery-codes")
	codesPage := b.get("/account/recovery-codes")
	expect(t, codesPage, http.StatusOK, "")
	if codesPage.header.Get("Cache-Control") != "no-store" {
		t.Error("recovery codes page is cacheable")
	}
	recovery := recoveryRe.FindAllStringSubmatch(codesPage.body, -1)
	if len(recovery) != 10 {
		t.Fatalf("%d recovery codes shown", len(recovery))
	}
	contains(t, b.get("/account"), `id="twofactor-status">On<`, `id="recovery-left">10<`)
	// The key is never shown again.
	expect(t, b.get("/account/2fa"), http.StatusSeeOther, "/account")

	// Sign out; signing in now needs the code.
	b.signOut()
	expect(t, b.get("/account"), http.StatusSeeOther, "/login?return_to=%2Faccount")
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/login/2fa")
	// Half signed-in: the account is still closed.
	expect(t, b.get("/account"), http.StatusSeeOther, "/login?return_to=%2Faccount")
	prompt := b.get("/login/2fa")
	contains(t, prompt, `autocomplete="one-time-code"`, `inputmode="numeric"`)
	// The code used at enrolment is refused (same time step).
	reused := b.submit("/login/2fa", "/login/2fa", url.Values{"code": {enrolCode}})
	expect(t, reused, http.StatusUnauthorized, "")
	clock.Advance(30 * time.Second)
	fresh := code()
	expect(t, b.submit("/login/2fa", "/login/2fa", url.Values{"code": {fresh}}), http.StatusSeeOther, "/account")
	expect(t, b.get("/account"), http.StatusOK, "")

	// Another browser replaying the code just used is refused.
	b2 := s.browser(t)
	expect(t, b2.signIn(email, password, ""), http.StatusSeeOther, "/login/2fa")
	expect(t, b2.submit("/login/2fa", "/login/2fa", url.Values{"code": {fresh}}), http.StatusUnauthorized, "")

	// A recovery code works once.
	rc := recovery[0][1]
	expect(t, b2.submit("/login/2fa", "/login/2fa", url.Values{"code": {strings.ToUpper(rc)}}), http.StatusSeeOther, "/account")
	contains(t, b2.get("/account"), `id="recovery-left">9<`)
	b3 := s.browser(t)
	expect(t, b3.signIn(email, password, ""), http.StatusSeeOther, "/login/2fa")
	expect(t, b3.submit("/login/2fa", "/login/2fa", url.Values{"code": {rc}}), http.StatusUnauthorized, "")
}

// TestIntentionSignupContinues: the authorize endpoint sends
// unauthenticated users with intention=signup to /signup?return_to=…; after
// signing up and in they land back on the authorization request.
func TestIntentionSignupContinues(t *testing.T) {
	s := newTestServer(t, web.Config{})
	b := s.browser(t)
	authz := "/oauth2/authorize?client_id=app&scope=accounts%3Aread&state=xyz&intention=signup"
	if got := web.LoginURL(authz, true); got != "/signup?return_to="+url.QueryEscape(authz) {
		t.Fatalf("LoginURL = %s", got)
	}
	form := b.get(web.LoginURL(authz, true))
	expect(t, form, http.StatusOK, "")
	contains(t, form, `name="return_to" value="/oauth2/authorize?client_id=app&amp;scope=accounts%3Aread&amp;state=xyz&amp;intention=signup"`)
	// Signing up signs in and goes straight on to the authorization request.
	expect(t, b.signUp(email, password, authz), http.StatusSeeOther, authz)
	b.signOut()
	expect(t, b.signIn(email, password, authz), http.StatusSeeOther, authz)

	// With two-factor the return_to survives the code prompt.
	u, _ := s.env.Service.UserByEmail(context.Background(), email)
	secret, _ := s.env.EnableTOTP(t, u.ID)
	b2 := s.browser(t)
	expect(t, b2.signIn(email, password, authz), http.StatusSeeOther, "/login/2fa?return_to="+url.QueryEscape(authz))
	p := b2.get("/login/2fa?return_to=" + url.QueryEscape(authz))
	c, _ := identity.TOTPCode(secret, s.env.Clock.Now())
	expect(t, b2.post("/login/2fa", url.Values{"csrf_token": {csrfOf(t, p)}, "code": {c}, "return_to": {authz}}), http.StatusSeeOther, authz)
	// Already signed in: /login?return_to= goes straight on.
	expect(t, b2.get("/login?return_to="+url.QueryEscape(authz)), http.StatusSeeOther, authz)
}

func TestSafeReturnTo(t *testing.T) {
	cases := map[string]string{
		"/oauth2/authorize?client_id=a&state=b": "/oauth2/authorize?client_id=a&state=b",
		"/account":                              "/account",
		"/":                                     "/",
		"":                                      "",
		"//evil.example/":                       "",
		"/\\evil.example":                       "",
		"\\\\evil.example":                      "",
		"https://evil.example/":                 "",
		"http:/evil.example":                    "",
		"javascript:alert(1)":                   "",
		"evil.example/x":                        "",
		"/%2f%2fevil.example":                   "",
		"/%5cevil.example":                      "",
		"/ok\r\nLocation: x":                    "",
		"/\tx":                                  "",
		"/" + strings.Repeat("a", 5000):         "",
		"/path//double/is/fine?x=//y":           "/path//double/is/fine?x=//y",
	}
	for in, want := range cases {
		if got := web.SafeReturnTo(in); got != want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	for _, evil := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		b := s.browser(t)
		expect(t, b.signIn(email, password, evil), http.StatusSeeOther, "/account")
	}
}

// TestCSRF: a missing, wrong or cross-site token gets 403 and changes nothing.
func TestCSRF(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	b := s.browser(t)

	// Sign-in form: no token / wrong token → 403, no session.
	b.get("/login")
	creds := url.Values{"email": {email}, "password": {password}}
	expect(t, b.post("/login", creds), http.StatusForbidden, "")
	creds.Set("csrf_token", strings.Repeat("0", 64))
	p := b.post("/login", creds)
	expect(t, p, http.StatusForbidden, "")
	contains(t, p, "Nothing was changed")
	expect(t, b.get("/account"), http.StatusSeeOther, "")

	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")
	token := csrfOf(t, b.get("/account"))
	change := url.Values{"current_password": {password}, "new_password": {"a brand new passphrase"}, "new_password_confirm": {"a brand new passphrase"}}
	cases := []struct {
		name   string
		token  string
		header []string
	}{
		{"missing", "", nil},
		{"wrong", strings.Repeat("a", 64), nil},
		{"another browser's", csrfOf(t, s.browser(t).get("/login")), nil},
		{"cross-site with a valid token", token, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign Origin with a valid token", token, []string{"Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		f := url.Values{}
		for k, v := range change {
			f[k] = v
		}
		if c.token != "" {
			f.Set("csrf_token", c.token)
		}
		if got := b.post("/account/password", f, c.header...); got.status != http.StatusForbidden {
			t.Errorf("%s token: status %d, want 403", c.name, got.status)
		}
	}
	// Other forms too.
	for _, path := range []string{"/logout", "/account/2fa/start", "/account/sessions/end-others", "/signup", "/login/2fa"} {
		if got := b.post(path, url.Values{}); got.status != http.StatusForbidden {
			t.Errorf("POST %s without token: %d", path, got.status)
		}
	}
	// Nothing changed: old password works, still signed in.
	expect(t, b.get("/account"), http.StatusOK, "")
	if _, err := s.env.Service.CheckPassword(context.Background(), email, password, ""); err != nil {
		t.Fatal("password changed despite CSRF failures")
	}
	// And with the right token it works.
	change.Set("csrf_token", token)
	expect(t, b.post("/account/password", change), http.StatusSeeOther, "/account?msg=password_changed")
}

// TestSignInFailuresLookAlike: unknown email, wrong password and disabled
// account give the same answer; repeated failures lock with 429 Retry-After.
func TestSignInFailuresLookAlike(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	s.env.CreateUser(t, "carol@example.com", password)
	if _, err := s.env.Service.SetUserDisabled(context.Background(), "carol@example.com", true); err != nil {
		t.Fatal(err)
	}
	alertRe := regexp.MustCompile(`<div class="alert error" role="alert" id="form-error">([^<]*)</div>`)
	var msgs []string
	for _, c := range [][2]string{{email, "wrong password"}, {"nobody@example.com", password}, {"carol@example.com", password}} {
		p := s.browser(t).signIn(c[0], c[1], "")
		expect(t, p, http.StatusUnauthorized, "")
		m := alertRe.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no error message:\n%s", p.body)
		}
		msgs = append(msgs, m[1])
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
		t.Fatalf("messages differ: %q", msgs)
	}

	// Lockout over HTTP.
	b := s.browser(t)
	var last page
	for i := 0; i < 20 && last.status != http.StatusTooManyRequests; i++ {
		last = b.signIn(email, "wrong password", "")
	}
	expect(t, last, http.StatusTooManyRequests, "")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// The password was not checked, so the page must not ask to check it.
	contains(t, last, "Your password was not checked", "Wait ")
	if strings.Contains(last.body, "Check your email address and password") {
		t.Fatalf("throttled page tells the user to check a password that was never checked:\n%s", last.body)
	}
	// Even the right password waits.
	expect(t, b.signIn(email, password, ""), http.StatusTooManyRequests, "")
	s.env.Clock.Advance(s.env.Service.Config().Throttle.LockoutDuration)
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")
}

// Sign-up with an email that has an account (in any case) signs nobody in
// and changes nothing: it sends the person to sign in. (Sign-up signs new
// accounts in, so this answer cannot look like a success.)
func TestSignUpExistingEmailSignsNobodyIn(t *testing.T) {
	s := newTestServer(t, web.Config{})
	expect(t, s.browser(t).signUp(email, password, "/next"), http.StatusSeeOther, "/next")
	b := s.browser(t)
	again := b.signUp(strings.ToUpper(email), "another good passphrase", "/next")
	expect(t, again, http.StatusSeeOther, "/login?email=ALICE%40EXAMPLE.COM&msg=account_exists&return_to=%2Fnext")
	expect(t, b.get("/account"), http.StatusSeeOther, "/login?return_to=%2Faccount")
	// The existing account's password did not change.
	if _, err := s.env.Service.CheckPassword(context.Background(), email, password, ""); err != nil {
		t.Fatal(err)
	}
	// Invalid input is reported with field messages.
	bad := s.browser(t).signUp("new@example.com", "password1", "")
	expect(t, bad, http.StatusBadRequest, "")
	contains(t, bad, `aria-invalid="true"`, "too common")
	mismatch := s.browser(t).submit("/signup", "/signup", url.Values{"email": {"x@example.com"}, "password": {password}, "password_confirm": {password + "x"}})
	expect(t, mismatch, http.StatusBadRequest, "")
	contains(t, mismatch, "not the same")
}

func TestDisableSignup(t *testing.T) {
	s := newTestServer(t, web.Config{DisableSignup: true})
	b := s.browser(t)
	expect(t, b.get("/signup"), http.StatusNotFound, "")
	if strings.Contains(b.get("/login").body, `href="/signup`) {
		t.Fatal("sign-up link shown while sign-up is off")
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	me, other := s.browser(t), s.browser(t)
	expect(t, me.signIn(email, password, ""), http.StatusSeeOther, "/account")
	expect(t, other.signIn(email, password, ""), http.StatusSeeOther, "/account")
	s.env.Clock.Advance(time.Second)
	next := "a brand new passphrase"
	p := me.submit("/account", "/account/password", url.Values{"current_password": {"wrong"}, "new_password": {next}, "new_password_confirm": {next}})
	expect(t, p, http.StatusBadRequest, "")
	contains(t, p, "Your current password is not right.")
	p = me.submit("/account", "/account/password", url.Values{"current_password": {password}, "new_password": {"password1"}, "new_password_confirm": {"password1"}})
	expect(t, p, http.StatusBadRequest, "")
	contains(t, p, "too common")
	p = me.submit("/account", "/account/password", url.Values{"current_password": {password}, "new_password": {next}, "new_password_confirm": {next}})
	expect(t, p, http.StatusSeeOther, "/account?msg=password_changed")
	contains(t, me.get("/account?msg=password_changed"), "All your other sessions were ended")
	expect(t, other.get("/account"), http.StatusSeeOther, "/login?return_to=%2Faccount")
}

func TestSessionsListAndEnd(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	me, other := s.browser(t), s.browser(t)
	me.signIn(email, password, "")
	other.signIn(email, password, "")
	acct := me.get("/account")
	handles := regexp.MustCompile(`name="session" value="([0-9a-f]+)"`).FindAllStringSubmatch(acct.body, -1)
	if len(handles) != 2 {
		t.Fatalf("%d sessions listed", len(handles))
	}
	contains(t, acct, "(this browser)", "End all other sessions")
	// End the other one.
	var otherHandle string
	for _, row := range strings.Split(acct.body, "<tr") {
		if strings.Contains(row, `name="session"`) && !strings.Contains(row, "this browser") {
			otherHandle = regexp.MustCompile(`name="session" value="([0-9a-f]+)"`).FindStringSubmatch(row)[1]
		}
	}
	expect(t, me.submit("/account", "/account/sessions/end", url.Values{"session": {otherHandle}}), http.StatusSeeOther, "/account?msg=session_ended")
	expect(t, other.get("/account"), http.StatusSeeOther, "")
	expect(t, me.get("/account"), http.StatusOK, "")
	// End all others.
	other.signIn(email, password, "")
	expect(t, me.submit("/account", "/account/sessions/end-others", nil), http.StatusSeeOther, "/account?msg=sessions_ended")
	expect(t, other.get("/account"), http.StatusSeeOther, "")
	expect(t, me.get("/account"), http.StatusOK, "")
}

func TestDisableTwoFactorAndRegenerateCodes(t *testing.T) {
	s := newTestServer(t, web.Config{})
	u := s.env.CreateUser(t, email, password)
	s.env.EnableTOTP(t, u.ID)
	b := s.browser(t)
	b.signIn(email, password, "")
	c, _ := identity.TOTPCode(mustSecret(t, s), s.env.Clock.Now())
	expect(t, b.submit("/login/2fa", "/login/2fa", url.Values{"code": {c}}), http.StatusSeeOther, "/account")
	expect(t, b.submit("/account", "/account/recovery-codes", url.Values{"password": {password}}), http.StatusSeeOther, "/account/recovery-codes")
	codes := b.get("/account/recovery-codes")
	expect(t, codes, http.StatusOK, "")
	if n := len(recoveryRe.FindAllString(codes.body, -1)); n != 10 {
		t.Fatalf("%d new codes", n)
	}
	expect(t, b.submit("/account", "/account/2fa/disable", url.Values{"password": {"wrong"}}), http.StatusBadRequest, "")
	expect(t, b.submit("/account", "/account/2fa/disable", url.Values{"password": {password}}), http.StatusSeeOther, "/account?msg=2fa_off")
	contains(t, b.get("/account"), `id="twofactor-status">Off<`)
}

func mustSecret(t *testing.T, s *testServer) string {
	t.Helper()
	u, err := s.env.Service.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := s.env.Box.Open(u.TOTPSecret, "totp:"+u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return string(seed)
}

// TestCookies: plain-HTTP loopback development uses gh_session; an https
// issuer gets __Host-gh_session, Secure. Both HttpOnly, SameSite=Lax, Path=/.
func TestCookies(t *testing.T) {
	for _, c := range []struct {
		issuer, name string
		secure       bool
	}{
		{"http://127.0.0.1:8080", "gh_session", false},
		{"https://id.example.com", "__Host-gh_session", true},
	} {
		s := newTestServer(t, web.Config{Issuer: c.issuer})
		s.env.CreateUser(t, email, password)
		mux := http.NewServeMux()
		s.h.Routes(mux)
		// GET /login sets the pre-session CSRF cookie.
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		var pre *http.Cookie
		for _, ck := range rec.Result().Cookies() {
			pre = ck
		}
		if pre == nil || !pre.HttpOnly || pre.Secure != c.secure {
			t.Fatalf("%s: pre-session cookie %+v", c.issuer, pre)
		}
		token := csrfRe.FindStringSubmatch(rec.Body.String())[1]
		form := url.Values{"email": {email}, "password": {password}, "csrf_token": {token}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pre)
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: sign-in %d %s", c.issuer, rec.Code, rec.Body)
		}
		raw := rec.Header().Get("Set-Cookie")
		ck := rec.Result().Cookies()[0]
		if ck.Name != c.name || !ck.HttpOnly || ck.Secure != c.secure || ck.Path != "/" || ck.Domain != "" || ck.SameSite != http.SameSiteLaxMode || len(ck.Value) < 43 {
			t.Fatalf("%s: session cookie %q", c.issuer, raw)
		}
	}
}

// TestFormsAreAccessible: every visible input has a label, a name and the
// autocomplete token password managers need.
func TestFormsAreAccessible(t *testing.T) {
	s := newTestServer(t, web.Config{})
	u := s.env.CreateUser(t, email, password)
	b := s.browser(t)
	inputRe := regexp.MustCompile(`<input\s[^>]*>`)
	attr := func(tag, name string) string {
		m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return ""
		}
		return m[1]
	}
	check := func(path string, p page, want map[string]string) {
		t.Helper()
		expect(t, p, http.StatusOK, "")
		contains(t, p, `<html lang="en">`, `name="viewport"`, `<main id="main"`)
		for _, tag := range inputRe.FindAllString(p.body, -1) {
			if attr(tag, "type") == "hidden" {
				continue
			}
			id, name := attr(tag, "id"), attr(tag, "name")
			if id == "" || name == "" || !strings.Contains(p.body, `<label for="`+id+`"`) {
				t.Errorf("%s: input without id, name or label: %s", path, tag)
			}
			if ac, ok := want[name]; ok && attr(tag, "autocomplete") != ac {
				t.Errorf("%s: %s has autocomplete %q, want %q", path, name, attr(tag, "autocomplete"), ac)
			}
		}
		for name := range want {
			if !strings.Contains(p.body, `name="`+name+`"`) {
				t.Errorf("%s: no input %s", path, name)
			}
		}
	}
	check("/signup", b.get("/signup"), map[string]string{"email": "email", "password": "new-password", "password_confirm": "new-password", "name": "name"})
	check("/login", b.get("/login"), map[string]string{"email": "username", "password": "current-password"})
	b.signIn(email, password, "")
	check("/account", b.get("/account"), map[string]string{"current_password": "current-password", "new_password": "new-password", "new_password_confirm": "new-password"})
	b.submit("/account", "/account/2fa/start", nil)
	check("/account/2fa", b.get("/account/2fa"), map[string]string{"code": "one-time-code"})
	s.env.EnableTOTP(t, u.ID) // finishes enrolment for the prompt below
	b2 := s.browser(t)
	b2.signIn(email, password, "")
	check("/login/2fa", b2.get("/login/2fa"), map[string]string{"code": "one-time-code"})

	css := b.get("/static/style.css")
	if css.status != http.StatusOK || !strings.Contains(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
	}
}

// FuzzSafeReturnTo: whatever is accepted resolves to this origin.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/a?b=c", "//x", "/\\x", "/%2fx", "http://x", "/\x00"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://id.example.com/login")
	f.Fuzz(func(t *testing.T, s string) {
		got := web.SafeReturnTo(s)
		if got == "" {
			return
		}
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted unparsable %q", got)
		}
		if u := base.ResolveReference(ref); u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("%q resolves to %s", got, u)
		}
	})
}

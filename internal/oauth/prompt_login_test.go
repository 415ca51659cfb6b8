package oauth_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// sessionCookie returns the browser's session cookie value.
func (b *browser) sessionCookie(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(b.e.issuer)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "gh_session" {
			return c.Value
		}
	}
	return ""
}

// withSession is a new browser holding only this session cookie value.
func (e *env) withSession(value string) *browser {
	b := e.browser()
	u, _ := url.Parse(e.issuer)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: "gh_session", Value: value, Path: "/"}})
	b.c.Jar = jar
	return b
}

// TestPromptLoginKeepsSessionUntilReauth: prompt=login arrives as a GET any
// site can trigger, so it only shows the sign-in page: the session stays
// valid, through the password step too, and is replaced only once the new
// sign-in — second factor included — succeeds, after which the browser
// returns to the authorization request and gets its code.
func TestPromptLoginKeepsSessionUntilReauth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		key, err := e.ids.BeginTOTP(e.ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		code := func() string {
			e.clock.Advance(identity.TOTPPeriod * time.Second) // a step not used before
			c, err := identity.TOTPCode(key.Secret, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if _, err := e.ids.ConfirmTOTP(e.ctx, alice.ID, code(), ""); err != nil {
			t.Fatal(err)
		}
		a := e.client(owner, oauth.NewClient{})
		req := authzURL("response_type", "code", "client_id", a.ID, "redirect_uri", redirectURI, "scope", "profile:read", "state", "st")

		// Sign in with both factors; allow the app once.
		b := e.browser()
		p := b.get("/login")
		f := p.form(t, "/login")
		f.Set("email", alice.Email)
		f.Set("password", password)
		p = b.post("/login", f)
		if p.url.Path != "/login/2fa" {
			t.Fatalf("after the password: %d %s", p.status, p.url)
		}
		f = p.form(t, "/login/2fa")
		f.Set("code", code())
		if p = b.post("/login/2fa", f); p.url.Path != "/account" {
			t.Fatalf("after the second factor: %d %s", p.status, p.url)
		}
		if q := b.authorize(req); q.Get("code") == "" {
			t.Fatalf("%v", q)
		}
		old := b.sessionCookie(t)
		accountWorks := func(b *browser) bool {
			p := b.get("/account")
			return p.status == http.StatusOK && p.url.Path == "/account"
		}

		e.clock.Advance(10 * time.Minute)
		before := e.st.snapshot()
		p = b.get(req + "&prompt=login")
		if p.url.Path != "/login" || !strings.Contains(p.body, `type="password"`) {
			t.Fatalf("prompt=login did not ask for the password: %d %s", p.status, p.url)
		}
		if after := e.st.snapshot(); after != before {
			t.Fatalf("issued: %+v → %+v", before, after)
		}
		if !accountWorks(e.withSession(old)) {
			t.Fatal("GET with prompt=login ended the session")
		}

		// The password alone replaces nothing.
		f = p.form(t, "/login")
		f.Set("email", alice.Email)
		f.Set("password", password)
		p = b.post("/login", f)
		if p.url.Path != "/login/2fa" {
			t.Fatalf("after the password: %d %s", p.status, p.url)
		}
		if b.sessionCookie(t) != old || !accountWorks(e.withSession(old)) {
			t.Fatal("the password step of a re-authentication replaced the session")
		}

		// The second factor completes the sign-in: a new session, the old
		// one ended, and back to the authorization request.
		f = p.form(t, "/login/2fa")
		f.Set("code", code())
		p = b.post("/login/2fa", f)
		if q := redirectParams(t, p, false); q.Get("code") == "" || q.Get("state") != "st" {
			t.Fatalf("after re-authentication: %v", q)
		}
		if now := b.sessionCookie(t); now == "" || now == old {
			t.Fatal("re-authentication kept the old session id")
		}
		if accountWorks(e.withSession(old)) {
			t.Fatal("the old session still works after re-authentication")
		}
		if !accountWorks(b) {
			t.Fatal("the new session does not work")
		}
	})
}

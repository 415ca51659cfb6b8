package app_test

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/email/emailtest"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post submits a form from the page at from (for its CSRF token).
func (b *browser) post(from, action string, form url.Values) (int, string, string) {
	b.t.Helper()
	_, page := b.get(from)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("csrf_token", m[1])
	req, _ := http.NewRequest(http.MethodPost, b.base+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

// pathOf is the path and query of the link, to follow it on the test server.
func pathOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// TestEmailFlowsOverHTTP signs up, follows the verification link, resets
// the password through /forgot-password (reused and unknown cases), with
// the messages received by a real SMTP server.
func TestEmailFlowsOverHTTP(t *testing.T) {
	smtp := emailtest.Start(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(smtp.Addr)
	a, srv := openPages(t, map[string]string{
		"GATEHOUSE_SMTP_HOST": host, "GATEHOUSE_SMTP_PORT": port, "GATEHOUSE_SMTP_TLS": "none",
		"GATEHOUSE_SITE_NAME": "Example Corp",
	})
	ctx := t.Context()
	deliver := func() emailtest.Received {
		t.Helper()
		for range 3 { // a reset request takes two rounds
			if !smtp.None() {
				break
			}
			if _, err := a.Outbox.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return smtp.Next(t)
	}
	b := newBrowser(t, srv.URL)
	code, _, loc := b.post("/signup", "/signup", url.Values{"email": {"ann@example.com"}, "password": {"vivid otter anchors the lamp"}, "password_confirm": {"vivid otter anchors the lamp"}})
	if code != http.StatusSeeOther {
		t.Fatalf("signup: %d → %s", code, loc)
	}
	u, err := a.Identity.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	verify := deliver()
	if verify.To != "ann@example.com" || !strings.Contains(verify.Subject, "Example Corp") {
		t.Fatalf("verification mail %q to %q", verify.Subject, verify.To)
	}
	link := pathOf(t, verify.Links()[0])
	// Following the link (a GET, as a mail scanner would) changes nothing.
	if code, _ := b.get(link); code != http.StatusOK {
		t.Fatalf("GET verify link: %d", code)
	}
	if ok, _ := a.Identity.EmailVerified(ctx, u.ID); ok {
		t.Fatal("a GET of the link verified the address")
	}
	token := strings.TrimPrefix(link, "/verify-email?token=")
	tok, _ := url.QueryUnescape(token)
	if code, _, _ := b.post(link, "/verify-email", url.Values{"token": {tok}}); code != http.StatusOK {
		t.Fatalf("POST verify: %d", code)
	}
	if ok, _ := a.Identity.EmailVerified(ctx, u.ID); !ok {
		t.Fatal("address not verified after the link")
	}
	if code, _, _ := b.post(link, "/verify-email", url.Values{"token": {tok}}); code != http.StatusGone {
		t.Fatalf("reused verify link: %d, want 410", code)
	}

	// Reset: known and unknown addresses get the same answer.
	anon := newBrowser(t, srv.URL)
	k1, known, _ := anon.post("/forgot-password", "/forgot-password", url.Values{"email": {"ann@example.com"}})
	k2, unknown, _ := anon.post("/forgot-password", "/forgot-password", url.Values{"email": {"nobody@example.com"}})
	if k1 != k2 || known != unknown {
		t.Fatalf("known and unknown addresses answered differently: %d vs %d", k1, k2)
	}
	reset := deliver()
	if reset.To != "ann@example.com" {
		t.Fatalf("reset mail to %q", reset.To)
	}
	link = pathOf(t, reset.Links()[0])
	tok, _ = url.QueryUnescape(strings.TrimPrefix(link, "/reset-password?token="))
	form := url.Values{"token": {tok}, "password": {"a new and long passphrase"}, "password_confirm": {"a new and long passphrase"}}
	code, _, loc = anon.post(link, "/reset-password", form)
	if code != http.StatusSeeOther || loc != "/login?msg=password_reset" {
		t.Fatalf("reset: %d → %q", code, loc)
	}
	if code, _, _ := anon.post(link, "/reset-password", form); code != http.StatusGone {
		t.Fatalf("reused reset link: %d, want 410", code)
	}
	// The browser signed in before the reset is signed out.
	if code, _ := b.get("/account"); code != http.StatusSeeOther {
		t.Fatalf("old session after reset: %d", code)
	}
	notice := deliver()
	if !strings.Contains(notice.Text, "password of your account was reset") {
		t.Fatalf("notice %q", notice.Text)
	}
	// Nothing else was sent (in particular nothing for nobody@example.com).
	for range 2 {
		a.Outbox.RunOnce(ctx)
	}
	if !smtp.None() {
		t.Fatal("more messages were sent")
	}
}

// TestEmailChangeOverHTTP: /account/email sends a confirmation link to the
// new address and a notice to the old one; the link changes the address.
func TestEmailChangeOverHTTP(t *testing.T) {
	smtp := emailtest.Start(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(smtp.Addr)
	a, srv := openPages(t, map[string]string{"GATEHOUSE_SMTP_HOST": host, "GATEHOUSE_SMTP_PORT": port, "GATEHOUSE_SMTP_TLS": "none"})
	ctx := t.Context()
	const pw = "vivid otter anchors the lamp"
	b := newBrowser(t, srv.URL)
	if code, _, _ := b.post("/signup", "/signup", url.Values{"email": {"ann@example.com"}, "password": {pw}, "password_confirm": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("signup: %d", code)
	}
	if _, err := a.Outbox.RunOnce(ctx); err != nil { // the verification link
		t.Fatal(err)
	}
	smtp.Next(t)
	code, body, _ := b.post("/account/email", "/account/email", url.Values{"email": {"ann.new@example.com"}, "current_password": {pw}})
	if code != http.StatusOK || !strings.Contains(body, "ann.new@example.com") {
		t.Fatalf("request change: %d", code)
	}
	if _, err := a.Outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]emailtest.Received{}
	for range 2 {
		m := smtp.Next(t)
		got[m.To] = m
	}
	if !strings.Contains(got["ann@example.com"].Text, "ann.new@example.com") {
		t.Fatalf("no notice to the old address: %v", got)
	}
	link := pathOf(t, got["ann.new@example.com"].Links()[0])
	tok, _ := url.QueryUnescape(strings.TrimPrefix(link, "/confirm-email?token="))
	if code, _, _ := b.post(link, "/confirm-email", url.Values{"token": {tok}}); code != http.StatusOK {
		t.Fatalf("confirm: %d", code)
	}
	if code, _, _ := b.post(link, "/confirm-email", url.Values{"token": {tok}}); code != http.StatusGone {
		t.Fatalf("reused confirm link: %d, want 410", code)
	}
	if _, err := a.Identity.UserByEmail(ctx, "ann.new@example.com"); err != nil {
		t.Fatalf("address not changed: %v", err)
	}
}

// TestSecurityNoticesOverHTTP: a sign-in from a new browser and a password
// change are told to the account's address; the sign-up's own browser is not.
func TestSecurityNoticesOverHTTP(t *testing.T) {
	smtp := emailtest.Start(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(smtp.Addr)
	a, srv := openPages(t, map[string]string{"GATEHOUSE_SMTP_HOST": host, "GATEHOUSE_SMTP_PORT": port, "GATEHOUSE_SMTP_TLS": "none"})
	ctx := t.Context()
	const pw = "vivid otter anchors the lamp"
	b := newBrowser(t, srv.URL)
	if code, _, _ := b.post("/signup", "/signup", url.Values{"email": {"ann@example.com"}, "password": {pw}, "password_confirm": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("signup: %d", code)
	}
	next := func() emailtest.Received {
		t.Helper()
		if smtp.None() {
			if _, err := a.Outbox.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return smtp.Next(t)
	}
	if m := next(); !strings.Contains(m.Subject, "Confirm your email") {
		t.Fatalf("first message %q, want the verification link only", m.Subject)
	}
	// Another browser (another User-Agent) signs in: news.
	other := newBrowser(t, srv.URL)
	other.c.Transport = uaTransport{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}
	if code, _, _ := other.post("/login", "/login", url.Values{"email": {"ann@example.com"}, "password": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	if m := next(); !strings.Contains(m.Text, "New sign-in") || !strings.Contains(m.Text, "Firefox") {
		t.Fatalf("new-device notice %q", m.Text)
	}
	// The same browser and address again: no news.
	again := newBrowser(t, srv.URL)
	again.c.Transport = other.c.Transport
	if code, _, _ := again.post("/login", "/login", url.Values{"email": {"ann@example.com"}, "password": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("login again: %d", code)
	}
	const pw2 = "another long passphrase here"
	if code, _, _ := other.post("/account", "/account/password", url.Values{"current_password": {pw}, "new_password": {pw2}, "new_password_confirm": {pw2}}); code != http.StatusSeeOther {
		t.Fatalf("change password: %d", code)
	}
	if m := next(); !strings.Contains(m.Text, "password of your account was changed") {
		t.Fatalf("password notice %q", m.Text)
	}
	if _, err := a.Outbox.RunOnce(ctx); err != nil || !smtp.None() {
		t.Fatalf("unexpected further messages (%v)", err)
	}
}

type uaTransport struct{ ua string }

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return http.DefaultTransport.RoundTrip(r)
}

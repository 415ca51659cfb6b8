package app_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/email/emailtest"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// TestSecurityNoticesOnAccountPage drives every security notice over HTTP,
// as a person and their scripts cause them, and finds each on the account
// page's "Security notices" panel, in the audit log as
// account.security_alert with its kind, and on the counter.
func TestSecurityNoticesOnAccountPage(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			smtp := emailtest.Start(t, "127.0.0.1:0")
			host, port, _ := net.SplitHostPort(smtp.Addr)
			extra := map[string]string{"GATEHOUSE_SMTP_HOST": host, "GATEHOUSE_SMTP_PORT": port, "GATEHOUSE_SMTP_TLS": "none"}
			if backend == "postgres" {
				dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "noticestest")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { drop() })
				extra["GATEHOUSE_DATABASE"], extra["GATEHOUSE_MIGRATE"] = dsn, "always"
			}
			a, srv := openPages(t, extra)
			testNoticesOverHTTP(t, a.Identity, a.Audit, func() error { _, err := a.Outbox.RunOnce(t.Context()); return err }, smtp, srv.URL,
				func(kind identity.NoticeKind) float64 {
					mfs, _ := a.Registry.Gather()
					for _, mf := range mfs {
						if mf.GetName() == "gatehouse_security_alerts_total" {
							for _, m := range mf.GetMetric() {
								if m.GetLabel()[0].GetValue() == string(kind) {
									return m.GetCounter().GetValue()
								}
							}
						}
					}
					return -1
				})
		})
	}
}

func testNoticesOverHTTP(t *testing.T, ids *identity.Service, alog *audit.Log, runOutbox func() error, smtp *emailtest.Server, base string,
	alerts func(identity.NoticeKind) float64) {
	ctx := t.Context()
	const pw, pw2 = "vivid otter anchors the lamp", "another long passphrase here"
	next := func() emailtest.Received {
		t.Helper()
		if smtp.None() {
			if err := runOutbox(); err != nil {
				t.Fatal(err)
			}
		}
		return smtp.Next(t)
	}
	b := newBrowser(t, base)
	if code, _, _ := b.post("/signup", "/signup", url.Values{"email": {"ann@example.com"}, "password": {pw}, "password_confirm": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("signup: %d", code)
	}
	next() // the verification link
	u, err := ids.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// The account page before anything happened: the panel, empty.
	if _, body := b.get("/account"); !strings.Contains(body, `id="security-notices-none"`) || !strings.Contains(body, `href="/account/activity"`) {
		t.Fatal("no empty Security notices panel on /account")
	}

	ff := newBrowser(t, base)
	ff.c.Transport = uaTransport{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}
	steps := []struct {
		kind identity.NoticeKind
		do   func(t *testing.T)
	}{
		{identity.NoticeNewSignInLocation, func(t *testing.T) {
			if code, _, _ := ff.post("/login", "/login", url.Values{"email": {"ann@example.com"}, "password": {pw}}); code != http.StatusSeeOther {
				t.Fatalf("login: %d", code)
			}
		}},
		{identity.NoticePATCreated, func(t *testing.T) {
			req, _ := http.NewRequest("POST", base+"/v0/me/tokens", strings.NewReader(`{"description":"deploy script","scopes":"profile:read"}`))
			req.SetBasicAuth("ann@example.com", pw)
			req.Header.Set("Content-Type", "application/json")
			resp, err := ff.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("create PAT: %d", resp.StatusCode)
			}
		}},
		{identity.NoticeSecondFactorDisabled, func(t *testing.T) {
			k, err := ids.BeginTOTP(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := identity.TOTPCode(k.Secret, time.Now())
			if _, err := ids.ConfirmTOTP(ctx, u.ID, code, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			if code, _, loc := ff.post("/account", "/account/2fa/disable", url.Values{"password": {pw}}); code != http.StatusSeeOther || loc != "/account?msg=2fa_off" {
				t.Fatalf("disable two-factor: %d → %s", code, loc)
			}
		}},
		{identity.NoticePasswordChanged, func(t *testing.T) {
			if code, _, _ := ff.post("/account", "/account/password", url.Values{"current_password": {pw}, "new_password": {pw2}, "new_password_confirm": {pw2}}); code != http.StatusSeeOther {
				t.Fatalf("change password: %d", code)
			}
		}},
		{identity.NoticeEmailChangeRequested, func(t *testing.T) {
			if code, _, _ := ff.post("/account/email", "/account/email", url.Values{"email": {"ann.new@example.com"}, "current_password": {pw2}}); code != http.StatusOK {
				t.Fatalf("request email change: %d", code)
			}
		}},
	}
	var confirm string
	for _, s := range steps {
		s.do(t)
		// The notice's email (and, for the change of address, the link
		// to the new address).
		messages := 1
		if s.kind == identity.NoticeEmailChangeRequested {
			messages = 2
		}
		got := map[string]emailtest.Received{}
		for range messages {
			m := next()
			got[m.To] = m
		}
		if _, ok := got["ann@example.com"]; !ok {
			t.Fatalf("%s: no notice to the account's address", s.kind)
		}
		if m, ok := got["ann.new@example.com"]; ok {
			confirm = pathOf(t, m.Links()[0])
		}
	}
	tok, _ := url.QueryUnescape(strings.TrimPrefix(confirm, "/confirm-email?token="))
	if code, _, _ := ff.post(confirm, "/confirm-email", url.Values{"token": {tok}}); code != http.StatusOK {
		t.Fatalf("confirm: %d", code)
	}
	if m := next(); m.To != "ann@example.com" || !strings.Contains(m.Text, "changed to ann.new@example.com") {
		t.Fatalf("email-changed notice to %s: %q", m.To, m.Text)
	}

	// The account page lists each, newest first, with where it came from.
	code, body := ff.get("/account")
	if code != http.StatusOK {
		t.Fatalf("account: %d", code)
	}
	i := strings.Index(body, `id="security-notices"`)
	if i < 0 {
		t.Fatalf("no Security notices table")
	}
	panel := body[i : strings.Index(body[i:], "</table>")+i]
	want := []identity.NoticeKind{identity.NoticeEmailChanged, identity.NoticeEmailChangeRequested, identity.NoticePasswordChanged,
		identity.NoticeSecondFactorDisabled, identity.NoticePATCreated, identity.NoticeNewSignInLocation}
	at := 0
	for _, k := range want {
		j := strings.Index(panel[at:], `data-kind="`+string(k)+`"`)
		if j < 0 {
			t.Fatalf("notice %s missing or out of order in %s", k, panel)
		}
		at += j + 1
		if got := alerts(k); got != 1 {
			t.Errorf("gatehouse_security_alerts_total{kind=%q} = %v, want 1", k, got)
		}
	}
	for _, s := range []string{"deploy script", "Two-factor authentication was turned off", "127.0.0.1", "Firefox"} {
		if !strings.Contains(panel, s) {
			t.Errorf("panel lacks %q", s)
		}
	}
	list, err := alog.List(ctx, store.AuditFilter{Type: audit.SecurityAlert, Subject: u.ID})
	if err != nil || len(list) != len(want) {
		t.Fatalf("%d alert entries (%v), want %d", len(list), err, len(want))
	}
	for i, e := range list {
		if !strings.Contains(e.Details, `"kind":"`+string(want[i])+`"`) || e.ClientAddr != "127.0.0.1" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
}

// TestSecurityAlertInAuditStream: the operator's SIEM gets each security
// notice as an account.security_alert line of the audit stream.
func TestSecurityAlertInAuditStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, _ := openPages(t, map[string]string{"GATEHOUSE_AUDIT_STREAM": path})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.RunBackground(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	u, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "ann@example.com", Name: "Ann", Password: "vivid otter anchors the lamp"})
	if err != nil {
		t.Fatal(err)
	}
	// The stream follows the log from its head when it starts: wait until
	// it is live (a marker entry shows up), then raise the alert.
	lines := func() []audit.View {
		b, _ := os.ReadFile(path)
		var out []audit.View
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var v audit.View
			if json.Unmarshal([]byte(l), &v) == nil {
				out = append(out, v)
			}
		}
		return out
	}
	find := func(typ string) *audit.View {
		for _, v := range lines() {
			if v.Type == typ {
				return &v
			}
		}
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for find("stream.marker") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the audit stream never started")
		}
		a.Audit.RecordAfter(ctx, audit.Entry{Type: "stream.marker"})
		time.Sleep(200 * time.Millisecond)
	}
	if err := a.AccountMail.Notify(ctx, u.ID, identity.NoticeSecondFactorDisabled); err != nil {
		t.Fatal(err)
	}
	var v *audit.View
	for v = find(audit.SecurityAlert); v == nil; v = find(audit.SecurityAlert) {
		if time.Now().After(deadline) {
			t.Fatal("no account.security_alert line in the stream")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var d map[string]any
	if err := json.Unmarshal(v.Details, &d); err != nil || d["kind"] != "second_factor_disabled" || v.Subject != u.ID || v.ActorKind != "system" {
		t.Fatalf("stream line %+v (%v)", v, err)
	}
}

package identity_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/audit"
	mailer "github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/email/emailtest"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store"
)

// alertEnv is a mail environment whose identity service records to an
// audit log and counts on a registry of its own.
type alertEnv struct {
	*mailEnv
	log *audit.Log
	reg *prometheus.Registry
}

func newAlertEnv(t *testing.T, newEnv func(t testing.TB, opts ...identitytest.Option) *identitytest.Env) *alertEnv {
	t.Helper()
	base := newEnv(t)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	var clock *identitytest.Clock
	alog, err := audit.New(audit.Config{Store: base.Store, Now: func() time.Time { return clock.Now() }, Log: discard,
		CheckpointKey: bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e := identitytest.NewWithStore(t, base.Store, identitytest.WithConfig(func(c *identity.Config) {
		c.Audit, c.Metrics = alog, identity.NewMetrics(reg)
	}))
	clock = e.Clock
	srv := emailtest.Start(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	out, err := outbox.New(e.Store, e.Clock.Now, rand.Reader, discard, nil, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := mailer.NewMailer(e.Box, out, mailer.SMTPSender{Host: host, Port: p, TLS: mailer.TLSNone}, "Acme <no-reply@acme.test>",
		mailer.Brand{SiteName: "Acme"}, e.Clock.Now, rand.Reader, discard)
	me := &mailEnv{Env: e, out: out, smtp: srv, flow: identity.NewAccountMail(e.Service, e.Store, m, out, "https://id.acme.test")}
	return &alertEnv{mailEnv: me, log: alog, reg: reg}
}

func (e *alertEnv) alerts(t *testing.T, kind identity.NoticeKind) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_security_alerts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == string(kind) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no gatehouse_security_alerts_total{kind=%q}", kind)
	return 0
}

// TestSecurityNoticesRecorded drives each security notice through the real
// services and checks the three things it leaves: the email, the audit
// entry account.security_alert with its kind (the operator's alert), and
// the notice on the account page's list; and the counter by kind.
func TestSecurityNoticesRecorded(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(t testing.TB, opts ...identitytest.Option) *identitytest.Env) {
		e := newAlertEnv(t, newEnv)
		const pw, pw2 = "correct horse battery staple", "a second long passphrase"
		u := e.CreateUser(t, "ann@example.com", pw)
		// The request the notice is about: its address and browser are
		// what the account page shows.
		rctx := audit.WithMeta(t.Context(), audit.Meta{ClientAddr: "198.51.100.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"})
		pats, err := pat.New(e.Store, e.Hasher, e.Clock.Now, rand.Reader, nil, pat.Config{Created: e.flow.PATCreated, Audit: e.log})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.flow.RememberDevice(rctx, u.ID, "chrome|192.0.2.1", "Chrome from 192.0.2.1", false); err != nil {
			t.Fatal(err)
		}
		var confirm *emailtest.Received // to the new address
		steps := []struct {
			kind identity.NoticeKind
			do   func(t *testing.T)
			mail string // in the email's text and the notice's sentence or detail
		}{
			{identity.NoticeNewSignInLocation, func(t *testing.T) {
				if err := e.flow.RememberDevice(rctx, u.ID, "firefox|198.51.100.7", "Firefox from 198.51.100.7", true); err != nil {
					t.Fatal(err)
				}
			}, "Firefox from 198.51.100.7"},
			{identity.NoticePATCreated, func(t *testing.T) {
				if _, err := pats.Create(rctx, pat.CreateRequest{UserID: u.ID, Description: "deploy script", Scopes: []string{"profile:read"}}); err != nil {
					t.Fatal(err)
				}
			}, `("deploy script") was created`},
			{identity.NoticeSecondFactorDisabled, func(t *testing.T) {
				k, err := e.Service.BeginTOTP(rctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				code, _ := identity.TOTPCode(k.Secret, e.Clock.Now())
				if _, err := e.Service.ConfirmTOTP(rctx, u.ID, code, "198.51.100.7"); err != nil {
					t.Fatal(err)
				}
				if err := e.Service.DisableTOTP(rctx, u.ID, pw, "198.51.100.7"); err != nil {
					t.Fatal(err)
				}
				// As the account page does once the change is made.
				if err := e.flow.Notify(rctx, u.ID, identity.NoticeSecondFactorDisabled); err != nil {
					t.Fatal(err)
				}
			}, "Two-factor authentication was turned off"},
			{identity.NoticePasswordChanged, func(t *testing.T) {
				if err := e.Service.ChangePassword(rctx, u.ID, pw, pw2, "198.51.100.7"); err != nil {
					t.Fatal(err)
				}
				if err := e.flow.Notify(rctx, u.ID, identity.NoticePasswordChanged); err != nil {
					t.Fatal(err)
				}
			}, "password of your account was changed"},
			{identity.NoticeEmailChangeRequested, func(t *testing.T) {
				if err := e.flow.RequestEmailChange(rctx, u.ID, pw2, "ann.new@example.com", "198.51.100.7"); err != nil {
					t.Fatal(err)
				}
			}, "address to ann.new@example.com was requested"},
			{identity.NoticeEmailChanged, func(t *testing.T) {
				// The confirmation link went out with the request's notice.
				if confirm == nil {
					t.Fatal("no confirmation link was sent")
				}
				tok := token(t, *confirm, "/confirm-email")
				if err := e.flow.ConfirmEmailChange(rctx, tok); err != nil {
					t.Fatal(err)
				}
			}, "changed to ann.new@example.com"},
		}
		for i, s := range steps {
			e.Clock.Advance(time.Minute)
			s.do(t)
			// The notice went to the old address (the email change's
			// confirmation link goes to the new one, read by the next step).
			messages := 1
			if s.kind == identity.NoticeEmailChangeRequested {
				messages = 2 // and the confirmation link, in either order
			}
			got := map[string]emailtest.Received{}
			for range messages {
				r := e.deliver(t)
				got[r.To] = r
			}
			m, ok := got["ann@example.com"]
			if !ok {
				t.Fatalf("%s: no notice to the account's address: %v", s.kind, got)
			}
			if c, ok := got["ann.new@example.com"]; ok {
				confirm = &c
			}
			if !strings.Contains(m.Text, s.mail) {
				t.Fatalf("%s: email %q lacks %q", s.kind, m.Text, s.mail)
			}
			notices, err := e.flow.Notices(t.Context(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(notices) != i+1 {
				t.Fatalf("%s: %d notices, want %d", s.kind, len(notices), i+1)
			}
			n := notices[0]
			if n.Kind != s.kind || !strings.Contains(n.Event+" "+n.Detail, s.mail) || n.Address != "198.51.100.7" ||
				!strings.Contains(n.UserAgent, "Firefox") || !n.At.Equal(e.Clock.Now()) {
				t.Fatalf("%s: newest notice %+v", s.kind, n)
			}
			list, err := e.log.List(t.Context(), store.AuditFilter{Type: audit.SecurityAlert, Limit: 10})
			if err != nil || len(list) != i+1 {
				t.Fatalf("%s: %d alert entries (%v), want %d", s.kind, len(list), err, i+1)
			}
			a := list[0]
			var d map[string]any
			json.Unmarshal([]byte(a.Details), &d)
			if d["kind"] != string(s.kind) || a.Subject != u.ID || a.ActorKind != store.ActorSystem || a.ClientAddr != "198.51.100.7" || a.Outcome != store.OutcomeSuccess {
				t.Fatalf("%s: audit entry %+v", s.kind, a)
			}
			if got := e.alerts(t, s.kind); got != 1 {
				t.Fatalf("%s: counted %v, want 1", s.kind, got)
			}
		}
		// The sign-up's own device and a known one are no news: nothing
		// recorded, nothing counted.
		if err := e.flow.RememberDevice(rctx, u.ID, "firefox|198.51.100.7", "Firefox from 198.51.100.7", true); err != nil {
			t.Fatal(err)
		}
		if got := e.alerts(t, identity.NoticeNewSignInLocation); got != 1 {
			t.Fatalf("known device counted: %v", got)
		}
		// Newest first, and the account page's window ends.
		notices, _ := e.flow.Notices(t.Context(), u.ID)
		if len(notices) != len(steps) || notices[0].Kind != identity.NoticeEmailChanged || notices[len(steps)-1].Kind != identity.NoticeNewSignInLocation {
			t.Fatalf("order: %+v", notices)
		}
		e.Clock.Advance(identity.NoticesWindow + time.Second)
		if notices, _ := e.flow.Notices(t.Context(), u.ID); len(notices) != 0 {
			t.Fatalf("%d notices older than the window", len(notices))
		}
		if b, _, err := e.log.Verify(t.Context()); err != nil || b != nil {
			t.Fatalf("chain: %v %v", b, err)
		}
	})
}

// TestAdminSecondFactorResetNotice: two-factor turned off by an
// administrator (console, admin API, CLI) is told to the owner too.
func TestAdminSecondFactorResetNotice(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(t testing.TB, opts ...identitytest.Option) *identitytest.Env) {
		e := newAlertEnv(t, newEnv)
		u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
		if _, err := e.Service.Admin().ResetSecondFactor(t.Context(), "cli", u.ID); err != nil {
			t.Fatal(err)
		}
		if m := e.deliver(t); m.To != "ann@example.com" || !strings.Contains(m.Text, "turned off for your account by an administrator") {
			t.Fatalf("notice to %s: %q", m.To, m.Text)
		}
		notices, err := e.flow.Notices(t.Context(), u.ID)
		if err != nil || len(notices) != 1 || notices[0].Kind != identity.NoticeSecondFactorDisabled {
			t.Fatalf("notices %+v (%v)", notices, err)
		}
		if got := e.alerts(t, identity.NoticeSecondFactorDisabled); got != 1 {
			t.Fatalf("counted %v", got)
		}
	})
}

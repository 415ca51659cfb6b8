package identity_test

import (
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	mailer "github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/email/emailtest"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/store"
)

type mailEnv struct {
	*identitytest.Env
	out  *outbox.Outbox
	smtp *emailtest.Server
	flow *identity.AccountMail
}

func newMailEnv(t *testing.T) *mailEnv {
	t.Helper()
	e := identitytest.New(t)
	srv := emailtest.Start(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out, err := outbox.New(e.Store, e.Clock.Now, rand.Reader, log, nil, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := mailer.NewMailer(e.Box, out, mailer.SMTPSender{Host: host, Port: p, TLS: mailer.TLSNone}, "Acme <no-reply@acme.test>",
		mailer.Brand{SiteName: "Acme"}, e.Clock.Now, rand.Reader, log)
	return &mailEnv{Env: e, out: out, smtp: srv, flow: identity.NewAccountMail(e.Service, e.Store, m, out, "https://id.acme.test")}
}

// deliver runs the outbox until a message was sent (a reset request takes
// two rounds: the request, then the message it queued) and returns it.
func (e *mailEnv) deliver(t *testing.T) emailtest.Received {
	t.Helper()
	for range 3 {
		if !e.smtp.None() {
			break
		}
		if _, err := e.out.RunOnce(t.Context()); err != nil {
			t.Fatalf("outbox RunOnce: %v", err)
		}
	}
	return e.smtp.Next(t)
}

// token extracts the token of the one link in a message to path.
func token(t *testing.T, m emailtest.Received, path string) string {
	t.Helper()
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("links %v, want one", links)
	}
	u, err := url.Parse(links[0])
	if err != nil || u.Path != path || u.Host != "id.acme.test" {
		t.Fatalf("link %q, want one to %s", links[0], path)
	}
	return u.Query().Get("token")
}

func TestVerifyEmailLink(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
	if ok, err := e.Service.EmailVerified(ctx, u.ID); err != nil || ok {
		t.Fatalf("new account verified = %v, %v", ok, err)
	}
	if err := e.flow.SendVerification(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	m := e.deliver(t)
	if m.To != "ann@example.com" || !strings.Contains(m.Subject, "Confirm your email") {
		t.Fatalf("message to %q: %q", m.To, m.Subject)
	}
	tok := token(t, m, "/verify-email")
	if err := e.flow.VerifyEmail(ctx, tok+"x"); !errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("forged link: %v", err)
	}
	if err := e.flow.VerifyEmail(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.Service.EmailVerified(ctx, u.ID); !ok {
		t.Fatal("not verified after following the link")
	}
	if err := e.flow.VerifyEmail(ctx, tok); !errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("reused link: %v", err)
	}
}

func TestPasswordResetLink(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
	cookie, _, err := e.Service.StartSession(ctx, u.ID, false, "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.flow.RequestPasswordReset(ctx, "ANN@example.com"); err != nil {
		t.Fatal(err)
	}
	m := e.deliver(t)
	if !strings.Contains(m.Text, "30 minutes") {
		t.Fatalf("text %q", m.Text)
	}
	tok := token(t, m, "/reset-password")

	// A password the policy refuses leaves the link usable.
	if err := e.flow.ResetPassword(ctx, tok, "short"); err == nil || errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("weak password: %v", err)
	}
	e.Clock.Advance(time.Second)
	if err := e.flow.ResetPassword(ctx, tok, "a brand new long passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := e.flow.ResetPassword(ctx, tok, "yet another long passphrase"); !errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("reused link: %v", err)
	}
	if _, _, err := e.Service.Session(ctx, cookie); err == nil {
		t.Fatal("a session from before the reset still works")
	}
	if _, err := e.Service.CheckPassword(ctx, "ann@example.com", "a brand new long passphrase", "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	notice := e.deliver(t)
	if !strings.Contains(notice.Text, "password of your account was reset") {
		t.Fatalf("notice %q", notice.Text)
	}

	// Expired: refused after 30 minutes.
	if err := e.flow.RequestPasswordReset(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	tok = token(t, e.deliver(t), "/reset-password")
	e.Clock.Advance(identity.ResetLinkTTL)
	if err := e.flow.ResetPassword(ctx, tok, "a third long passphrase here"); !errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("expired link: %v", err)
	}
}

// TestPasswordResetUnknownAddress: nothing is sent and the caller gets the
// same answer as for a known address.
func TestPasswordResetUnknownAddress(t *testing.T) {
	e := newMailEnv(t)
	for _, addr := range []string{"nobody@example.com", "not an address"} {
		if err := e.flow.RequestPasswordReset(t.Context(), addr); err != nil {
			t.Fatalf("%q: %v", addr, err)
		}
	}
	// The requests are queued like any other; handling them sends nothing.
	if n, err := e.out.RunOnce(t.Context()); err != nil || n != 2 {
		t.Fatalf("handled %d reset requests (%v), want 2", n, err)
	}
	if n, err := e.out.RunOnce(t.Context()); err != nil || n != 0 || !e.smtp.None() {
		t.Fatalf("%d messages queued for unknown addresses (%v)", n, err)
	}
}

func TestEmailChangeLink(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
	e.CreateUser(t, "taken@example.com", "correct horse battery staple")
	if err := e.flow.RequestEmailChange(ctx, u.ID, "wrong password", "new@example.com", "192.0.2.1"); err == nil {
		t.Fatal("change without the right password accepted")
	}
	if err := e.flow.RequestEmailChange(ctx, u.ID, "correct horse battery staple", "taken@example.com", "192.0.2.1"); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("taken address: %v", err)
	}
	if err := e.flow.RequestEmailChange(ctx, u.ID, "correct horse battery staple", "New@Example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	got := map[string]emailtest.Received{}
	for range 2 {
		m := e.deliver(t)
		got[m.To] = m
	}
	confirm, notice := got["new@example.com"], got["ann@example.com"]
	if !strings.Contains(notice.Text, "new@example.com") || len(notice.Links()) != 0 {
		t.Fatalf("notice to the old address: %q", notice.Text)
	}
	tok := token(t, confirm, "/confirm-email")
	if err := e.flow.ConfirmEmailChange(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := e.flow.ConfirmEmailChange(ctx, tok); !errors.Is(err, identity.ErrInvalidLink) {
		t.Fatalf("reused link: %v", err)
	}
	now, err := e.Service.UserByID(ctx, u.ID)
	if err != nil || now.Email != "new@example.com" {
		t.Fatalf("email now %q (%v)", now.Email, err)
	}
	if ok, _ := e.Service.EmailVerified(ctx, u.ID); !ok {
		t.Fatal("confirmed address not verified")
	}
	changed := e.deliver(t)
	if changed.To != "ann@example.com" || !strings.Contains(changed.Text, "changed to new@example.com") {
		t.Fatalf("change notice to %q: %q", changed.To, changed.Text)
	}
}

func TestNewDeviceNotice(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
	if err := e.flow.RememberDevice(ctx, u.ID, "firefox|192.0.2.0/24", "Firefox from 192.0.2.7", false); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.flow.RememberDevice(ctx, u.ID, "firefox|192.0.2.0/24", "Firefox from 192.0.2.7", true); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := e.out.RunOnce(ctx); n != 0 {
		t.Fatalf("%d notices for a known device", n)
	}
	if err := e.flow.RememberDevice(ctx, u.ID, "chrome|198.51.100.0/24", "Chrome from 198.51.100.9", true); err != nil {
		t.Fatal(err)
	}
	m := e.deliver(t)
	if !strings.Contains(m.Text, "New sign-in") || !strings.Contains(m.Text, "Chrome from 198.51.100.9") {
		t.Fatalf("notice %q", m.Text)
	}
}

func TestPATCreatedNotice(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	u := e.CreateUser(t, "ann@example.com", "correct horse battery staple")
	p := &store.PAT{ID: "p1", UserID: u.ID, Description: "deploy script", Hash: "h", Scopes: []string{"profile"}, CreatedAt: e.Clock.Now()}
	if err := e.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.CreatePAT(ctx, p); err != nil {
			return err
		}
		return e.flow.PATCreated(ctx, tx, p)
	}); err != nil {
		t.Fatal(err)
	}
	m := e.deliver(t)
	if !strings.Contains(m.Text, `("deploy script") was created`) || !strings.Contains(m.Text, "Scopes: profile") {
		t.Fatalf("notice %q", m.Text)
	}
}

package email_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/email/emailtest"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backend"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	st     *sqlstore.Store
	clock  *clock
	out    *outbox.Outbox
	mailer *email.Mailer
}

func newEnv(t *testing.T, sender email.Sender) *env {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out, err := outbox.New(st, c.Now, rand.Reader, log, nil, outbox.Options{BaseDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	brand := email.Brand{SiteName: "Acme Login", SupportContact: "help@acme.test", AccentColor: "#aa0000"}
	m := email.NewMailer(box, out, sender, "Acme <no-reply@acme.test>", brand, c.Now, rand.Reader, log)
	return &env{st: st, clock: c, out: out, mailer: m}
}

func smtpSender(addr string) email.SMTPSender {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return email.SMTPSender{Host: host, Port: p, TLS: email.TLSNone, Timeout: 30 * time.Second}
}

func TestSMTPDeliveryBrandedAndSealed(t *testing.T) {
	srv := emailtest.Start(t, "127.0.0.1:0")
	e := newEnv(t, smtpSender(srv.Addr))
	ctx := t.Context()
	link := "https://id.acme.test/reset-password?token=SECRET123"
	if err := e.st.InTx(ctx, func(tx store.Store) error {
		return e.mailer.Send(ctx, tx, email.KindReset, "ann@example.com", map[string]any{"Link": link, "Minutes": 30})
	}); err != nil {
		t.Fatal(err)
	}
	// At rest the link is sealed: the outbox row does not give it away.
	msgs, err := e.st.ClaimOutbox(ctx, "peek", e.clock.Now(), e.clock.Now(), 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("peek: %v, %d", err, len(msgs))
	}
	if strings.Contains(msgs[0].Payload, "SECRET123") || strings.Contains(msgs[0].Payload, "ann@") {
		t.Fatal("outbox payload is not sealed")
	}
	if n, err := e.out.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	got := srv.Next(t)
	if got.To != "ann@example.com" || got.From != "no-reply@acme.test" {
		t.Fatalf("envelope %q → %q", got.From, got.To)
	}
	if got.Subject != "Reset your Acme Login password" {
		t.Fatalf("subject %q", got.Subject)
	}
	if links := got.Links(); len(links) != 1 || links[0] != link {
		t.Fatalf("links %v, want [%s]", links, link)
	}
	for _, want := range []string{"Acme Login", "help@acme.test", "#aa0000", `href="https://id.acme.test/reset-password?token=SECRET123"`} {
		if !strings.Contains(got.HTML, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	if !strings.Contains(got.Text, "30 minutes") || !strings.Contains(got.Text, "help@acme.test") {
		t.Errorf("text part: %q", got.Text)
	}
}

// TestDeadServerThenAlive: a message enqueued while the mail server is down
// is retried and delivered once it is back.
func TestDeadServerThenAlive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	e := newEnv(t, smtpSender(addr))
	ctx := t.Context()
	if err := e.mailer.Send(ctx, e.st, email.KindSecurity, "ann@example.com", map[string]any{"Event": "Two-factor authentication was turned off."}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.out.RunOnce(ctx); n != 1 {
		t.Fatalf("first attempt claimed %d", n)
	}
	srv := emailtest.Start(t, addr)
	if !srv.None() {
		t.Fatal("delivered while the server was down?")
	}
	if n, _ := e.out.RunOnce(ctx); n != 0 {
		t.Fatal("retried before the backoff ran out")
	}
	e.clock.Advance(2 * time.Minute)
	if n, _ := e.out.RunOnce(ctx); n != 1 {
		t.Fatalf("second attempt claimed %d", n)
	}
	got := srv.Next(t)
	if !strings.Contains(got.Text, "Two-factor authentication was turned off.") {
		t.Fatalf("text %q", got.Text)
	}
}

func TestFileSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	e := newEnv(t, email.FileSender{Dir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := t.Context()
	if err := e.mailer.Send(ctx, e.st, email.KindVerify, "bob@example.com", map[string]any{"Link": "https://x.test/verify-email?token=abc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.out.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d .eml files, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := emailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if links := got.Links(); len(links) != 1 || links[0] != "https://x.test/verify-email?token=abc" {
		t.Fatalf("links %v", links)
	}
}

func TestComposeRefusesHeaderInjection(t *testing.T) {
	for _, m := range []email.Message{
		{ID: "a", To: "x@example.com\r\nBcc: y@example.com", Subject: "s", Text: "t"},
		{ID: "b", To: "x@example.com", Subject: "s\nBcc: y@example.com", Text: "t"},
	} {
		if _, err := email.Compose("a@example.com", m, time.Now()); err == nil {
			t.Errorf("message %s with a line break in a header was composed", m.ID)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	e := newEnv(t, email.FileSender{Dir: t.TempDir()})
	m, err := e.mailer.Render(email.KindEmailChangeConfirm, "x@example.com", map[string]any{"Link": "https://x.test/c?t=1", "NewEmail": `<b>"evil"</b>@example.com`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<b>") {
		t.Fatal("HTML part does not escape data")
	}
	if _, err := e.mailer.Render("nope", "x@example.com", nil); err == nil {
		t.Fatal("unknown template rendered")
	}
}

// TestSMTPTLSModes: STARTTLS and implicit TLS, with the server's certificate
// verified and AUTH PLAIN.
func TestSMTPTLSModes(t *testing.T) {
	for _, mode := range []string{emailtest.STARTTLS, emailtest.Implicit} {
		t.Run(mode, func(t *testing.T) {
			srv := emailtest.StartTLS(t, mode, "mailer", "s3cret")
			s := smtpSender(srv.Addr)
			s.TLS = mode
			s.Username, s.Password = "mailer", "s3cret"
			s.TLSConfig = &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			m := email.Message{ID: "m1", To: "ann@example.com", Subject: "Hi", Text: "hello"}
			if err := s.Send(t.Context(), "no-reply@acme.test", m, time.Now()); err != nil {
				t.Fatal(err)
			}
			got := srv.Next(t)
			if got.AuthUser != "mailer" || got.Text != "hello" {
				t.Fatalf("received %+v", got)
			}
			// Without the CA the certificate is refused, before any password is sent.
			s.TLSConfig = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			if err := s.Send(t.Context(), "no-reply@acme.test", m, time.Now()); err == nil {
				t.Fatal("an untrusted certificate was accepted")
			}
			// A wrong password is a permanent refusal (5xx).
			s.TLSConfig = &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			s.Password = "wrong"
			if err := s.Send(t.Context(), "no-reply@acme.test", m, time.Now()); !errors.Is(err, email.ErrRejected) {
				t.Fatalf("wrong password: %v, want ErrRejected", err)
			}
		})
	}
}

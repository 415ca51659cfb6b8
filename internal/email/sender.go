// Package email sends Gatehouse's messages to people: account links
// (verification, password reset, email change) and security notices. A
// message is rendered from templates with the operator's branding, sealed
// (it may carry a single-use link) and enqueued in the outbox inside the
// transaction of the change it reports; the outbox worker then hands it to a
// Sender, off the request path, retrying while the mail server is down.
//
// Two senders exist: SMTP (net/smtp, with STARTTLS or implicit TLS) for
// production, and a directory of .eml files for development, the default,
// so a fresh install needs no mail server.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Message is one rendered email.
type Message struct {
	ID      string `json:"id"` // unique; becomes the Message-ID and the file name
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Sender delivers a rendered message. An error is retried by the outbox
// unless wrapped with outbox.Permanent.
type Sender interface {
	Send(ctx context.Context, from string, m Message, at time.Time) error
}

// FileSender writes each message as an .eml file into Dir and logs its path:
// the development default, so links can be followed without a mail server.
type FileSender struct {
	Dir string
	Log *slog.Logger
}

// Send implements Sender. The file is written under a temporary name and
// renamed, so a reader never sees half a message.
func (f FileSender) Send(_ context.Context, from string, m Message, at time.Time) error {
	raw, err := Compose(from, m, at)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	name := filepath.Join(f.Dir, at.UTC().Format("20060102T150405Z")+"-"+safeName(m.ID)+".eml")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	f.Log.Info("email written to file (no SMTP server configured)", "path", name, "to", m.To, "subject", m.Subject)
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// TLS modes of SMTPSender.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
)

// SMTPSender delivers through an SMTP server.
type SMTPSender struct {
	Host     string
	Port     int
	TLS      string // none | starttls | implicit
	Username string // "" = no authentication
	Password string
	// TLSConfig overrides the default (verify Host); tests use it.
	TLSConfig *tls.Config
	// Timeout bounds one whole delivery (default 30s).
	Timeout time.Duration
}

// Send implements Sender.
func (s SMTPSender) Send(ctx context.Context, from string, m Message, at time.Time) error {
	raw, err := Compose(from, m, at)
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("email: smtp dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // net/smtp takes no context; the deadline bounds every step
	}
	tlsCfg := s.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}
	if s.TLS == TLSImplicit {
		conn = tls.Client(conn, tlsCfg)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return fmt.Errorf("email: smtp greeting: %w", err)
	}
	defer c.Close()
	if s.TLS == TLSStartTLS {
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("email: smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return permanentIf5xx(fmt.Errorf("email: smtp auth: %w", err))
		}
	}
	if err := c.Mail(addrOnly(from)); err != nil {
		return permanentIf5xx(fmt.Errorf("email: smtp MAIL FROM: %w", err))
	}
	if err := c.Rcpt(addrOnly(m.To)); err != nil {
		return permanentIf5xx(fmt.Errorf("email: smtp RCPT TO: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return permanentIf5xx(fmt.Errorf("email: smtp DATA: %w", err))
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("email: smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return permanentIf5xx(fmt.Errorf("email: smtp end of data: %w", err))
	}
	return c.Quit()
}

// ErrRejected wraps a permanent (5xx) SMTP answer: retrying the same
// message cannot succeed.
var ErrRejected = errors.New("email: rejected by the mail server")

func permanentIf5xx(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err
}

func addrOnly(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// Compose renders m as an RFC 5322 message: multipart/alternative with the
// plain-text part first and the HTML part last ("the last part is the
// preferred one", RFC 2046 §5.1.4), both quoted-printable.
func Compose(from string, m Message, at time.Time) ([]byte, error) {
	for _, h := range []string{from, m.To, m.Subject} {
		if strings.ContainsAny(h, "\r\n") {
			return nil, errors.New("email: header value contains a line break")
		}
	}
	boundary := "gh-" + safeName(m.ID)
	domain := "gatehouse.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", m.To)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", at.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+safeName(m.ID)+"@"+domain+">")
	hdr("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	part := func(ctype, body string) error {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ctype)
		w := quotedprintable.NewWriter(&b)
		if _, err := io.WriteString(w, strings.ReplaceAll(body, "\n", "\r\n")); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		b.WriteString("\r\n")
		return nil
	}
	if err := part("text/plain", m.Text); err != nil {
		return nil, err
	}
	if m.HTML != "" {
		if err := part("text/html", m.HTML); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

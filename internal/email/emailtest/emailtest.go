// Package emailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests, and reads what it received.
package emailtest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From, To string
	Subject  string
	Text     string // the text/plain part, decoded
	HTML     string // the text/html part, decoded
	Raw      []byte
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the URLs in the plain-text part, in order.
func (r Received) Links() []string { return linkRE.FindAllString(r.Text, -1) }

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port
	srv  *smtp.Server
	ch   chan Received
}

// Start listens on addr ("127.0.0.1:0" for any free port) until the test ends.
func Start(t testing.TB, addr string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), ch: make(chan Received, 100)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Next waits (up to a generous deadline) for the next received message.
func (s *Server) Next(t testing.TB) Received {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(time.Minute):
		t.Fatal("no message received within a minute")
		return Received{}
	}
}

// None reports whether nothing is waiting.
func (s *Server) None() bool { return len(s.ch) == 0 }

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s        *Server
	from, to string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = to; return nil }
func (x *session) Reset()                                      {}
func (x *session) Logout() error                               { return nil }

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := Parse(raw)
	if err != nil {
		return err
	}
	rec.From, rec.To = x.from, x.to
	x.s.ch <- rec
	return nil
}

// Parse decodes a message as Gatehouse composes it (multipart/alternative,
// quoted-printable parts).
func Parse(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Received{}, err
	}
	rec := Received{Subject: subj, Raw: raw}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return Received{}, err
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Received{}, err
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			return Received{}, err
		}
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			rec.Text = text
		case strings.HasPrefix(ct, "text/html"):
			rec.HTML = text
		}
	}
	return rec, nil
}

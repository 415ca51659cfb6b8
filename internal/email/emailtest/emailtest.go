// Package emailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests, and reads what it received.
package emailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	AuthUser string // the SMTP AUTH user name, "" without AUTH
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
	// RootCAs trusts the server's certificate (TLS servers only).
	RootCAs  *x509.CertPool
	srv      *smtp.Server
	ch       chan Received
	user, pw string // AUTH PLAIN credentials; "" = no AUTH offered
}

// TLS modes of StartTLS.
const (
	STARTTLS = "starttls" // plain connection upgraded by STARTTLS
	Implicit = "implicit" // TLS from the first byte (port 465 style)
)

// StartTLS is Start with a self-signed certificate for 127.0.0.1 and AUTH
// PLAIN with user and password.
func StartTLS(t testing.TB, mode, user, password string) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	var err error
	if mode == Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), RootCAs: pool, ch: make(chan Received, 100), user: user, pw: password}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests do
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	if mode != Implicit {
		s.srv.TLSConfig = cfg // advertises STARTTLS
	}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
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
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests do
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
	s              *Server
	from, to, user string
}

// AuthMechanisms implements smtp.AuthSession: PLAIN when the server has
// credentials.
func (x *session) AuthMechanisms() []string {
	if x.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth implements smtp.AuthSession.
func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pw string) error {
		if user != x.s.user || pw != x.s.pw {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "invalid credentials"}
		}
		x.user = user
		return nil
	}), nil
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
	if x.s.user != "" && x.user == "" {
		return errors.New("authentication required")
	}
	rec.From, rec.To, rec.AuthUser = x.from, x.to, x.user
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

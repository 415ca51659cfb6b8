package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
)

// Email holds the outgoing-mail settings. With no smtp_host, messages are
// written as .eml files to Dir (development: nothing to set up).
type Email struct {
	SMTPHost     string
	SMTPPort     int
	SMTPTLS      string // none | starttls | implicit
	SMTPUsername string
	SMTPPassword string // environment only
	From         string
	// Dir receives .eml files when SMTPHost is empty; "" derives
	// <database dir>/mail (SQLite) or ./mail.
	Dir string
}

// emailSettings are the rows of the settings table for outgoing mail.
func emailSettings() []setting {
	s := func(p func(*Email) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(&c.Email) = v; return nil }
	}
	return []setting{
		{"smtp_host", "", "SMTP server for outgoing email; empty: write each message as an .eml file to email_dir and log its path (development)", true, s(func(e *Email) *string { return &e.SMTPHost })},
		{"smtp_port", "587", "SMTP server port (587 submission with starttls, 465 implicit TLS)", true, func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return errors.New("want a port number")
			}
			c.Email.SMTPPort = n
			return nil
		}},
		{"smtp_tls", "starttls", "none | starttls | implicit; none sends the password and mail in clear text (only for a relay on the same host)", true, s(func(e *Email) *string { return &e.SMTPTLS })},
		{"smtp_username", "", "SMTP AUTH PLAIN user name; empty: no authentication", true, s(func(e *Email) *string { return &e.SMTPUsername })},
		{"smtp_password", "", "SMTP AUTH password (environment only: GATEHOUSE_SMTP_PASSWORD)", false, s(func(e *Email) *string { return &e.SMTPPassword })},
		{"email_from", "", "From address of outgoing email, e.g. \"Acme <no-reply@acme.example>\"; empty: <site_name> <no-reply@<issuer host>>", true, s(func(e *Email) *string { return &e.From })},
		{"email_dir", "", "directory for .eml files when smtp_host is empty; default: mail/ beside the SQLite database", true, s(func(e *Email) *string { return &e.Dir })},
	}
}

// deriveEmail fills the email defaults that depend on other settings.
func (c *Config) deriveEmail() {
	if c.Email.Dir == "" {
		base := "."
		if !c.IsPostgres() {
			base = filepath.Dir(c.Database)
		}
		c.Email.Dir = filepath.Join(base, "mail")
	}
	if c.Email.From == "" {
		host := c.Issuer
		if i := strings.Index(host, "://"); i >= 0 {
			host = host[i+3:]
		}
		if i := strings.IndexAny(host, ":/"); i >= 0 {
			host = host[:i]
		}
		// An address needs a domain: a bare IP (the development issuer)
		// or a single label is no place to reply to.
		if host == "" || !strings.Contains(host, ".") || net.ParseIP(host) != nil {
			host = "localhost.localdomain"
		}
		c.Email.From = (&mail.Address{Name: c.SiteName, Address: "no-reply@" + host}).String()
	}
}

func (c *Config) validateEmail() []error {
	var errs []error
	switch c.Email.SMTPTLS {
	case "none", "starttls", "implicit":
	default:
		errs = append(errs, fmt.Errorf("smtp_tls %q: must be one of none, starttls, implicit", c.Email.SMTPTLS))
	}
	if _, err := mail.ParseAddress(c.Email.From); err != nil {
		errs = append(errs, fmt.Errorf("email_from %q: %v", c.Email.From, err))
	}
	if strings.ContainsAny(c.Email.SMTPHost, " /\r\n") {
		errs = append(errs, fmt.Errorf("smtp_host %q: want a host name or address", c.Email.SMTPHost))
	}
	return errs
}

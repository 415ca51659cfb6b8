package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestEmailDefaults(t *testing.T) {
	for _, c := range []struct {
		name     string
		env      map[string]string
		from     string
		dir      string
		problems string
	}{
		{"development", map[string]string{"GATEHOUSE_DATABASE": "/data/g.db"}, `"Gatehouse" <no-reply@localhost.localdomain>`, "/data/mail", ""},
		{"issuer host", map[string]string{"GATEHOUSE_DATABASE": "/data/g.db", "GATEHOUSE_ISSUER": "https://id.acme.example", "GATEHOUSE_SITE_NAME": "Acme"},
			`"Acme" <no-reply@id.acme.example>`, "/data/mail", ""},
		{"explicit", map[string]string{"GATEHOUSE_DATABASE": "/data/g.db", "GATEHOUSE_EMAIL_FROM": "Acme <a@acme.example>", "GATEHOUSE_EMAIL_DIR": "/tmp/m"},
			"Acme <a@acme.example>", "/tmp/m", ""},
		{"bad tls and from", map[string]string{"GATEHOUSE_DATABASE": "/data/g.db", "GATEHOUSE_SMTP_TLS": "ssl", "GATEHOUSE_EMAIL_FROM": "not an address"},
			"", "", "smtp_tls"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(nil, func(k string) string { return c.env[k] })
			if c.problems != "" {
				if err == nil || !strings.Contains(err.Error(), c.problems) || !strings.Contains(err.Error(), "email_from") {
					t.Fatalf("err = %v, want smtp_tls and email_from named", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Email.From != c.from || cfg.Email.Dir != filepath.FromSlash(c.dir) {
				t.Fatalf("from %q dir %q, want %q %q", cfg.Email.From, cfg.Email.Dir, c.from, c.dir)
			}
		})
	}
}

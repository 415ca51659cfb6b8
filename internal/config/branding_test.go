package config

import (
	"strings"
	"testing"
)

func TestBrandingDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SiteName != "Gatehouse" || !c.SignupOpen() || c.LogoURL != "" || c.AccentColor != "" || c.SupportContact != "" {
		t.Fatalf("branding defaults = %q %v %q %q %q", c.SiteName, c.SignupOpen(), c.LogoURL, c.AccentColor, c.SupportContact)
	}
}

func TestBrandingSettingsAccepted(t *testing.T) {
	c, err := load(t, []string{"--site-name", "Example Corp", "--signup", "closed", "--accent-color", "#0b5d1e",
		"--logo-url", "https://cdn.example.com/logo.svg", "--support-contact", "help@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SiteName != "Example Corp" || c.SignupOpen() || c.AccentColor != "#0b5d1e" {
		t.Fatalf("branding = %+v", c)
	}
	if o, _ := LogoOrigin(c.LogoURL); o != "https://cdn.example.com" {
		t.Fatalf("logo origin = %q", o)
	}
	if h, _ := SupportHref(c.SupportContact); h != "mailto:help@example.com" {
		t.Fatalf("support href = %q", h)
	}
	if o, err := LogoOrigin("/static/logo.png"); err != nil || o != "" {
		t.Fatalf("same-origin logo: %q %v", o, err)
	}
	if h, err := SupportHref("https://help.example.com/gatehouse"); err != nil || h != "https://help.example.com/gatehouse" {
		t.Fatalf("support URL: %q %v", h, err)
	}
}

// Every bad branding value is refused, each with its own message, and all
// of them at once.
func TestBrandingSettingsRefused(t *testing.T) {
	_, err := load(t, nil, map[string]string{
		"GATEHOUSE_SITE_NAME":       strings.Repeat("x", 61),
		"GATEHOUSE_SIGNUP":          "maybe",
		"GATEHOUSE_ACCENT_COLOR":    "#ffcc00", // 1.6:1 on white: links would be unreadable
		"GATEHOUSE_LOGO_URL":        "http://cdn.example.com/logo.png",
		"GATEHOUSE_SUPPORT_CONTACT": "javascript:alert(1)",
	})
	if err == nil {
		t.Fatal("bad branding accepted")
	}
	for _, want := range []string{"site_name", `signup "maybe"`, "accent_color #ffcc00 has 1.", "logo_url", "support_contact"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, bad := range []map[string]string{
		{"GATEHOUSE_ACCENT_COLOR": "blue"},
		{"GATEHOUSE_LOGO_URL": "//evil.example/logo.png"},
		{"GATEHOUSE_LOGO_URL": `/logo.png" onerror="x`},
		{"GATEHOUSE_SUPPORT_CONTACT": "Help <help@example.com>"},
		{"GATEHOUSE_SITE_NAME": "bad\x07name"},
	} {
		if _, err := load(t, nil, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

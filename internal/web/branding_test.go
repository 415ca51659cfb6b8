package web_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/web"
)

func TestBrandingReachesPagesAndTheme(t *testing.T) {
	s := newTestServer(t, web.Config{
		SiteName: "Example Corp", LogoURL: "/static/logo.svg", AccentColor: "#0b5d1e",
		SupportHref: "mailto:help@example.com", SupportLabel: "help@example.com", DisableSignup: true,
	})
	b := s.browser(t)
	p := b.get("/login")
	expect(t, p, http.StatusOK, "")
	contains(t, p, "<title>Sign in · Example Corp</title>", `href="/static/theme.css"`, `src="/static/logo.svg"`,
		`<a href="mailto:help@example.com">help@example.com</a>`)
	if contains := b.get("/signup"); contains.status == http.StatusOK {
		t.Fatal("sign-up page served although sign-up is closed")
	}
	css := b.get("/static/theme.css")
	expect(t, css, http.StatusOK, "")
	if ct := css.header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Fatalf("theme.css Content-Type %q", ct)
	}
	contains(t, css, "--accent: #0b5d1e;", "--accent-fg: #ffffff;")
}

func TestAccentColourRefusedByPages(t *testing.T) {
	s := newTestServer(t, web.Config{})
	if _, err := web.New(web.Config{Issuer: s.URL, AccentColor: "green"}, s.env.Service, s.env.Hasher, s.env.Clock.Now, nil); err == nil {
		t.Fatal("web.New accepted a malformed accent colour")
	}
	contains(t, s.browser(t).get("/static/theme.css"), "no accent_color set")
}

package web_test

import (
	"context"
	"crypto/rand"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/web"
)

var newTokenRe = regexp.MustCompile(`id="new_token" class="token" readonly[^>]*>(gthp_[0-9A-Za-z]{49})</textarea>`)

func tokenServer(t *testing.T) (*testServer, *pat.Service) {
	t.Helper()
	s := newTestServer(t, web.Config{})
	pats, err := pat.New(s.env.Store, s.env.Hasher, s.env.Clock.Now, rand.Reader, nil, pat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	web.NewTokenPages(s.h, pats).Routes(s.Server.Config.Handler.(*http.ServeMux))
	return s, pats
}

func TestTokenPages(t *testing.T) {
	s, pats := tokenServer(t)
	const email, password = "tokens@example.com", "a long enough passphrase 9"
	u := s.env.CreateUser(t, email, password)
	b := s.browser(t)

	expect(t, b.get("/account/tokens"), http.StatusSeeOther, "/login?return_to=%2Faccount%2Ftokens")
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")
	p := b.get("/account/tokens")
	expect(t, p, http.StatusOK, "")
	contains(t, p, `id="no-tokens"`, `name="scope" type="checkbox" value="profile:read" checked`, `autocomplete="current-password"`)
	if strings.Contains(p.body, `name="otp"`) {
		t.Fatal("OTP field shown without two-factor")
	}

	// Wrong password: nothing created.
	form := url.Values{"description": {"laptop backup"}, "scope": {"profile:read"}, "expires_days": {"30"}, "password": {"wrong"}}
	p = b.submit("/account/tokens", "/account/tokens", form)
	expect(t, p, http.StatusUnauthorized, "")
	contains(t, p, "That password is not right.", `value="laptop backup"`)

	// Right password.
	form.Set("password", password)
	p = b.submit("/account/tokens", "/account/tokens", form)
	expect(t, p, http.StatusOK, "")
	if p.header.Get("Cache-Control") != "no-store" {
		t.Error("token page is cacheable")
	}
	m := newTokenRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no token shown:\n%s", p.body)
	}
	token := html.UnescapeString(m[1])
	got, err := pats.Validate(context.Background(), token)
	if err != nil || strings.Join(got.Scopes, " ") != "profile:read" || got.ExpiresAt == nil ||
		got.ExpiresAt.Sub(got.CreatedAt) != 30*24*time.Hour || got.UserID != u.ID {
		t.Fatalf("created %+v %v", got, err)
	}
	// Shown once: a reload lists it without the secret.
	p = b.get("/account/tokens")
	contains(t, p, "laptop backup", "profile:read")
	if strings.Contains(p.body, token) {
		t.Fatal("secret shown again")
	}

	// Validation errors keep the form.
	p = b.submit("/account/tokens", "/account/tokens", url.Values{"description": {"  "}, "scope": {"profile:read"}, "password": {password}})
	expect(t, p, http.StatusBadRequest, "")
	contains(t, p, `id="description-error"`)
	p = b.submit("/account/tokens", "/account/tokens", url.Values{"description": {"no scopes"}, "password": {password}})
	expect(t, p, http.StatusBadRequest, "")
	contains(t, p, `id="scope-error"`)

	// CSRF.
	expect(t, b.post("/account/tokens", url.Values{"description": {"x"}, "password": {password}}), http.StatusForbidden, "")

	// Revoke.
	list, _ := pats.List(context.Background(), u.ID)
	p = b.submit("/account/tokens", "/account/tokens/revoke", url.Values{"id": {list[0].ID}})
	expect(t, p, http.StatusSeeOther, "/account/tokens?msg=revoked")
	if _, err := pats.Validate(context.Background(), token); !errors.Is(err, pat.ErrInvalidToken) {
		t.Fatalf("revoked token: %v", err)
	}
	contains(t, b.get("/account/tokens?msg=revoked"), "The token was revoked", `id="no-tokens"`)
	expect(t, b.submit("/account/tokens", "/account/tokens/revoke", url.Values{"id": {list[0].ID + "x"}}), http.StatusNotFound, "")

	// With two-factor on, the code is required too.
	secret, recovery := s.env.EnableTOTP(t, u.ID)
	p = b.get("/account/tokens")
	contains(t, p, `name="otp"`, `autocomplete="one-time-code"`)
	form = url.Values{"description": {"ci"}, "scope": {"profile:read", "tokens:read"}, "password": {password}}
	p = b.submit("/account/tokens", "/account/tokens", form)
	expect(t, p, http.StatusUnauthorized, "")
	contains(t, p, `id="token-otp-error"`)
	form.Set("otp", recovery[0]) // recovery codes are for signing in only
	expect(t, b.submit("/account/tokens", "/account/tokens", form), http.StatusUnauthorized, "")
	code, _ := identity.TOTPCode(secret, s.env.Clock.Now())
	form.Set("otp", code)
	p = b.submit("/account/tokens", "/account/tokens", form)
	expect(t, p, http.StatusOK, "")
	if newTokenRe.FindStringSubmatch(p.body) == nil {
		t.Fatalf("no token:\n%s", p.body)
	}
	// The same code again is refused (each code once).
	form.Set("description", "again")
	expect(t, b.submit("/account/tokens", "/account/tokens", form), http.StatusUnauthorized, "")
}

package oauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// profileOf calls GET /v0/me through an oauth2 client and returns the email.
func profileOf(t *testing.T, e *env, ts oauth2.TokenSource) (int, string) {
	t.Helper()
	c := oauth2.NewClient(e.octx(), ts)
	res, err := c.Get(e.issuer + "/v0/me")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct {
		Email string `json:"email"`
	}
	json.NewDecoder(res.Body).Decode(&p)
	return res.StatusCode, p.Email
}

func TestCodeFlowConfidentialPKCEAndRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)

		tok := e.codeFlow(b, a)
		if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}
		if !strings.HasPrefix(tok.AccessToken, "gtha_") || !strings.HasPrefix(tok.RefreshToken, "gthr_") {
			t.Fatalf("token prefixes: %q %q", tok.AccessToken, tok.RefreshToken)
		}
		if got := tok.Extra("scope"); got != "profile:read tokens:read" {
			t.Errorf("scope %v", got)
		}
		if ei, _ := tok.Extra("expires_in").(float64); ei != 3600 {
			t.Errorf("expires_in %v, want 3600", tok.Extra("expires_in"))
		}
		if st, email := profileOf(t, e, oauth2.StaticTokenSource(tok)); st != 200 || email != alice.Email {
			t.Fatalf("GET /v0/me: %d %q", st, email)
		}

		// Refresh: rotated, the new pair works.
		stale := &oauth2.Token{RefreshToken: tok.RefreshToken}
		tok2, err := a.conf.TokenSource(e.octx(), stale).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh did not rotate: %+v", tok2)
		}
		if st, _ := profileOf(t, e, oauth2.StaticTokenSource(tok2)); st != 200 {
			t.Fatalf("refreshed token: %d", st)
		}

		// Reuse of the rotated refresh token: invalid_grant, family revoked.
		_, err = a.conf.TokenSource(e.octx(), stale).Token()
		assertRetrieveError(t, err, 400, "invalid_grant")
		for _, at := range []string{tok.AccessToken, tok2.AccessToken} {
			if r := e.me(at); r.status != http.StatusUnauthorized {
				t.Errorf("access token of a revoked family: %d", r.status)
			}
		}
		_, err = a.conf.TokenSource(e.octx(), &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
		assertRetrieveError(t, err, 400, "invalid_grant")
	})
}

func assertRetrieveError(t *testing.T, err error, status int, code string) {
	t.Helper()
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("want *oauth2.RetrieveError %s, got %T %v", code, err, err)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %q (%s), want %d %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

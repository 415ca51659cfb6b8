package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/bearer"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestJWTAtResourceServers: a JWT access token Gatehouse issued passes the
// gateway check (which sees revocation, since it asks the token's record)
// and the public middleware's local validation against the real JWKS
// (which, offline, does not — the documented trade-off).
func TestJWTAtResourceServers(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{
		"GATEHOUSE_DATABASE":             filepath.Join(t.TempDir(), "gatehouse.db"),
		"GATEHOUSE_MASTER_KEY":           base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_ISSUER":               "http://127.0.0.1",
		"GATEHOUSE_ACCESS_TOKEN_FORMAT":  "jwt",
		"GATEHOUSE_SIGNING_ALGORITHMS":   "ES256",
		"GATEHOUSE_JWT_ACCESS_TOKEN_ALG": "ES256",
		"GATEHOUSE_ARGON2_MEMORY_KIB":    "8192",
		"GATEHOUSE_ARGON2_TIME":          "1",
	}
	a, srv := openAppWith(t, vars, func(cfg *config.Config) {
		cfg.Sections.Routes = []config.RouteSpec{{Method: "GET", Path: "/v0/me/cards", Scopes: []string{"profile:read"}}}
	})
	u, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "ada@example.com", Name: "Ada", Password: edgePassword})
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := a.OAuth.CreateClient(ctx, oauth.NewClient{
		Name: "Worker", OwnerID: u.ID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: srv.URL + oauth.PathToken, Scopes: []string{"profile:read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("not a JWT: %q", tok.AccessToken)
	}

	check := func(token string) int {
		req, _ := http.NewRequest("GET", srv.URL+gateway.CheckPath, nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/v0/me/cards")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if got := check(tok.AccessToken); got != http.StatusOK {
		t.Fatalf("gateway check with a JWT access token: %d", got)
	}

	var introspections atomic.Int32
	v, err := bearer.NewJWTValidator(bearer.JWTOptions{
		Issuer: "http://127.0.0.1", Audience: "http://127.0.0.1", JWKSURL: srv.URL + "/oauth/jwks",
		Fallback: bearer.ValidatorFunc(func(context.Context, string) (*bearer.Principal, error) {
			introspections.Add(1)
			return nil, bearer.ErrInvalidToken
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Validate(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("local validation of a Gatehouse JWT: %v", err)
	}
	if p.ClientID != c.ID || p.Subject != c.ID || !p.HasScope("profile:read") || introspections.Load() != 0 {
		t.Fatalf("principal %+v, %d introspections", p, introspections.Load())
	}
	if _, err := v.Validate(ctx, "gtha_opaque"); !errors.Is(err, bearer.ErrInvalidToken) || introspections.Load() != 1 {
		t.Fatalf("opaque token: %v, %d introspections", err, introspections.Load())
	}
	other, _ := bearer.NewJWTValidator(bearer.JWTOptions{Issuer: "http://127.0.0.1", Audience: "https://cards.example.com", JWKSURL: srv.URL + "/oauth/jwks"})
	if _, err := other.Validate(ctx, tok.AccessToken); !errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatalf("token for another audience: %v", err)
	}

	req, _ := http.NewRequest("POST", srv.URL+oauth.PathRevoke, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := check(tok.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("gateway check with a revoked JWT: %d, want 401", got)
	}
	if _, err := v.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("offline validation is not expected to see revocation: %v", err)
	}
}

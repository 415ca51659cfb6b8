package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bearer"
	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

func TestSettingsRequired(t *testing.T) {
	vars := map[string]string{"GATEHOUSE_URL": "https://auth.example.com", "CLIENT_ID": "a", "CLIENT_SECRET": "s"}
	if _, err := newHandler(func(k string) string { return vars[k] }, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, missing := range []string{"GATEHOUSE_URL", "CLIENT_ID", "CLIENT_SECRET"} {
		if _, err := newHandler(func(k string) string {
			if k == missing {
				return ""
			}
			return vars[k]
		}, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("started without %s", missing)
		}
	}
}

// TestAgainstGatehouse runs the example API against a real Gatehouse (the
// whole server, on SQLite and, when GATEHOUSE_TEST_POSTGRES_URL is set,
// PostgreSQL) and checks the wire format of introspection end to end.
func TestAgainstGatehouse(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "gatehouse.db") },
	}
	if base := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); base != "" {
		backends["postgres"] = func(t *testing.T) string {
			dsn, drop, err := postgres.NewSchema(context.Background(), base, "cardsapi")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { drop() })
			return dsn
		}
	} else {
		pgtest.ReportSkipped(t)
	}
	for name, database := range backends {
		t.Run(name, func(t *testing.T) { againstGatehouse(t, database(t)) })
	}
}

func againstGatehouse(t *testing.T, database string) {
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	// The operator declares the cards API; its resource server introspects
	// with credentials of its own.
	cfgFile := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(cfgFile, []byte("apis:\n  - identifier: https://cards.example.com\n    name: Cards API\n    scopes: [profile:read]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"GATEHOUSE_DATABASE": database, "GATEHOUSE_MASTER_KEY": base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_MIGRATE": "always", "GATEHOUSE_LOG_LEVEL": "error", "GATEHOUSE_CONFIG": cfgFile,
	}
	cfg, err := config.Load(nil, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	gh, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	srv := httptest.NewServer(gh.Handler("test"))
	t.Cleanup(srv.Close)

	u, err := gh.Identity.CreateUser(ctx, identity.NewUser{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery staple 42"})
	if err != nil {
		t.Fatal(err)
	}
	newClient := func(name string) (string, string) {
		c, secret, err := gh.OAuth.CreateClient(ctx, oauth.NewClient{
			Name: name, OwnerID: u.ID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile:read"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID, secret
	}
	appID, appSecret := newClient("Budget app")
	// The resource server's own credentials: introspection only.
	rs, apiSecret, err := gh.OAuth.CreateClient(ctx, oauth.NewClient{Name: "Cards API", OwnerID: u.ID, ResourceServer: "https://cards.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	apiID := rs.ID

	res, err := http.PostForm(srv.URL+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "scope": {"profile:read"},
		"client_id": {appID}, "client_secret": {appSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if !strings.HasPrefix(tok.AccessToken, "gtha_") {
		t.Fatalf("token endpoint: %d", res.StatusCode)
	}
	pt, err := gh.PATs.Create(ctx, pat.CreateRequest{UserID: u.ID, Description: "script", Scopes: []string{"profile:read"}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := gh.APIKeys.Create(ctx, apikey.Actor{UserID: u.ID}, apikey.CreateRequest{ClientID: appID, Name: "ci", Scopes: []string{"profile:read"}})
	if err != nil {
		t.Fatal(err)
	}

	api := map[string]string{"GATEHOUSE_URL": srv.URL, "CLIENT_ID": apiID, "CLIENT_SECRET": apiSecret, "ADDR": "127.0.0.1:0"}
	runCtx, stop := context.WithCancel(ctx)
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- run(runCtx, func(k string) string { return api[k] }, slog.New(slog.DiscardHandler), ready)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	base := "http://" + <-ready

	call := func(path string, header ...string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}

	const me = "/api/profiles/v1/users/me.json"
	status, _, body := call(me, "Authorization", "Bearer "+tok.AccessToken)
	var m Me
	json.Unmarshal(body, &m)
	if status != 200 || m.ID != u.ID || m.ClientID != appID || !slices.Contains(m.Scopes, "profile:read") || m.ExpiresAt == "" {
		t.Fatalf("access token on %s: %d %s", me, status, body)
	}
	status, h, body := call("/v0/me/cards", "Authorization", "Bearer "+tok.AccessToken)
	if status != 403 || !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.HasSuffix(h.Get("WWW-Authenticate"), `scope="cards:read"`) {
		t.Fatalf("access token without cards:read: %d %q %s", status, h.Get("WWW-Authenticate"), body)
	}
	if status, h, _ := call(me); status != 401 || h.Get("WWW-Authenticate") != `Bearer realm="cardsapi"` {
		t.Fatalf("no credential: %d %q", status, h.Get("WWW-Authenticate"))
	}
	if status, _, _ := call(me, "Authorization", "Bearer "+tok.AccessToken+"x"); status != 401 {
		t.Fatalf("altered token: %d", status)
	}
	// PATs and API keys go through the same introspection endpoint and
	// pass, acting for their owner.
	for _, c := range []struct{ name, header, value, clientID, kind string }{
		{"PAT", "Authorization", "Bearer " + pt.Token, "", bearer.KindPAT},
		{"API key as Bearer", "Authorization", "Bearer " + k.Secret, appID, bearer.KindAPIKey},
		{"API key in X-API-Key", "X-API-Key", k.Secret, appID, bearer.KindAPIKey},
	} {
		status, _, body := call(me, c.header, c.value)
		var m Me
		json.Unmarshal(body, &m)
		if status != 200 || m.ID != u.ID || m.ClientID != c.clientID || m.Credential != c.kind || !slices.Contains(m.Scopes, "profile:read") {
			t.Errorf("%s: %d %s", c.name, status, body)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestAPIKeyCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	vars := map[string]string{
		"GATEHOUSE_DATABASE":  filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_LOG_LEVEL": "error",
		"GATEHOUSE_CONFIG":    "",
	}
	getenv := func(k string) string { return vars[k] }
	run := func(fn func(context.Context, *Env, []string) error, args ...string) (string, error) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: getenv}
		err := fn(ctx, env, args)
		return out.String(), err
	}

	// A user and an app, straight in the database.
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &store.User{ID: "u1", Email: "owner@example.com", PasswordHash: "x", CreatedAt: now, UpdatedAt: now, CredentialsChangedAt: now}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.CreateClient(ctx, &store.Client{
		ID: "app1", Name: "App", OwnerID: u.ID, Type: store.ClientConfidential, Scopes: []string{"profile:read", "tokens:read"},
		Status: store.ClientActive, CreatedAt: now, UpdatedAt: now,
	}, nil); err != nil {
		t.Fatal(err)
	}

	out, err := run(runAPIKeyCreate, "--client", "app1", "--name", "billing worker", "--scope", "profile:read",
		"--scope", "tokens:read", "--expires-in", "90d", "--allow-cidr", "10.0.0.0/8", "--allow-cidr", "192.0.2.7", "--output", "json")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created apikey.CreatedBody
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(created.Key, "gthk_") || created.Name != "billing worker" || created.CreatedBy != "u1" ||
		strings.Join(created.AllowedCIDRs, " ") != "10.0.0.0/8 192.0.2.7/32" || created.ExpiresAt == nil ||
		created.ExpiresAt.Sub(created.CreatedAt) != 90*24*time.Hour {
		t.Fatalf("created: %s", out)
	}
	// The key works against the same database and pepper.
	svc, _ := apikeyService(a)
	if _, err := svc.Validate(ctx, created.Key, netip.MustParseAddr("10.1.1.1")); err != nil {
		t.Fatalf("validate: %v", err)
	}

	out, err = run(runAPIKeyCreate, "--client", "app1", "--name", "text", "--scope", "profile:read")
	if err != nil || !strings.Contains(out, "key:     gthk_") || !strings.Contains(out, "shown only now") {
		t.Fatalf("create text: %v %s", err, out)
	}

	for _, bad := range [][]string{
		{"--client", "app1", "--name", "x"},                                                   // no scope
		{"--client", "app1", "--name", "x", "--scope", "keys:read"},                           // not registered
		{"--client", "nope", "--name", "x", "--scope", "profile:read"},                        // no app
		{"--client", "app1", "--scope", "profile:read"},                                       // no name
		{"--client", "app1", "--name", "x", "--scope", "profile:read", "--expires-in", "-1h"}, // bad lifetime
		{"--client", "app1", "--name", "x", "--scope", "profile:read", "--allow-cidr", "10.0.0.0/40"},
	} {
		if _, err := run(runAPIKeyCreate, bad...); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}

	out, err = run(runAPIKeyList, "--client", "app1", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var items []apikey.Item
	if err := json.Unmarshal([]byte(out), &items); err != nil || len(items) != 2 || strings.Contains(out, "gthk_") {
		t.Fatalf("list: %v %s", err, out)
	}
	out, err = run(runAPIKeyList, "--client", "app1")
	if err != nil || !strings.Contains(out, "billing worker") || !strings.Contains(out, "LAST USED") {
		t.Fatalf("list text: %v %s", err, out)
	}

	if _, err := run(runAPIKeyRevoke, "--client", "app1", created.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := svc.Validate(ctx, created.Key, netip.MustParseAddr("10.1.1.1")); !errors.Is(err, apikey.ErrInvalidKey) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := run(runAPIKeyRevoke, "--client", "app1", "00000000-0000-4000-8000-000000000000"); err == nil {
		t.Fatal("revoked an unknown key")
	}
	if _, err := run(runAPIKeyRevoke, "--client", "app1"); err == nil {
		t.Fatal("revoke without an id")
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90d": 90 * 24 * time.Hour, "720h": 720 * time.Hour, "30m": 30 * time.Minute} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"0d", "-1d", "xd", "-5m", "soon"} {
		if _, err := parseLifetime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

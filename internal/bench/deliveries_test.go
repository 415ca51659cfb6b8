package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// appAdmin sets up the bench's fixtures in an in-process Gatehouse, as the
// admin CLI does in the real one.
type appAdmin struct {
	a     *app.App
	users map[string]string // email → id
}

func (d *appAdmin) CreateUser(ctx context.Context, email, password string) error {
	u, err := d.a.Identity.CreateUser(ctx, identity.NewUser{Email: email, Password: password})
	if err == nil {
		d.users[email] = u.ID
	}
	return err
}

func (d *appAdmin) CreateClient(ctx context.Context, spec ClientSpec) (ClientCreds, error) {
	c, secret, err := d.a.OAuth.CreateClient(ctx, oauth.NewClient{Name: spec.Name, OwnerID: d.users[spec.OwnerEmail],
		RedirectURIs: spec.RedirectURIs, GrantTypes: spec.GrantTypes, Scopes: spec.Scopes, ByAdmin: true})
	if err != nil {
		return ClientCreds{}, err
	}
	return ClientCreds{ID: c.ID, Secret: secret}, nil
}

// openGatehouse serves a whole Gatehouse from this process, its outbox
// worker running, webhooks allowed to loopback receivers.
func openGatehouse(t *testing.T, database string) (string, *appAdmin) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{
		"GATEHOUSE_DATABASE":             database,
		"GATEHOUSE_MIGRATE":              "always",
		"GATEHOUSE_MASTER_KEY":           base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_ISSUER":               "http://127.0.0.1",
		"GATEHOUSE_ARGON2_MEMORY_KIB":    "8192",
		"GATEHOUSE_ARGON2_TIME":          "1",
		"GATEHOUSE_WEBHOOK_DEV_LOOPBACK": "true",
	}
	cfg, err := config.Load(nil, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Outbox.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(a.Handler("test"))
	t.Cleanup(srv.Close)
	return srv.URL, &appAdmin{a: a, users: map[string]string{}}
}

// The deliveries workload registers its receiver through the portal, gets
// every queued event delivered and verified, and reports a positive rate;
// on both backends.
func TestDeliveriesWorkload(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "gatehouse.db") },
		"postgres": func(t *testing.T) string {
			dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "benchtest")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { drop() })
			return dsn
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			base, admin := openGatehouse(t, backends[name](t))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var progress bytes.Buffer
			rep, err := Run(ctx, Options{Target: base, Quick: true, Duration: 500 * time.Millisecond, Concurrency: 4,
				Workloads: []string{deliveriesName}, Progress: &progress, admin: admin})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, progress.String())
			}
			r := resultOf(t, rep, deliveriesName)
			t.Logf("%s: %d deliveries, %.0f/s, p50 %.1f ms", name, r.Ops, r.OpsPerSecond, r.P50MS)
			if r.Status != StatusOK || r.Ops == 0 || r.OpsPerSecond <= 0 || r.Errors != 0 || r.FirstError != "" {
				t.Fatalf("deliveries: %+v\n%s", r, progress.String())
			}
			if r.Ops > deliveriesQuickMax || r.P50MS <= 0 || r.P50MS > r.MaxMS {
				t.Errorf("deliveries figures out of bounds: %+v", r)
			}
		})
	}
}

package postgres_test

import (
	"database/sql"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

const envURL = pgtest.Env

// server hands out stores in throwaway schemas of the test database.
type server struct {
	url   string
	admin *sql.DB
}

func newServer(t *testing.T) *server {
	t.Helper()
	u := pgtest.URL(t)
	admin, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetMaxOpenConns(2)
	if err := admin.PingContext(t.Context()); err != nil {
		admin.Close()
		t.Fatalf("%s: %v", envURL, err)
	}
	t.Cleanup(func() { admin.Close() })
	return &server{url: u, admin: admin}
}

// schemaURL creates an empty schema for t, dropped when t ends, and returns
// the database URL with search_path set to it (pgx sends unknown URL
// parameters to the server as run-time parameters).
func (s *server) schemaURL(t *testing.T) string {
	t.Helper()
	dsn, drop, err := postgres.NewSchema(t.Context(), s.url, "gh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return dsn
}

func (s *server) open(t *testing.T, dsn string) storetest.Migratable {
	t.Helper()
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the schema's cleanup, so it runs before the DROP.
	t.Cleanup(func() { st.Close() })
	return st
}

func (s *server) openEmpty(t *testing.T) storetest.Migratable {
	return s.open(t, s.schemaURL(t))
}

func (s *server) openMigrated(t *testing.T) store.Store {
	t.Helper()
	st := s.openEmpty(t)
	if err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newServer(t).openMigrated)
}

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, newServer(t).openEmpty)
}

// Replicas starting at once must not trip over each other's migration.
func TestConcurrentMigrateUp(t *testing.T) {
	srv := newServer(t)
	dsn := srv.schemaURL(t)
	const replicas = 4
	stores := make([]storetest.Migratable, replicas)
	for i := range stores {
		stores[i] = srv.open(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i, st := range stores {
		wg.Go(func() { errs[i] = st.MigrateUp(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	current, latest, err := stores[0].SchemaVersion(t.Context())
	if err != nil || current != latest {
		t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest", current, latest, err)
	}
}

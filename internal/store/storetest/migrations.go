package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Migratable is a store whose schema is versioned.
type Migratable interface {
	store.Store
	MigrateUp(ctx context.Context) error
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
}

// RunMigrations checks schema versioning. openEmpty must return a store on a
// database with no schema at all, and arrange its cleanup.
func RunMigrations(t *testing.T, openEmpty func(t *testing.T) Migratable) {
	t.Run("migrations", func(t *testing.T) {
		ctx := t.Context()
		s := openEmpty(t)
		current, latest, err := s.SchemaVersion(ctx)
		must(t, err)
		if current != 0 || latest < 1 {
			t.Fatalf("empty database: version %d of %d, want 0 of ≥1", current, latest)
		}
		must(t, s.MigrateUp(ctx))
		current, latest2, err := s.SchemaVersion(ctx)
		must(t, err)
		if current != latest || latest2 != latest {
			t.Fatalf("after MigrateUp: version %d of %d, want %d of %d", current, latest2, latest, latest)
		}

		// A second run is a no-op: same version, data intact.
		now := time.Now()
		u := &store.User{ID: "u", Email: "u@example.com", PasswordHash: "h", CredentialsChangedAt: now, CreatedAt: now, UpdatedAt: now}
		must(t, s.CreateUser(ctx, u))
		must(t, s.MigrateUp(ctx))
		current, _, err = s.SchemaVersion(ctx)
		must(t, err)
		if current != latest {
			t.Fatalf("after second MigrateUp: version %d, want %d", current, latest)
		}
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Fatalf("user lost by second MigrateUp: %v", err)
		}
	})
}

// Package backend picks the store implementation from the configured DSN:
// a postgres:// or postgresql:// URL selects PostgreSQL, anything else is a
// SQLite file path.
package backend

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// Open opens the store named by dsn. It does not migrate: call MigrateUp.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	if IsPostgres(dsn) {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, dsn)
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

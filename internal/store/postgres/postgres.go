// Package postgres opens Gatehouse's store on PostgreSQL through pgx's
// database/sql driver. One pool serves reads and writes; single use and
// uniqueness are the database's to enforce (see package sqlstore), so any
// number of replicas can share the database.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// Pool sizing. Every request does a few short indexed statements, so a
// small pool per replica saturates a server long before connection count
// matters; keep replicas × maxConns well under max_connections (100 by
// default).
const (
	maxConns        = 16
	connMaxIdleTime = 5 * time.Minute
	// Recycling connections now and then spreads load again after a
	// failover or a pooler restart.
	connMaxLifetime = time.Hour
)

// Open connects to the database at url (postgres://…; libpq-style
// parameters such as sslmode work, and unknown ones, e.g. search_path, are
// sent as run-time parameters). It does not migrate: call MigrateUp.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	db.SetConnMaxLifetime(connMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return sqlstore.New(sqlstore.Postgres, db, nil)
}

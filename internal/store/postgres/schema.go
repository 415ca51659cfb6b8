package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
)

var schemaPrefix = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// NewSchema creates an empty schema named prefix_<random> in the database at
// base and returns base with search_path set to it, plus a function that
// drops it with everything in it. Tests and `gatehouse bench` use it to give
// each run an isolated database inside one PostgreSQL server.
func NewSchema(ctx context.Context, base, prefix string) (dsn string, drop func() error, err error) {
	if !schemaPrefix.MatchString(prefix) {
		return "", nil, fmt.Errorf("postgres: schema prefix %q must match %s", prefix, schemaPrefix)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: database URL: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	// The name is built from a checked prefix and hex digits only, so it
	// needs no quoting.
	schema := prefix + "_" + hex.EncodeToString(b[:])
	if err := execOnce(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		return execOnce(context.Background(), base, "DROP SCHEMA "+schema+" CASCADE")
	}
	return u.String(), drop, nil
}

// execOnce runs one administrative statement on a short-lived connection.
func execOnce(ctx context.Context, dsn, stmt string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

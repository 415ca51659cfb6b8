package sqlstore

import (
	"context"
	"time"
)

// MetaValue implements store.Meta. It reads through the write pool: callers
// use it once at start-up, right after InitMetaValue or a migration.
func (s *Store) MetaValue(ctx context.Context, name string) (string, error) {
	row, err := s.wq.queryRow(ctx, `SELECT value FROM meta WHERE name = ?`, name)
	if err != nil {
		return "", mapErr("meta value", err)
	}
	var v string
	if err := row.Scan(&v); err != nil {
		return "", mapErr("meta value", err)
	}
	return v, nil
}

// InitMetaValue implements store.Meta. The primary key decides: of several
// processes initialising the same name at once, exactly one insert lands and
// every caller reads that value back.
func (s *Store) InitMetaValue(ctx context.Context, name, value string, at time.Time) (string, error) {
	if _, err := s.wq.exec(ctx, `INSERT INTO meta (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, value, ms(at)); err != nil {
		return "", mapErr("init meta value", err)
	}
	return s.MetaValue(ctx, name)
}

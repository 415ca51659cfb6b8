package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// RecordFailure implements store.Throttle with one atomic upsert, so
// concurrent failures on several replicas all count. A streak restarts when
// its last failure is older than window: the count is of failures with no
// quiet gap of window between them.
func (s *Store) RecordFailure(ctx context.Context, key string, at time.Time, window time.Duration) (int, error) {
	cutoff := ms(at.Add(-window))
	row, err := s.wq.queryRow(ctx, `INSERT INTO throttle (key, failures, first_at, last_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.last_at < ? THEN 1 ELSE throttle.failures + 1 END,
			first_at = CASE WHEN throttle.last_at < ? THEN excluded.first_at ELSE throttle.first_at END,
			last_at = excluded.last_at
		RETURNING failures`,
		key, ms(at), ms(at), cutoff, cutoff)
	if err != nil {
		return 0, mapErr("record failure", err)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, mapErr("record failure", err)
	}
	return n, nil
}

// Failures implements store.Throttle.
func (s *Store) Failures(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	row, err := s.rq.queryRow(ctx, `SELECT failures, last_at FROM throttle WHERE key = ? AND last_at >= ?`,
		key, ms(now.Add(-window)))
	if err != nil {
		return 0, time.Time{}, mapErr("failures", err)
	}
	var (
		n    int
		last int64
	)
	if err := row.Scan(&n, &last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, nil // no failure within the window
		}
		return 0, time.Time{}, mapErr("failures", err)
	}
	return n, fromMS(last), nil
}

// ClearFailures implements store.Throttle.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	_, err := s.wq.exec(ctx, `DELETE FROM throttle WHERE key = ?`, key)
	return mapErr("clear failures", err)
}

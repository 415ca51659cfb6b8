package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// reserveSQL counts one attempt if the policy allows it, in one statement:
// the policy's delay is computed from the row as it is when the statement
// runs (on PostgreSQL the conflicting row is locked and re-read; on SQLite the
// single writer serialises), so concurrent reservations see each other's
// counts and a limit of N grants exactly N. When the WHERE of DO UPDATE is
// false nothing is written and nothing is returned.
//
// The delay after n attempts (see store.ThrottlePolicy):
//
//	n ≥ limit:             lock
//	n < free:              0
//	n − free ≥ doublings:  max      (doublings: how many until base·2^k ≥ max)
//	otherwise:             base << (n − free)
//
// Bit shifts on integers are portable (SQLite and PostgreSQL); POWER and
// two-argument MIN/LEAST are not.
const reserveSQL = `INSERT INTO throttle (key, failures, first_at, last_at, prev_at) VALUES (?, 1, ?, ?, 0)
	ON CONFLICT (key) DO UPDATE SET
		failures = CASE WHEN throttle.last_at < CAST(? AS BIGINT) THEN 1 ELSE throttle.failures + 1 END,
		first_at = CASE WHEN throttle.last_at < CAST(? AS BIGINT) THEN excluded.first_at ELSE throttle.first_at END,
		prev_at = throttle.last_at,
		last_at = excluded.last_at
	WHERE excluded.last_at >= throttle.last_at + CASE
		WHEN throttle.failures >= CAST(? AS BIGINT) THEN CAST(? AS BIGINT)
		WHEN throttle.failures < CAST(? AS BIGINT) THEN 0
		WHEN throttle.failures - CAST(? AS BIGINT) >= CAST(? AS BIGINT) THEN CAST(? AS BIGINT)
		ELSE CAST(? AS BIGINT) << CAST(throttle.failures - CAST(? AS BIGINT) AS INTEGER)
	END
	RETURNING failures`

// doublings is how many times base doubles before reaching max (the
// exponent past which the delay is max). A zero base never grows.
func doublings(base, maxD int64) int64 {
	if base <= 0 {
		return 1 << 30
	}
	k := int64(0)
	for d := base; d < maxD && k < 62; d *= 2 {
		k++
	}
	return k
}

// Reserve implements store.Throttle.
func (s *Store) Reserve(ctx context.Context, key string, at time.Time, p store.ThrottlePolicy) (store.Reservation, error) {
	now := ms(at)
	cutoff := ms(at.Add(-p.Window))
	base, maxD := p.BaseDelay.Milliseconds(), p.MaxDelay.Milliseconds()
	row, err := s.wq.queryRow(ctx, reserveSQL,
		key, now, now,
		cutoff, cutoff,
		int64(p.Limit), p.LockFor.Milliseconds(),
		int64(p.Free),
		int64(p.Free), doublings(base, maxD), maxD,
		base, int64(p.Free))
	if err != nil {
		return store.Reservation{}, mapErr("reserve attempt", err)
	}
	var n int
	switch err := row.Scan(&n); {
	case err == nil:
		return store.Reservation{Granted: true, Count: n, Last: fromMS(now)}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return store.Reservation{}, mapErr("reserve attempt", err)
	}
	// Refused: report the state that refused it, for Retry-After. It may
	// have moved on since; callers treat it as advice.
	row, err = s.wq.queryRow(ctx, `SELECT failures, last_at FROM throttle WHERE key = ?`, key)
	if err != nil {
		return store.Reservation{}, mapErr("reserve attempt", err)
	}
	var last int64
	if err := row.Scan(&n, &last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Reservation{}, nil // cleared in between
		}
		return store.Reservation{}, mapErr("reserve attempt", err)
	}
	return store.Reservation{Count: n, Last: fromMS(last)}, nil
}

// Refund implements store.Throttle. The time goes back only when the row
// still shows this very reservation as the latest (same count, same time):
// otherwise another attempt was counted since, and the row keeps the later
// time, which errs towards waiting longer.
func (s *Store) Refund(ctx context.Context, key string, r store.Reservation) error {
	if !r.Granted {
		return nil
	}
	_, err := s.wq.exec(ctx, `UPDATE throttle SET
			last_at = CASE WHEN failures = CAST(? AS BIGINT) AND last_at = CAST(? AS BIGINT) THEN prev_at ELSE last_at END,
			failures = failures - 1
		WHERE key = ? AND failures > 0`,
		int64(r.Count), ms(r.Last), key)
	return mapErr("refund attempt", err)
}

// Failures implements store.Throttle.
func (s *Store) Failures(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	row, err := s.rq.queryRow(ctx, `SELECT failures, last_at FROM throttle WHERE key = ? AND last_at >= ? AND failures > 0`,
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

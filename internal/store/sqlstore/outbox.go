package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const outboxCols = `id, topic, payload, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, done_at, failed_at`

func scanOutbox(row interface{ Scan(...any) error }, m *store.OutboxMessage) error {
	var next, lease, created int64
	var done, failed sql.NullInt64
	if err := row.Scan(&m.ID, &m.Topic, &m.Payload, &m.Attempts, &next, &m.LeaseOwner, &lease, &m.LastError, &created, &done, &failed); err != nil {
		return err
	}
	m.NextAttemptAt, m.LeaseUntil, m.CreatedAt = fromMS(next), fromMS(lease), fromMS(created)
	m.DoneAt, m.FailedAt = optTime(done), optTime(failed)
	return nil
}

// EnqueueOutbox implements store.Outbox. Called on the Store InTx hands out,
// the message commits or rolls back with the caller's change.
func (s *Store) EnqueueOutbox(ctx context.Context, m *store.OutboxMessage) error {
	_, err := s.wq.exec(ctx, `INSERT INTO outbox (id, topic, payload, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)`,
		m.ID, m.Topic, m.Payload, ms(m.NextAttemptAt), ms(m.CreatedAt))
	return mapErr("enqueue outbox", err)
}

// ClaimOutbox implements store.Outbox. On PostgreSQL the candidates are
// selected FOR UPDATE SKIP LOCKED, so workers on several replicas take
// disjoint batches instead of queueing behind each other; on SQLite the
// write transaction already runs alone. The UPDATE re-checks the lease in
// its WHERE clause either way, so a message is never handed to two owners.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := `SELECT id FROM outbox WHERE done_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND lease_until <= ?
		ORDER BY next_attempt_at, id LIMIT ?`
	if s.dialect == Postgres {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	var out []store.OutboxMessage
	err := s.inTx(ctx, func(t *tx) error {
		out = out[:0]
		rows, err := t.query(ctx, q, ms(now), ms(now), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			row, err := t.queryRow(ctx, `UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
				WHERE id = ? AND done_at IS NULL AND failed_at IS NULL AND lease_until <= ? RETURNING `+outboxCols,
				owner, ms(leaseUntil), id, ms(now))
			if err != nil {
				return err
			}
			var m store.OutboxMessage
			err = scanOutbox(row, &m)
			if errors.Is(err, sql.ErrNoRows) {
				continue // the row lock above makes this unreachable; the WHERE clause is the guarantee regardless
			}
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, mapErr("claim outbox", err)
	}
	return out, nil
}

// CompleteOutbox implements store.Outbox.
func (s *Store) CompleteOutbox(ctx context.Context, id, owner string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE outbox SET done_at = ?, lease_until = 0 WHERE id = ? AND lease_owner = ? AND done_at IS NULL AND failed_at IS NULL`,
		ms(at), id, owner)
	return affectedOne("complete outbox", res, err)
}

// RetryOutbox implements store.Outbox.
func (s *Store) RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	res, err := s.wq.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, lease_owner = '', lease_until = 0, last_error = ?
		WHERE id = ? AND lease_owner = ? AND done_at IS NULL AND failed_at IS NULL`, ms(next), lastErr, id, owner)
	return affectedOne("retry outbox", res, err)
}

// FailOutbox implements store.Outbox.
func (s *Store) FailOutbox(ctx context.Context, id, owner string, at time.Time, lastErr string) error {
	res, err := s.wq.exec(ctx, `UPDATE outbox SET failed_at = ?, lease_until = 0, last_error = ?
		WHERE id = ? AND lease_owner = ? AND done_at IS NULL AND failed_at IS NULL`, ms(at), lastErr, id, owner)
	return affectedOne("fail outbox", res, err)
}

// OutboxByID implements store.Outbox.
func (s *Store) OutboxByID(ctx context.Context, id string) (*store.OutboxMessage, error) {
	row, err := s.rq.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("outbox by id", err)
	}
	m := new(store.OutboxMessage)
	if err := scanOutbox(row, m); err != nil {
		return nil, mapErr("outbox by id", err)
	}
	return m, nil
}

// ---------------------------------------------------------------- account tokens

const accountTokenCols = `hash, purpose, user_id, new_email, created_at, expires_at, used_at`

func scanAccountToken(row interface{ Scan(...any) error }, t *store.AccountToken) error {
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&t.Hash, &t.Purpose, &t.UserID, &t.NewEmail, &created, &expires, &used); err != nil {
		return err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(created), fromMS(expires), optTime(used)
	return nil
}

// CreateAccountToken implements store.AccountTokens.
func (s *Store) CreateAccountToken(ctx context.Context, t *store.AccountToken) error {
	_, err := s.wq.exec(ctx, `INSERT INTO account_tokens (hash, purpose, user_id, new_email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Purpose, t.UserID, t.NewEmail, ms(t.CreatedAt), ms(t.ExpiresAt))
	return mapErr("create account token", err)
}

// ConsumeAccountToken implements store.AccountTokens. The conditional UPDATE
// is the single-use guarantee: exactly one caller matches `used_at IS NULL`.
func (s *Store) ConsumeAccountToken(ctx context.Context, hash, purpose string, at time.Time) (*store.AccountToken, error) {
	row, err := s.wq.queryRow(ctx, `UPDATE account_tokens SET used_at = ?
		WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING `+accountTokenCols,
		ms(at), hash, purpose, ms(at))
	if err != nil {
		return nil, mapErr("consume account token", err)
	}
	t := new(store.AccountToken)
	err = scanAccountToken(row, t)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, mapErr("consume account token", err)
	}
	// Not consumed: tell a replayed link from an unknown or expired one.
	row, err = s.wq.queryRow(ctx, `SELECT `+accountTokenCols+` FROM account_tokens WHERE hash = ? AND purpose = ?`, hash, purpose)
	if err != nil {
		return nil, mapErr("consume account token", err)
	}
	if err := scanAccountToken(row, t); err != nil {
		return nil, mapErr("consume account token", err)
	}
	if t.UsedAt != nil {
		return nil, fmt.Errorf("consume account token: %w", store.ErrAlreadyUsed)
	}
	return nil, fmt.Errorf("consume account token: expired: %w", store.ErrNotFound)
}

// DeleteAccountTokens implements store.AccountTokens.
func (s *Store) DeleteAccountTokens(ctx context.Context, userID, purpose string) (int64, error) {
	res, err := s.wq.exec(ctx, `DELETE FROM account_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL`, userID, purpose)
	if err != nil {
		return 0, mapErr("delete account tokens", err)
	}
	n, err := res.RowsAffected()
	return n, mapErr("delete account tokens", err)
}

// ---------------------------------------------------------------- known devices

// SeeDevice implements store.KnownDevices. The primary key decides which of
// concurrent first sightings inserts (and so reports new).
func (s *Store) SeeDevice(ctx context.Context, userID, fingerprint string, at time.Time) (isNew, only bool, err error) {
	res, err := s.wq.exec(ctx, `INSERT INTO known_devices (user_id, fingerprint, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, fingerprint) DO NOTHING`, userID, fingerprint, ms(at), ms(at))
	if err != nil {
		return false, false, mapErr("see device", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, mapErr("see device", err)
	}
	if n == 1 {
		row, err := s.wq.queryRow(ctx, `SELECT COUNT(*) FROM known_devices WHERE user_id = ?`, userID)
		if err != nil {
			return true, false, mapErr("see device", err)
		}
		var count int
		if err := row.Scan(&count); err != nil {
			return true, false, mapErr("see device", err)
		}
		return true, count == 1, nil
	}
	_, err = s.wq.exec(ctx, `UPDATE known_devices SET last_seen = ? WHERE user_id = ? AND fingerprint = ? AND last_seen < ?`,
		ms(at), userID, fingerprint, ms(at))
	return false, false, mapErr("see device", err)
}

// ---------------------------------------------------------------- email verification

// SetEmailVerified implements store.EmailVerification.
func (s *Store) SetEmailVerified(ctx context.Context, userID string, at *time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE users SET email_verified_at = ? WHERE id = ?`, nullMS(at), userID)
	return affectedOne("set email verified", res, err)
}

// EmailVerifiedAt implements store.EmailVerification.
func (s *Store) EmailVerifiedAt(ctx context.Context, userID string) (*time.Time, error) {
	row, err := s.rq.queryRow(ctx, `SELECT email_verified_at FROM users WHERE id = ?`, userID)
	if err != nil {
		return nil, mapErr("email verified at", err)
	}
	var v sql.NullInt64
	if err := row.Scan(&v); err != nil {
		return nil, mapErr("email verified at", err)
	}
	return optTime(v), nil
}

// ChangeEmail implements store.EmailVerification. The unique index on
// users.email decides between two accounts claiming one address.
func (s *Store) ChangeEmail(ctx context.Context, userID, email string, verifiedAt time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE users SET email = ?, email_verified_at = ?, updated_at = ? WHERE id = ?`,
		email, ms(verifiedAt), ms(verifiedAt), userID)
	return affectedOne("change email", res, err)
}

// DeleteFinishedOutbox implements store.Outbox.
func (s *Store) DeleteFinishedOutbox(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete finished outbox",
		`DELETE FROM outbox WHERE (done_at IS NOT NULL AND done_at < ?) OR (failed_at IS NOT NULL AND failed_at < ?)`, ms(before), ms(before))
}

// DeleteExpiredAccountTokens implements store.AccountTokens.
func (s *Store) DeleteExpiredAccountTokens(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete expired account tokens", `DELETE FROM account_tokens WHERE expires_at < ?`, ms(before))
}

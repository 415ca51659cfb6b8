package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateSigningKey implements store.SigningKeys.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := s.wq.exec(ctx, `INSERT INTO signing_keys (kid, alg, private_key, created_at, active_at, retired_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.KID, k.Alg, k.PrivateKey, ms(k.CreatedAt), ms(k.ActiveAt), nullMS(k.RetiredAt), nullMS(k.ExpiresAt))
	return mapErr("create signing key", err)
}

// ListSigningKeys implements store.SigningKeys. It reads through the write
// pool: a replica reloading after a rotation must see the committed keys, and
// it runs every few seconds at most.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	rows, err := s.wq.query(ctx, `SELECT kid, alg, private_key, created_at, active_at, retired_at, expires_at
		FROM signing_keys WHERE expires_at IS NULL OR expires_at > ?
		ORDER BY created_at, kid`, ms(now))
	if err != nil {
		return nil, mapErr("list signing keys", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k      store.SigningKey
			ca, aa int64
			ra, ea sql.NullInt64
		)
		if err := rows.Scan(&k.KID, &k.Alg, &k.PrivateKey, &ca, &aa, &ra, &ea); err != nil {
			return nil, mapErr("list signing keys", err)
		}
		k.CreatedAt, k.ActiveAt, k.RetiredAt, k.ExpiresAt = fromMS(ca), fromMS(aa), optTime(ra), optTime(ea)
		out = append(out, k)
	}
	return out, mapErr("list signing keys", rows.Err())
}

// RetireSigningKeys implements store.SigningKeys.
func (s *Store) RetireSigningKeys(ctx context.Context, alg, keepKID string, retiredAt, expiresAt time.Time) (int, error) {
	res, err := s.wq.exec(ctx, `UPDATE signing_keys SET retired_at = ?, expires_at = ?
		WHERE alg = ? AND kid <> ? AND retired_at IS NULL`, ms(retiredAt), ms(expiresAt), alg, keepKID)
	if err != nil {
		return 0, mapErr("retire signing keys", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("retire signing keys", err)
}

// DeleteExpiredSigningKeys implements store.SigningKeys.
func (s *Store) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	res, err := s.wq.exec(ctx, `DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?`, ms(now))
	if err != nil {
		return 0, mapErr("delete expired signing keys", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("delete expired signing keys", err)
}

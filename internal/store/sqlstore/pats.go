package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const patCols = `id, user_id, description, hash, scopes, created_at, expires_at, last_used_at, revoked_at`

// CreatePAT implements store.PATs; ErrConflict when the hash (or id) exists.
func (s *Store) CreatePAT(ctx context.Context, p *store.PAT) error {
	scopes, err := encodeList(p.Scopes)
	if err != nil {
		return mapErr("create pat", err)
	}
	_, err = s.wq.exec(ctx, `INSERT INTO pats (`+patCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.Description, p.Hash, scopes, ms(p.CreatedAt), nullMS(p.ExpiresAt), nullMS(p.LastUsedAt), nullMS(p.RevokedAt))
	return mapErr("create pat", err)
}

// PATByHash implements store.PATs: one lookup on the unique hash index
// joined with the owner.
func (s *Store) PATByHash(ctx context.Context, hash string) (*store.PATInfo, error) {
	row, err := s.rq.queryRow(ctx, `SELECT p.id, p.user_id, p.description, p.hash, p.scopes, p.created_at,
			p.expires_at, p.last_used_at, p.revoked_at, u.disabled, u.credentials_changed_at,
			u.email, u.name, u.totp_enabled, u.created_at
		FROM pats p JOIN users u ON u.id = p.user_id
		WHERE p.hash = ?`, hash)
	if err != nil {
		return nil, mapErr("pat by hash", err)
	}
	r := new(patInfoRow) // one allocation for result and scan targets, see TokenByHash
	p := &r.info.PAT
	if err := row.Scan(&p.ID, &p.UserID, &p.Description, &p.Hash, &r.scopes, &r.ca, &r.ea, &r.lu, &r.ra,
		&r.info.UserDisabled, &r.cca, &r.info.User.Email, &r.info.User.Name, &r.info.User.TOTPEnabled, &r.uca); err != nil {
		return nil, mapErr("pat by hash", err)
	}
	r.info.User.ID, r.info.User.CreatedAt = p.UserID, fromMS(r.uca)
	if p.Scopes, err = decodeList(r.scopes); err != nil {
		return nil, mapErr("pat by hash", err)
	}
	p.CreatedAt, p.ExpiresAt, p.LastUsedAt, p.RevokedAt = fromMS(r.ca), optTime(r.ea), optTime(r.lu), optTime(r.ra)
	r.info.UserCredentialsChangedAt = fromMS(r.cca)
	return &r.info, nil
}

type patInfoRow struct {
	info       store.PATInfo
	scopes     string
	ca, cca    int64
	uca        int64 // the user's created_at
	ea, lu, ra sql.NullInt64
}

// ListPATs implements store.PATs.
func (s *Store) ListPATs(ctx context.Context, userID string) ([]store.PAT, error) {
	rows, err := s.rq.query(ctx, `SELECT `+patCols+` FROM pats WHERE user_id = ? AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, mapErr("list pats", err)
	}
	defer rows.Close()
	var out []store.PAT
	for rows.Next() {
		var (
			p          store.PAT
			scopes     string
			ca         int64
			ea, lu, ra sql.NullInt64
		)
		if err := rows.Scan(&p.ID, &p.UserID, &p.Description, &p.Hash, &scopes, &ca, &ea, &lu, &ra); err != nil {
			return nil, mapErr("list pats", err)
		}
		if p.Scopes, err = decodeList(scopes); err != nil {
			return nil, mapErr("list pats", err)
		}
		p.CreatedAt, p.ExpiresAt, p.LastUsedAt, p.RevokedAt = fromMS(ca), optTime(ea), optTime(lu), optTime(ra)
		out = append(out, p)
	}
	return out, mapErr("list pats", rows.Err())
}

// RevokePAT implements store.PATs. Revoking twice keeps the first time.
func (s *Store) RevokePAT(ctx context.Context, userID, id string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE pats SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?`,
		ms(at), id, userID)
	return affectedOne("revoke pat", res, err)
}

// RevokePATByHash implements store.PATs; ErrNotFound when no PAT has the
// hash, so a leak report can say whether it matched anything.
func (s *Store) RevokePATByHash(ctx context.Context, hash string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE pats SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ?`, ms(at), hash)
	return affectedOne("revoke pat by hash", res, err)
}

// TouchPATs implements store.PATs. lastUsed is keyed by PAT id. A stamp never
// moves backwards, so batches flushed out of order (or by several replicas)
// keep the latest use; unknown ids are skipped.
func (s *Store) TouchPATs(ctx context.Context, lastUsed map[string]time.Time) error {
	return mapErr("touch pats", s.touch(ctx, `UPDATE pats SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, lastUsed))
}

// touch runs one stamp UPDATE per entry in a single transaction: one commit
// for the whole batch. Rows are updated in ascending id order. Each UPDATE
// holds its row lock until the commit, so two replicas walking overlapping
// batches in different (map) orders could each hold a row the other wants
// next, and PostgreSQL would abort one of them (deadlock_detected); in one
// global order the later flusher only waits for the earlier one.
func (s *Store) touch(ctx context.Context, query string, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	ids := make([]string, 0, len(lastUsed))
	for id := range lastUsed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.inTx(ctx, func(t *tx) error {
		for _, id := range ids {
			at := ms(lastUsed[id])
			if _, err := t.exec(ctx, query, at, id, at); err != nil {
				return err
			}
		}
		return nil
	})
}

package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const apiKeyCols = `id, client_id, name, hash, scopes, allowed_cidrs, created_by, created_at, expires_at, last_used_at, revoked_at`

// apiKeyDest holds the scan targets of apiKeyCols that need converting.
type apiKeyDest struct {
	scopes, cidrs string
	ca            int64
	ea, lu, ra    sql.NullInt64
}

func (d *apiKeyDest) fill(k *store.APIKey) error {
	var err error
	if k.Scopes, err = decodeList(d.scopes); err != nil {
		return err
	}
	if k.AllowedCIDRs, err = decodeList(d.cidrs); err != nil {
		return err
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromMS(d.ca), optTime(d.ea), optTime(d.lu), optTime(d.ra)
	return nil
}

// CreateAPIKey implements store.APIKeys; ErrConflict when the hash (or id)
// exists, ErrNotFound for an unknown client.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	scopes, err := encodeList(k.Scopes)
	if err != nil {
		return mapErr("create api key", err)
	}
	cidrs, err := encodeList(k.AllowedCIDRs)
	if err != nil {
		return mapErr("create api key", err)
	}
	_, err = s.wq.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.ClientID, k.Name, k.Hash, scopes, cidrs, k.CreatedBy, ms(k.CreatedAt),
		nullMS(k.ExpiresAt), nullMS(k.LastUsedAt), nullMS(k.RevokedAt))
	return mapErr("create api key", err)
}

// APIKeyByHash implements store.APIKeys: one lookup on the unique hash index
// joined with the client and its owner (whose state decides whether the key
// still acts for them).
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*store.APIKeyInfo, error) {
	row, err := s.rq.queryRow(ctx, `SELECT k.id, k.client_id, k.name, k.hash, k.scopes, k.allowed_cidrs, k.created_by,
			k.created_at, k.expires_at, k.last_used_at, k.revoked_at, c.status, c.owner_id, u.disabled,
			u.credentials_changed_at, u.email, u.name, u.totp_enabled, u.created_at
		FROM api_keys k JOIN clients c ON c.id = k.client_id JOIN users u ON u.id = c.owner_id
		WHERE k.hash = ?`, hash)
	if err != nil {
		return nil, mapErr("api key by hash", err)
	}
	r := new(apiKeyInfoRow) // one allocation for result and scan targets, see TokenByHash
	k, d := &r.info.APIKey, &r.d
	if err := row.Scan(&k.ID, &k.ClientID, &k.Name, &k.Hash, &d.scopes, &d.cidrs, &k.CreatedBy,
		&d.ca, &d.ea, &d.lu, &d.ra, &r.info.ClientStatus, &r.info.ClientOwnerID, &r.info.OwnerDisabled,
		&r.occa, &r.info.Owner.Email, &r.info.Owner.Name, &r.info.Owner.TOTPEnabled, &r.uca); err != nil {
		return nil, mapErr("api key by hash", err)
	}
	r.info.Owner.ID, r.info.Owner.CreatedAt = r.info.ClientOwnerID, fromMS(r.uca)
	r.info.OwnerCredentialsChangedAt = fromMS(r.occa)
	if err := d.fill(k); err != nil {
		return nil, mapErr("api key by hash", err)
	}
	return &r.info, nil
}

type apiKeyInfoRow struct {
	info store.APIKeyInfo
	d    apiKeyDest
	uca  int64 // the owner's created_at
	occa int64 // the owner's credentials_changed_at
}

// ListAPIKeys implements store.APIKeys.
func (s *Store) ListAPIKeys(ctx context.Context, clientID string) ([]store.APIKey, error) {
	rows, err := s.rq.query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE client_id = ? AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC`, clientID)
	if err != nil {
		return nil, mapErr("list api keys", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		var (
			k store.APIKey
			d apiKeyDest
		)
		if err := rows.Scan(&k.ID, &k.ClientID, &k.Name, &k.Hash, &d.scopes, &d.cidrs, &k.CreatedBy,
			&d.ca, &d.ea, &d.lu, &d.ra); err != nil {
			return nil, mapErr("list api keys", err)
		}
		if err := d.fill(&k); err != nil {
			return nil, mapErr("list api keys", err)
		}
		out = append(out, k)
	}
	return out, mapErr("list api keys", rows.Err())
}

// RevokeAPIKey implements store.APIKeys. Revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, clientID, id string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND client_id = ?`,
		ms(at), id, clientID)
	return affectedOne("revoke api key", res, err)
}

// RevokeAPIKeyByHash implements store.APIKeys; ErrNotFound when no key has
// the hash.
func (s *Store) RevokeAPIKeyByHash(ctx context.Context, hash string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ?`, ms(at), hash)
	return affectedOne("revoke api key by hash", res, err)
}

// TouchAPIKeys implements store.APIKeys; see TouchPATs.
func (s *Store) TouchAPIKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	return mapErr("touch api keys", s.touch(ctx, `UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, lastUsed))
}

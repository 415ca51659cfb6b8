package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const consentCols = `user_id, client_id, scopes, created_at, updated_at`

func scanConsent(sc interface{ Scan(...any) error }, c *store.Consent) error {
	var (
		scopes string
		ca, ua int64
	)
	if err := sc.Scan(&c.UserID, &c.ClientID, &scopes, &ca, &ua); err != nil {
		return err
	}
	var err error
	c.Scopes, err = decodeList(scopes)
	c.CreatedAt, c.UpdatedAt = fromMS(ca), fromMS(ua)
	return err
}

// UpsertConsent implements store.Consents. An existing consent keeps its
// CreatedAt; scopes and UpdatedAt are replaced.
func (s *Store) UpsertConsent(ctx context.Context, c *store.Consent) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return mapErr("upsert consent", err)
	}
	_, err = s.wq.exec(ctx, `INSERT INTO consents (`+consentCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		c.UserID, c.ClientID, scopes, ms(c.CreatedAt), ms(c.UpdatedAt))
	return mapErr("upsert consent", err)
}

// Consent implements store.Consents.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	row, err := s.rq.queryRow(ctx, `SELECT `+consentCols+` FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	if err != nil {
		return nil, mapErr("consent", err)
	}
	c := new(store.Consent)
	if err := scanConsent(row, c); err != nil {
		return nil, mapErr("consent", err)
	}
	return c, nil
}

// ListConsents implements store.Consents, most recently updated first.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	rows, err := s.rq.query(ctx, `SELECT `+consentCols+` FROM consents WHERE user_id = ? ORDER BY updated_at DESC, client_id`, userID)
	if err != nil {
		return nil, mapErr("list consents", err)
	}
	defer rows.Close()
	var out []store.Consent
	for rows.Next() {
		var c store.Consent
		if err := scanConsent(rows, &c); err != nil {
			return nil, mapErr("list consents", err)
		}
		out = append(out, c)
	}
	return out, mapErr("list consents", rows.Err())
}

// DeleteConsent implements store.Consents. It is not an error when there was
// no consent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	_, err := s.wq.exec(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	return mapErr("delete consent", err)
}

// ---------------------------------------------------------------- grants

// CreateGrant implements store.Grants.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	scopes, err := encodeList(g.Scopes)
	if err != nil {
		return mapErr("create grant", err)
	}
	aud, err := encodeList(g.Audience)
	if err != nil {
		return mapErr("create grant", err)
	}
	return mapErr("create grant", s.batchDo(ctx, func(t *tx) error {
		_, err := t.exec(context.Background(), `INSERT INTO grants (id, client_id, user_id, scopes, audience, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.ClientID, g.UserID, scopes, aud, ms(g.CreatedAt), nullMS(g.RevokedAt))
		return err
	}))
}

// GrantByID implements store.Grants.
func (s *Store) GrantByID(ctx context.Context, id string) (*store.Grant, error) {
	row, err := s.rq.queryRow(ctx, `SELECT id, client_id, user_id, scopes, audience, created_at, revoked_at FROM grants WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("grant by id", err)
	}
	var (
		g           store.Grant
		scopes, aud string
		ca          int64
		ra          sql.NullInt64
	)
	if err := row.Scan(&g.ID, &g.ClientID, &g.UserID, &scopes, &aud, &ca, &ra); err != nil {
		return nil, mapErr("grant by id", err)
	}
	if g.Scopes, err = decodeList(scopes); err != nil {
		return nil, mapErr("grant by id", err)
	}
	if g.Audience, err = decodeList(aud); err != nil {
		return nil, mapErr("grant by id", err)
	}
	g.CreatedAt, g.RevokedAt = fromMS(ca), optTime(ra)
	return &g, nil
}

// RevokeGrant implements store.Grants. Revoking again keeps the first
// revocation time; ErrNotFound for an unknown grant.
func (s *Store) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
	return affectedOne("revoke grant", res, err)
}

// RevokeGrants implements store.Grants.
func (s *Store) RevokeGrants(ctx context.Context, userID, clientID string, at time.Time) (int64, error) {
	return s.deleteCount(ctx, "revoke grants", `UPDATE grants SET revoked_at = ?
		WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL`, ms(at), userID, clientID)
}

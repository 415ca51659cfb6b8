package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const clientCols = `id, name, description, owner_id, type, redirect_uris, grant_types, scopes, status,
	access_ttl_s, refresh_ttl_s, resource_server, created_at, updated_at,
	review_reason, homepage_url, privacy_url, terms_url, app_type, pending_scopes, pending_grants,
	post_logout_redirect_uris, environment, access_token_format, subject_type`

// clientSelect is clientCols plus the read-only has-logo flag.
const clientSelect = clientCols + `, EXISTS (SELECT 1 FROM client_logos l WHERE l.client_id = clients.id)`

func scanClient(sc interface{ Scan(...any) error }, c *store.Client) error {
	var (
		uris, grants, scopes      string
		pscopes, pgrants, plogout string
		attl, rttl, ca, ua        int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.Description, &c.OwnerID, &c.Type, &uris, &grants, &scopes, &c.Status,
		&attl, &rttl, &c.ResourceServer, &ca, &ua,
		&c.ReviewReason, &c.HomepageURL, &c.PrivacyURL, &c.TermsURL, &c.AppType, &pscopes, &pgrants, &plogout,
		&c.Environment, &c.AccessTokenFormat, &c.SubjectType, &c.HasLogo); err != nil {
		return err
	}
	var err error
	if c.PendingScopes, err = decodeList(pscopes); err != nil {
		return err
	}
	if c.PendingGrants, err = decodeList(pgrants); err != nil {
		return err
	}
	if c.PostLogoutRedirectURIs, err = decodeList(plogout); err != nil {
		return err
	}
	if c.RedirectURIs, err = decodeList(uris); err != nil {
		return err
	}
	if c.GrantTypes, err = decodeList(grants); err != nil {
		return err
	}
	if c.Scopes, err = decodeList(scopes); err != nil {
		return err
	}
	c.AccessTTL, c.RefreshTTL = time.Duration(attl)*time.Second, time.Duration(rttl)*time.Second
	c.CreatedAt, c.UpdatedAt = fromMS(ca), fromMS(ua)
	return nil
}

// clientLists encodes the client's lists, in clientCols order.
func clientLists(c *store.Client) (uris, grants, scopes string, pending [3]string, err error) {
	if uris, err = encodeList(c.RedirectURIs); err != nil {
		return
	}
	if grants, err = encodeList(c.GrantTypes); err != nil {
		return
	}
	if scopes, err = encodeList(c.Scopes); err != nil {
		return
	}
	for i, l := range [][]string{c.PendingScopes, c.PendingGrants, c.PostLogoutRedirectURIs} {
		if pending[i], err = encodeList(l); err != nil {
			return
		}
	}
	return
}

// CreateClient implements store.Clients. Each secret is stored under c.ID,
// whatever its ClientID field says.
func (s *Store) CreateClient(ctx context.Context, c *store.Client, secrets []store.ClientSecret) error {
	uris, grants, scopes, more, err := clientLists(c)
	if err != nil {
		return mapErr("create client", err)
	}
	return mapErr("create client", s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `INSERT INTO clients (`+clientCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Description, c.OwnerID, c.Type, uris, grants, scopes, c.Status,
			int64(c.AccessTTL/time.Second), int64(c.RefreshTTL/time.Second), c.ResourceServer, ms(c.CreatedAt), ms(c.UpdatedAt),
			c.ReviewReason, c.HomepageURL, c.PrivacyURL, c.TermsURL, c.AppType, more[0], more[1], more[2], c.Environment,
			c.AccessTokenFormat, c.SubjectType); err != nil {
			return err
		}
		for i := range secrets {
			sec := secrets[i]
			sec.ClientID = c.ID
			if err := addClientSecret(ctx, t, &sec); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ClientByID implements store.Clients.
func (s *Store) ClientByID(ctx context.Context, id string) (*store.Client, error) {
	row, err := s.rq.queryRow(ctx, `SELECT `+clientSelect+` FROM clients WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("client by id", err)
	}
	c := new(store.Client)
	if err := scanClient(row, c); err != nil {
		return nil, mapErr("client by id", err)
	}
	return c, nil
}

// ListClients implements store.Clients, oldest first.
func (s *Store) ListClients(ctx context.Context, ownerID string) ([]store.Client, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if ownerID == "" {
		rows, err = s.rq.query(ctx, `SELECT `+clientSelect+` FROM clients ORDER BY created_at, id`)
	} else {
		rows, err = s.rq.query(ctx, `SELECT `+clientSelect+` FROM clients WHERE owner_id = ? ORDER BY created_at, id`, ownerID)
	}
	if err != nil {
		return nil, mapErr("list clients", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		var c store.Client
		if err := scanClient(rows, &c); err != nil {
			return nil, mapErr("list clients", err)
		}
		out = append(out, c)
	}
	return out, mapErr("list clients", rows.Err())
}

// UpdateClient implements store.Clients: every field but ID and CreatedAt.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	uris, grants, scopes, more, err := clientLists(c)
	if err != nil {
		return mapErr("update client", err)
	}
	res, err := s.wq.exec(ctx, `UPDATE clients SET name = ?, description = ?, owner_id = ?, type = ?,
		redirect_uris = ?, grant_types = ?, scopes = ?, status = ?, access_ttl_s = ?, refresh_ttl_s = ?, resource_server = ?, updated_at = ?,
		review_reason = ?, homepage_url = ?, privacy_url = ?, terms_url = ?, app_type = ?, pending_scopes = ?, pending_grants = ?,
		post_logout_redirect_uris = ?, environment = ?, access_token_format = ?, subject_type = ?
		WHERE id = ?`,
		c.Name, c.Description, c.OwnerID, c.Type, uris, grants, scopes, c.Status,
		int64(c.AccessTTL/time.Second), int64(c.RefreshTTL/time.Second), c.ResourceServer, ms(c.UpdatedAt),
		c.ReviewReason, c.HomepageURL, c.PrivacyURL, c.TermsURL, c.AppType, more[0], more[1], more[2], c.Environment,
		c.AccessTokenFormat, c.SubjectType, c.ID)
	return affectedOne("update client", res, err)
}

// SetClientStatus implements store.Clients.
func (s *Store) SetClientStatus(ctx context.Context, id, status string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE clients SET status = ?, updated_at = ? WHERE id = ?`, status, ms(at), id)
	return affectedOne("set client status", res, err)
}

// DeleteClient implements store.Clients; ErrNotFound when there is no such
// client. The schema's ON DELETE CASCADE removes everything that hangs off it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.wq.exec(ctx, `DELETE FROM clients WHERE id = ?`, id)
	return affectedOne("delete client", res, err)
}

// AddClientSecret implements store.Clients; ErrNotFound for an unknown client.
func (s *Store) AddClientSecret(ctx context.Context, sec *store.ClientSecret) error {
	return mapErr("add client secret", addClientSecret(ctx, s.wq, sec))
}

func addClientSecret(ctx context.Context, q querier, sec *store.ClientSecret) error {
	_, err := q.exec(ctx, `INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sec.ID, sec.ClientID, sec.Hash, ms(sec.CreatedAt), nullMS(sec.ExpiresAt))
	return err
}

// ClientSecrets implements store.Clients, oldest first.
func (s *Store) ClientSecrets(ctx context.Context, clientID string) ([]store.ClientSecret, error) {
	rows, err := s.rq.query(ctx, `SELECT id, client_id, hash, created_at, expires_at, last_used_at FROM client_secrets
		WHERE client_id = ? ORDER BY created_at, id`, clientID)
	if err != nil {
		return nil, mapErr("client secrets", err)
	}
	defer rows.Close()
	var out []store.ClientSecret
	for rows.Next() {
		var (
			sec store.ClientSecret
			ca  int64
			ea  sql.NullInt64
			lu  sql.NullInt64
		)
		if err := rows.Scan(&sec.ID, &sec.ClientID, &sec.Hash, &ca, &ea, &lu); err != nil {
			return nil, mapErr("client secrets", err)
		}
		sec.CreatedAt, sec.ExpiresAt, sec.LastUsedAt = fromMS(ca), optTime(ea), optTime(lu)
		out = append(out, sec)
	}
	return out, mapErr("client secrets", rows.Err())
}

// DeleteClientSecretByHash implements store.Clients (leaked-secret response).
func (s *Store) DeleteClientSecretByHash(ctx context.Context, hash string) (string, error) {
	row, err := s.wq.queryRow(ctx, `DELETE FROM client_secrets WHERE hash = ? RETURNING client_id`, hash)
	if err != nil {
		return "", mapErr("delete client secret by hash", err)
	}
	var clientID string
	if err := row.Scan(&clientID); err != nil {
		return "", mapErr("delete client secret by hash", err)
	}
	return clientID, nil
}

// DeleteClientSecret implements store.Clients; ErrNotFound when the secret
// is not the client's.
func (s *Store) DeleteClientSecret(ctx context.Context, clientID, secretID string) error {
	res, err := s.wq.exec(ctx, `DELETE FROM client_secrets WHERE client_id = ? AND id = ?`, clientID, secretID)
	return affectedOne("delete client secret", res, err)
}

// SetClientSecretExpiry implements store.Clients.
func (s *Store) SetClientSecretExpiry(ctx context.Context, clientID, secretID string, at *time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE client_secrets SET expires_at = ? WHERE client_id = ? AND id = ?`,
		nullMS(at), clientID, secretID)
	return affectedOne("set client secret expiry", res, err)
}

// TouchClientSecrets implements store.Clients (see TouchPATs).
func (s *Store) TouchClientSecrets(ctx context.Context, lastUsed map[string]time.Time) error {
	return mapErr("touch client secrets", s.touch(ctx, `UPDATE client_secrets SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, lastUsed))
}

// SetClientLogo implements store.Clients. The PNG is kept as base64 text,
// which both backends store alike.
func (s *Store) SetClientLogo(ctx context.Context, clientID string, png []byte, at time.Time) error {
	enc := base64.StdEncoding.EncodeToString(png)
	return mapErr("set client logo", s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE client_logos SET png = ?, updated_at = ? WHERE client_id = ?`, enc, ms(at), clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		// Inserting through a SELECT of the client inserts nothing for an
		// unknown client, answered ErrNotFound.
		res, err = t.exec(ctx, `INSERT INTO client_logos (client_id, png, updated_at)
			SELECT id, ?, ? FROM clients WHERE id = ?`, enc, ms(at), clientID)
		return affectedOne("set client logo", res, err)
	}))
}

// ClientLogo implements store.Clients.
func (s *Store) ClientLogo(ctx context.Context, clientID string) ([]byte, error) {
	row, err := s.rq.queryRow(ctx, `SELECT png FROM client_logos WHERE client_id = ?`, clientID)
	if err != nil {
		return nil, mapErr("client logo", err)
	}
	var enc string
	if err := row.Scan(&enc); err != nil {
		return nil, mapErr("client logo", err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("client logo: %w", err)
	}
	return b, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const clientCols = `id, name, description, owner_id, type, redirect_uris, grant_types, scopes, status,
	access_ttl_s, refresh_ttl_s, resource_server, created_at, updated_at`

func scanClient(sc interface{ Scan(...any) error }, c *store.Client) error {
	var (
		uris, grants, scopes string
		attl, rttl, ca, ua   int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.Description, &c.OwnerID, &c.Type, &uris, &grants, &scopes, &c.Status,
		&attl, &rttl, &c.ResourceServer, &ca, &ua); err != nil {
		return err
	}
	var err error
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

// clientLists encodes the client's three lists.
func clientLists(c *store.Client) (uris, grants, scopes string, err error) {
	if uris, err = encodeList(c.RedirectURIs); err != nil {
		return
	}
	if grants, err = encodeList(c.GrantTypes); err != nil {
		return
	}
	scopes, err = encodeList(c.Scopes)
	return
}

// CreateClient implements store.Clients. Each secret is stored under c.ID,
// whatever its ClientID field says.
func (s *Store) CreateClient(ctx context.Context, c *store.Client, secrets []store.ClientSecret) error {
	uris, grants, scopes, err := clientLists(c)
	if err != nil {
		return mapErr("create client", err)
	}
	return mapErr("create client", s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Description, c.OwnerID, c.Type, uris, grants, scopes, c.Status,
			int64(c.AccessTTL/time.Second), int64(c.RefreshTTL/time.Second), c.ResourceServer, ms(c.CreatedAt), ms(c.UpdatedAt)); err != nil {
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
	row, err := s.rq.queryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = ?`, id)
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
		rows, err = s.rq.query(ctx, `SELECT `+clientCols+` FROM clients ORDER BY created_at, id`)
	} else {
		rows, err = s.rq.query(ctx, `SELECT `+clientCols+` FROM clients WHERE owner_id = ? ORDER BY created_at, id`, ownerID)
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
	uris, grants, scopes, err := clientLists(c)
	if err != nil {
		return mapErr("update client", err)
	}
	res, err := s.wq.exec(ctx, `UPDATE clients SET name = ?, description = ?, owner_id = ?, type = ?,
		redirect_uris = ?, grant_types = ?, scopes = ?, status = ?, access_ttl_s = ?, refresh_ttl_s = ?, resource_server = ?, updated_at = ?
		WHERE id = ?`,
		c.Name, c.Description, c.OwnerID, c.Type, uris, grants, scopes, c.Status,
		int64(c.AccessTTL/time.Second), int64(c.RefreshTTL/time.Second), c.ResourceServer, ms(c.UpdatedAt), c.ID)
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
	return mapErr("add client secret", addClientSecret(ctx, s.w, sec))
}

func addClientSecret(ctx context.Context, q querier, sec *store.ClientSecret) error {
	_, err := q.exec(ctx, `INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sec.ID, sec.ClientID, sec.Hash, ms(sec.CreatedAt), nullMS(sec.ExpiresAt))
	return err
}

// ClientSecrets implements store.Clients, oldest first.
func (s *Store) ClientSecrets(ctx context.Context, clientID string) ([]store.ClientSecret, error) {
	rows, err := s.rq.query(ctx, `SELECT id, client_id, hash, created_at, expires_at FROM client_secrets
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
		)
		if err := rows.Scan(&sec.ID, &sec.ClientID, &sec.Hash, &ca, &ea); err != nil {
			return nil, mapErr("client secrets", err)
		}
		sec.CreatedAt, sec.ExpiresAt = fromMS(ca), optTime(ea)
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

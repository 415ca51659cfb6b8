package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const codeCols = `hash, grant_id, client_id, user_id, redirect_uri, scopes, code_challenge, code_challenge_method,
	nonce, auth_time, created_at, expires_at, consumed_at, audience`

func scanCode(sc interface{ Scan(...any) error }, c *store.AuthCode) error {
	var (
		scopes, aud string
		at, ca, ea  int64
		consumed    sql.NullInt64
	)
	if err := sc.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.UserID, &c.RedirectURI, &scopes, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.Nonce, &at, &ca, &ea, &consumed, &aud); err != nil {
		return err
	}
	var err error
	if c.Audience, err = decodeList(aud); err != nil {
		return err
	}
	c.Scopes, err = decodeList(scopes)
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.ConsumedAt = fromMS(at), fromMS(ca), fromMS(ea), optTime(consumed)
	return err
}

// CreateAuthCode implements store.AuthCodes.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return mapErr("create auth code", err)
	}
	aud, err := encodeList(c.Audience)
	if err != nil {
		return mapErr("create auth code", err)
	}
	return mapErr("create auth code", s.batchDo(ctx, func(t *tx) error {
		_, err := t.exec(context.Background(), `INSERT INTO auth_codes (`+codeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Hash, c.GrantID, c.ClientID, c.UserID, c.RedirectURI, scopes, c.CodeChallenge, c.CodeChallengeMethod,
			c.Nonce, ms(c.AuthTime), ms(c.CreatedAt), ms(c.ExpiresAt), nullMS(c.ConsumedAt), aud)
		return err
	}))
}

// AuthCodeByHash implements store.AuthCodes. It reads through the read pool,
// outside the group-commit batcher: CreateAuthCode returns only after its
// batch committed, so a code handed to a client is always visible here.
func (s *Store) AuthCodeByHash(ctx context.Context, hash string) (*store.AuthCode, error) {
	row, err := s.rq.queryRow(ctx, `SELECT `+codeCols+` FROM auth_codes WHERE hash = ?`, hash)
	if err != nil {
		return nil, mapErr("auth code by hash", err)
	}
	c := new(store.AuthCode)
	if err := scanCode(row, c); err != nil {
		return nil, mapErr("auth code by hash", err)
	}
	return c, nil
}

// ConsumeAuthCode implements store.AuthCodes. The conditional UPDATE is the
// whole single-use guarantee: of any number of concurrent redemptions, on one
// node or many, exactly one matches `consumed_at IS NULL`. RETURNING hands
// the winner its row in the same statement.
func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, at time.Time) (*store.AuthCode, error) {
	c := new(store.AuthCode)
	consumed := false
	// Group-committed (see batcher): within the shared transaction each
	// UPDATE sees the ones before it, so exactly one redemption still wins.
	err := s.batchDo(ctx, func(t *tx) error {
		row, err := t.queryRow(context.Background(), `UPDATE auth_codes SET consumed_at = ? WHERE hash = ? AND consumed_at IS NULL
			RETURNING `+codeCols, ms(at), hash)
		if err != nil {
			return err
		}
		err = scanCode(row, c)
		consumed = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not ours to consume; decided below
		}
		if err != nil {
			return err
		}
		// The grant's state as of this consumption. A replay can revoke the
		// grant only once it sees the code consumed, that is after this
		// transaction commits, so what is read here is never the replay's
		// doing (see store.AuthCode.GrantRevoked).
		row, err = t.queryRow(context.Background(), `SELECT revoked_at FROM grants WHERE id = ?`, c.GrantID)
		if err != nil {
			return err
		}
		var revoked sql.NullInt64
		if err := row.Scan(&revoked); err != nil {
			return err
		}
		c.GrantRevoked = revoked.Valid
		return nil
	})
	if err != nil {
		return nil, mapErr("consume auth code", err)
	}
	if consumed {
		return c, nil
	}
	// Nothing changed: either used before (a replay the caller must answer by
	// revoking the grant) or unknown.
	row, err := s.rq.queryRow(ctx, `SELECT `+codeCols+` FROM auth_codes WHERE hash = ?`, hash)
	if err != nil {
		return nil, mapErr("consume auth code", err)
	}
	if err := scanCode(row, c); err != nil {
		return nil, mapErr("consume auth code", err)
	}
	return c, fmt.Errorf("consume auth code: %w", store.ErrAlreadyUsed)
}

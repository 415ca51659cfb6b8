package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const tokenCols = `hash, id, kind, grant_id, client_id, user_id, scopes, created_at, expires_at, consumed_at, revoked_at, audience`

// tokenDest holds the scan targets of tokenCols that need converting.
type tokenDest struct {
	grantID           sql.NullString
	scopes, aud       string
	ca, ea            int64
	consumed, revoked sql.NullInt64
}

func (d *tokenDest) targets(t *store.Token) []any {
	return []any{&t.Hash, &t.ID, &t.Kind, &d.grantID, &t.ClientID, &t.UserID, &d.scopes, &d.ca, &d.ea, &d.consumed, &d.revoked, &d.aud}
}

func (d *tokenDest) fill(t *store.Token) error {
	var err error
	t.GrantID = d.grantID.String
	if t.Audience, err = decodeList(d.aud); err != nil {
		return err
	}
	t.Scopes, err = decodeList(d.scopes)
	t.CreatedAt, t.ExpiresAt = fromMS(d.ca), fromMS(d.ea)
	t.ConsumedAt, t.RevokedAt = optTime(d.consumed), optTime(d.revoked)
	return err
}

func scanToken(sc interface{ Scan(...any) error }, t *store.Token) error {
	var d tokenDest
	if err := sc.Scan(d.targets(t)...); err != nil {
		return err
	}
	return d.fill(t)
}

func insertToken(ctx context.Context, q querier, t *store.Token) error {
	scopes, err := encodeList(t.Scopes)
	if err != nil {
		return err
	}
	aud, err := encodeList(t.Audience)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.ID, t.Kind, nullString(t.GrantID), t.ClientID, t.UserID, scopes,
		ms(t.CreatedAt), ms(t.ExpiresAt), nullMS(t.ConsumedAt), nullMS(t.RevokedAt), aud)
	return err
}

// CreateTokens implements store.Tokens: all or none. Token issuance is the
// hottest write, so it goes through group commit (see batcher).
func (s *Store) CreateTokens(ctx context.Context, tokens ...*store.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	if s.tx != nil {
		return mapErr("create tokens", insertTokens(ctx, s.tx, tokens))
	}
	return mapErr("create tokens", s.batch.insert(ctx, tokens))
}

// insertChunk is the most rows one INSERT carries: 12 columns × 64 rows stays
// far below both dialects' limits on bound parameters, and a batch has few
// distinct row counts, so few prepared statements.
const insertChunk = 64

// insertTokens inserts tokens with multi-row INSERTs (one statement per
// insertChunk rows): one round trip instead of one per token.
func insertTokens(ctx context.Context, q querier, tokens []*store.Token) error {
	for len(tokens) > 0 {
		n := min(len(tokens), insertChunk)
		if n == 1 {
			if err := insertToken(ctx, q, tokens[0]); err != nil {
				return err
			}
			tokens = tokens[1:]
			continue
		}
		args := make([]any, 0, 12*n)
		for _, t := range tokens[:n] {
			scopes, err := encodeList(t.Scopes)
			if err != nil {
				return err
			}
			aud, err := encodeList(t.Audience)
			if err != nil {
				return err
			}
			args = append(args, t.Hash, t.ID, t.Kind, nullString(t.GrantID), t.ClientID, t.UserID, scopes,
				ms(t.CreatedAt), ms(t.ExpiresAt), nullMS(t.ConsumedAt), nullMS(t.RevokedAt), aud)
		}
		if _, err := q.exec(ctx, multiRowInsert(n), args...); err != nil {
			return err
		}
		tokens = tokens[n:]
	}
	return nil
}

// multiRowInsert returns the INSERT of n token rows, written once for both
// dialects (placeholders are rebound for PostgreSQL).
func multiRowInsert(n int) string {
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	var b strings.Builder
	b.Grow(40 + len(tokenCols) + n*(len(row)+2))
	b.WriteString(`INSERT INTO tokens (` + tokenCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// TokenByHash implements store.Tokens: one primary-key lookup joined with
// the token's grant (absent for client_credentials tokens), client and user.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.TokenInfo, error) {
	row, err := s.rq.queryRow(ctx, `SELECT t.hash, t.id, t.kind, t.grant_id, t.client_id, t.user_id, t.scopes,
			t.created_at, t.expires_at, t.consumed_at, t.revoked_at, t.audience,
			g.revoked_at, c.status, u.disabled, u.credentials_changed_at,
			u.email, u.name, u.totp_enabled, u.created_at
		FROM tokens t
		LEFT JOIN grants g ON g.id = t.grant_id
		JOIN clients c ON c.id = t.client_id
		JOIN users u ON u.id = t.user_id
		WHERE t.hash = ?`, hash)
	if err != nil {
		return nil, mapErr("token by hash", err)
	}
	// One allocation holds the result and every scan target: each local
	// whose address went to Scan would otherwise be a heap allocation of its
	// own on this hot path.
	r := new(tokenInfoRow)
	t, d := &r.info.Token, &r.d
	if err := row.Scan(&t.Hash, &t.ID, &t.Kind, &d.grantID, &t.ClientID, &t.UserID, &d.scopes, &d.ca, &d.ea,
		&d.consumed, &d.revoked, &d.aud, &r.grantRevoked, &r.info.ClientStatus, &r.info.UserDisabled, &r.cca,
		&r.info.User.Email, &r.info.User.Name, &r.info.User.TOTPEnabled, &r.uca); err != nil {
		return nil, mapErr("token by hash", err)
	}
	r.info.User.ID, r.info.User.CreatedAt = t.UserID, fromMS(r.uca)
	if err := d.fill(t); err != nil {
		return nil, mapErr("token by hash", err)
	}
	r.info.GrantRevoked = r.grantRevoked.Valid
	r.info.UserCredentialsChangedAt = fromMS(r.cca)
	return &r.info, nil
}

type tokenInfoRow struct {
	info         store.TokenInfo
	d            tokenDest
	grantRevoked sql.NullInt64
	cca          int64
	uca          int64 // the user's created_at
}

// RotateRefreshToken implements store.Tokens. The conditional UPDATE picks
// the one winner among concurrent refreshes; the new tokens are inserted in
// the same transaction, so a failed insert leaves the old token unconsumed.
func (s *Store) RotateRefreshToken(ctx context.Context, hash string, at time.Time, next ...*store.Token) (*store.Token, error) {
	var (
		old  store.Token
		used bool
	)
	// Group-committed like issuance: concurrent rotations share a commit.
	// Inside the shared transaction each rotation still sees the ones before
	// it, so the conditional UPDATE decides races exactly as on its own.
	err := s.batchDo(ctx, func(t *tx) error {
		ctx := context.Background() // the batch's, not one request's
		used = false
		row, err := t.queryRow(ctx, `UPDATE tokens SET consumed_at = ?
			WHERE hash = ? AND kind = ? AND consumed_at IS NULL RETURNING `+tokenCols,
			ms(at), hash, store.TokenRefresh)
		if err != nil {
			return err
		}
		err = scanToken(row, &old)
		if errors.Is(err, sql.ErrNoRows) {
			// Used before, or unknown. Read inside the transaction: on
			// SQLite it holds the write lock, so the answer cannot change.
			used = true
			row, err := t.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ? AND kind = ?`, hash, store.TokenRefresh)
			if err != nil {
				return err
			}
			return scanToken(row, &old) // ErrNoRows → ErrNotFound
		}
		if err != nil {
			return err
		}
		for _, tok := range next {
			if err := insertToken(ctx, t, tok); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, mapErr("rotate refresh token", err)
	}
	if used {
		// The transaction only read; committing it changed nothing.
		return &old, fmt.Errorf("rotate refresh token: %w", store.ErrAlreadyUsed)
	}
	return &old, nil
}

// RevokeToken implements store.Tokens: this token only. Revoking twice keeps
// the first time.
func (s *Store) RevokeToken(ctx context.Context, hash string, at time.Time) (*store.Token, error) {
	row, err := s.wq.queryRow(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ? RETURNING `+tokenCols,
		ms(at), hash)
	if err != nil {
		return nil, mapErr("revoke token", err)
	}
	var tok store.Token
	if err := scanToken(row, &tok); err != nil {
		return nil, mapErr("revoke token", err)
	}
	return &tok, nil
}

// DeleteExpiredAuthCodes implements store.AuthCodes.
func (s *Store) DeleteExpiredAuthCodes(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete expired auth codes", `DELETE FROM auth_codes WHERE expires_at < ?`, ms(before))
}

// DeleteExpiredTokens implements store.Tokens.
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete expired tokens", `DELETE FROM tokens WHERE expires_at < ?`, ms(before))
}

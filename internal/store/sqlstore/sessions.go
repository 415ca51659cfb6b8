package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionCols = `id, user_id, csrf_secret, mfa_pending, user_agent, ip, created_at, last_seen_at, expires_at`

func scanSession(sc interface{ Scan(...any) error }, x *store.Session) error {
	var ca, ls, ea int64
	if err := sc.Scan(&x.ID, &x.UserID, &x.CSRFSecret, &x.MFAPending, &x.UserAgent, &x.IP, &ca, &ls, &ea); err != nil {
		return err
	}
	x.CreatedAt, x.LastSeenAt, x.ExpiresAt = fromMS(ca), fromMS(ls), fromMS(ea)
	return nil
}

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	_, err := s.wq.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.UserID, x.CSRFSecret, x.MFAPending, x.UserAgent, x.IP, ms(x.CreatedAt), ms(x.LastSeenAt), ms(x.ExpiresAt))
	return mapErr("create session", err)
}

// SessionByID implements store.Sessions.
func (s *Store) SessionByID(ctx context.Context, id string) (*store.Session, error) {
	row, err := s.rq.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("session by id", err)
	}
	x := new(store.Session)
	if err := scanSession(row, x); err != nil {
		return nil, mapErr("session by id", err)
	}
	return x, nil
}

// TouchSession implements store.Sessions.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, ms(at), id)
	return affectedOne("touch session", res, err)
}

// CompleteMFA implements store.Sessions.
func (s *Store) CompleteMFA(ctx context.Context, id string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE sessions SET mfa_pending = ?, last_seen_at = ? WHERE id = ?`, false, ms(at), id)
	return affectedOne("complete mfa", res, err)
}

// DeleteSession implements store.Sessions. Deleting a session that is gone
// already is not an error (sign-out is idempotent).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.wq.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return mapErr("delete session", err)
}

// DeleteUserSessions implements store.Sessions.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptID string) error {
	// exceptID "" matches no session id, so one statement covers both cases.
	_, err := s.wq.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, exceptID)
	return mapErr("delete user sessions", err)
}

// ListUserSessions implements store.Sessions, most recently used first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := s.rq.query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC, id`, userID)
	if err != nil {
		return nil, mapErr("list sessions", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var x store.Session
		if err := scanSession(rows, &x); err != nil {
			return nil, mapErr("list sessions", err)
		}
		out = append(out, x)
	}
	return out, mapErr("list sessions", rows.Err())
}

// DeleteExpiredSessions implements store.Sessions.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete expired sessions", `DELETE FROM sessions WHERE expires_at < ?`, ms(now))
}

func (s *Store) deleteCount(ctx context.Context, op, query string, args ...any) (int64, error) {
	res, err := s.wq.exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(op, err)
}

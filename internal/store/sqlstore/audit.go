package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// auditSubjectIndexed is the partial index audit_log_subject's predicate:
// token issuance and refresh, one entry per token response, are left out of
// it — they are the bulk of the log, every index entry is paid on the token
// endpoint, and a subject's history is read for its security events.
const auditSubjectIndexed = `type NOT IN ('token.issued', 'token.refreshed')`

const auditCols = `seq, at, type, actor_kind, actor_id, subject, client_addr, user_agent, request_id, outcome, details, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }, e *store.AuditEntry) error {
	var at int64
	if err := row.Scan(&e.Seq, &at, &e.Type, &e.ActorKind, &e.ActorID, &e.Subject, &e.ClientAddr, &e.UserAgent,
		&e.RequestID, &e.Outcome, &e.Details, &e.PrevHash, &e.Hash); err != nil {
		return err
	}
	e.At = fromMS(at)
	return nil
}

// AppendAudit implements store.Audit. Outside a transaction it goes
// through group commit, like token inserts: entries recorded right after a
// change share one commit with their neighbours.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEntry, hash func(*store.AuditEntry) string) error {
	fn := func(t *tx) error { return s.appendAuditBatch(ctx, t, []*auditJob{{e, hash}}) }
	if s.tx != nil {
		return mapErr("append audit", fn(s.tx))
	}
	return mapErr("append audit", s.batch.submit(ctx, &job{fn: fn, audit: &auditJob{e, hash}}))
}

// CreateTokensAudited implements store.Audit: the tokens and their entry in
// one transaction, through group commit.
func (s *Store) CreateTokensAudited(ctx context.Context, e *store.AuditEntry, hash func(*store.AuditEntry) string, tokens ...*store.Token) error {
	fn := func(t *tx) error {
		if err := insertTokens(ctx, t, tokens); err != nil {
			return err
		}
		return s.appendAuditBatch(ctx, t, []*auditJob{{e, hash}})
	}
	if s.tx != nil {
		return mapErr("create tokens", fn(s.tx))
	}
	return mapErr("create tokens", s.batch.submit(ctx, &job{fn: fn, tokens: tokens, audit: &auditJob{e, hash}}))
}

// appendAuditBatch appends entries, in order, in t. The head row is the
// one point every appender passes through: on PostgreSQL FOR UPDATE makes
// concurrent appenders (on any replica) queue there until the holder's
// transaction ends, so each reads the head the previous one wrote; on SQLite
// the IMMEDIATE write transaction already runs alone. A group commit reads
// and moves the head once for all its entries. The seq primary key is the
// database's guarantee that two entries never take the same place.
func (s *Store) appendAuditBatch(ctx context.Context, t *tx, entries []*auditJob) error {
	if len(entries) == 0 {
		return nil
	}
	q := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if s.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	row, err := t.queryRow(ctx, q)
	if err != nil {
		return err
	}
	var seq int64
	var prev string
	if err := row.Scan(&seq, &prev); err != nil {
		return err
	}
	for _, j := range entries {
		e := j.e
		seq++
		e.Seq, e.PrevHash = seq, prev
		if e.Details == "" {
			e.Details = "{}"
		}
		e.Hash = j.hash(e)
		prev = e.Hash
	}
	// One INSERT per auditChunk entries: on both databases a statement's
	// fixed cost (the driver, the database/sql bookkeeping, on PostgreSQL a
	// round trip) outweighs binding its rows, and a group commit of token
	// responses carries one entry per token.
	for len(entries) > 0 {
		n := min(len(entries), auditChunk)
		args := make([]any, 0, 13*n)
		for _, j := range entries[:n] {
			e := j.e
			args = append(args, e.Seq, ms(e.At), e.Type, e.ActorKind, e.ActorID, e.Subject, e.ClientAddr, e.UserAgent,
				e.RequestID, e.Outcome, e.Details, e.PrevHash, e.Hash)
		}
		if _, err := t.exec(ctx, auditInsert(n), args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	_, err = t.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, prev)
	return err
}

// auditChunk is the most entries one INSERT carries (13 parameters each).
const auditChunk = 32

// auditInsert is the INSERT of n audit entries.
func auditInsert(n int) string {
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_log (` + auditCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// ListAudit implements store.Audit.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	q := `SELECT ` + auditCols + ` FROM audit_log WHERE 1 = 1`
	var args []any
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.User != "" {
		q += ` AND (actor_id = ? OR subject = ?)`
		args = append(args, f.User, f.User)
	}
	if f.App != "" {
		q += ` AND (actor_id = ? OR subject = ?)`
		args = append(args, f.App, f.App)
	}
	if f.Subject != "" {
		// The predicate of the partial index audit_log_subject, spelled
		// as the index spells it, so both databases read through it.
		q += ` AND subject = ? AND ` + auditSubjectIndexed
		args = append(args, f.Subject)
	}
	if f.ClientAddr != "" {
		q += ` AND client_addr = ?`
		args = append(args, f.ClientAddr)
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, ms(f.Until))
	}
	if f.BeforeSeq > 0 {
		q += ` AND seq < ?`
		args = append(args, f.BeforeSeq)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)
	return s.auditRows(ctx, "list audit", q, args...)
}

// WalkAudit implements store.Audit.
func (s *Store) WalkAudit(ctx context.Context, afterSeq int64, limit int) ([]store.AuditEntry, error) {
	return s.auditRows(ctx, "walk audit", `SELECT `+auditCols+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
}

func (s *Store) auditRows(ctx context.Context, op, q string, args ...any) ([]store.AuditEntry, error) {
	rows, err := s.rq.query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		if err := scanAudit(rows, &e); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	return out, mapErr(op, rows.Err())
}

// AuditCheckpoint implements store.Audit.
func (s *Store) AuditCheckpoint(ctx context.Context) (store.AuditCheckpoint, error) {
	var c store.AuditCheckpoint
	row, err := s.rq.queryRow(ctx, `SELECT checkpoint_seq, checkpoint_hash, checkpoint_sig, checkpoint_at, seq, hash FROM audit_head WHERE id = 1`)
	if err != nil {
		return c, mapErr("audit checkpoint", err)
	}
	var at int64
	if err := row.Scan(&c.Seq, &c.Hash, &c.Signature, &at, &c.HeadSeq, &c.HeadHash); err != nil {
		return c, mapErr("audit checkpoint", err)
	}
	if at != 0 {
		c.At = fromMS(at)
	}
	return c, nil
}

// PruneAudit implements store.Audit. It holds the head lock like an append,
// so the entry it checkpoints cannot be the one an appender is chaining to
// at the same moment; the newest entry is never deleted.
func (s *Store) PruneAudit(ctx context.Context, before, now time.Time, sign func(seq int64, hash string) string) (int64, error) {
	q := `SELECT seq FROM audit_head WHERE id = 1`
	if s.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	var n int64
	err := s.inTx(ctx, func(t *tx) error {
		row, err := t.queryRow(ctx, q)
		if err != nil {
			return err
		}
		var head int64
		if err := row.Scan(&head); err != nil {
			return err
		}
		// Pruning deletes a prefix of the chain: everything before the
		// first entry recorded at or after before. There is no index on
		// at (every index costs the token endpoint an insert), so this walks
		// the primary key from the oldest entry, reading exactly the rows it
		// is about to delete.
		keep := head
		row, err = t.queryRow(ctx, `SELECT seq FROM audit_log WHERE at >= ? ORDER BY seq LIMIT 1`, ms(before))
		if err != nil {
			return err
		}
		switch err := row.Scan(&keep); {
		case errors.Is(err, sql.ErrNoRows):
			keep = head // all are older; the newest entry is never deleted
		case err != nil:
			return err
		}
		last := min(keep, head) - 1
		row, err = t.queryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, last)
		if err != nil {
			return err
		}
		var h string
		switch err := row.Scan(&h); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // nothing older left
		case err != nil:
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM audit_log WHERE seq <= ?`, last)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = t.exec(ctx, `UPDATE audit_head SET checkpoint_seq = ?, checkpoint_hash = ?, checkpoint_sig = ?, checkpoint_at = ? WHERE id = 1`,
			last, h, sign(last, h), ms(now))
		return err
	})
	if err != nil {
		return 0, mapErr("prune audit", err)
	}
	return n, nil
}

package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// goMigrations are the migrations whose SQL differs between the dialects;
// every other migration is one .sql file both run.
func goMigrations(dialect string) []*goose.Migration {
	return []*goose.Migration{auditLogLeaner(dialect)}
}

// auditLogLeaner takes the audit log's indexes off the token endpoint's
// insert path: every token response appends an entry, so each index is
// paid there. The subject index becomes partial, leaving out the token
// entries (see auditSubjectIndexed).
//
// The index on at goes on both dialects: pruning now walks the primary key
// from the oldest entry instead (PruneAudit). On SQLite, seq becomes the
// table's rowid: "BIGINT PRIMARY KEY" is a separate unique index beside the
// rowid b-tree, and only a column declared exactly "INTEGER PRIMARY KEY"
// aliases the rowid (https://sqlite.org/lang_createtable.html#rowid). A
// SQLite INTEGER holds 64 bits; on PostgreSQL it would hold 32, which is why
// this migration is written per dialect.
func auditLogLeaner(dialect string) *goose.Migration {
	up := []string{
		`DROP INDEX audit_log_at`,
		`DROP INDEX audit_log_subject`,
		`CREATE INDEX audit_log_subject ON audit_log (subject, seq) WHERE ` + auditSubjectIndexed,
	}
	down := []string{
		`CREATE INDEX audit_log_at ON audit_log (at)`,
		`DROP INDEX audit_log_subject`,
		`CREATE INDEX audit_log_subject ON audit_log (subject, seq)`,
	}
	if dialect == SQLite {
		cols := `seq, at, type, actor_kind, actor_id, subject, client_addr, user_agent, request_id, outcome, details, prev_hash, hash`
		// Rebuilt: dropping the old table drops its indexes with it.
		up = []string{
			`CREATE TABLE audit_log_rowid (
    seq         INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    type        TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    client_addr TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
)`,
			`INSERT INTO audit_log_rowid (` + cols + `) SELECT ` + cols + ` FROM audit_log ORDER BY seq`,
			`DROP TABLE audit_log`,
			`ALTER TABLE audit_log_rowid RENAME TO audit_log`,
			`CREATE INDEX audit_log_subject ON audit_log (subject, seq) WHERE ` + auditSubjectIndexed,
		}
		// Down keeps the rowid table: it holds the same rows and answers
		// the same queries as the one it replaced.
	}
	run := func(stmts []string) *goose.GoFunc {
		return &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			for _, q := range stmts {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}}
	}
	return goose.NewGoMigration(20, run(up), run(down))
}

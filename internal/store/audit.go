package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------- audit log

// Actor kinds of an audit entry.
const (
	ActorUser   = "user"
	ActorApp    = "app"
	ActorAdmin  = "admin"
	ActorSystem = "system"
)

// Outcomes of an audit entry.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditEntry is one append-only record of a security-relevant event. Seq is
// the entry's position in the hash chain (1, 2, 3, … with no gaps), PrevHash
// the Hash of the entry before it (or of the pruning checkpoint), and Hash
// is computed by the audit service over the other fields and PrevHash.
type AuditEntry struct {
	Seq        int64
	At         time.Time
	Type       string
	ActorKind  string
	ActorID    string
	Subject    string
	ClientAddr string
	UserAgent  string
	RequestID  string
	Outcome    string
	Details    string // a JSON object; "{}" when there is nothing to add
	PrevHash   string
	Hash       string
}

// AuditFilter selects entries for ListAudit. Zero fields do not filter.
type AuditFilter struct {
	Type string
	// User matches entries a user did or that were done to them (actor id
	// or subject).
	User string
	// App matches entries whose actor or subject is the app.
	App string
	// Subject matches entries done to this user or app (not those it did),
	// read through the subject index, which leaves out token.issued and
	// token.refreshed: a Subject filter never returns those two types.
	Subject    string
	ClientAddr string
	Since      time.Time // at >= Since
	Until      time.Time // at < Until
	// BeforeSeq is the cursor: only entries older than it (0: from the
	// newest).
	BeforeSeq int64
	Limit     int
}

// AuditCheckpoint is what pruning leaves of the entries it deleted: the
// position and hash of the last one, signed by the audit service so a
// verifier can start the chain from it.
type AuditCheckpoint struct {
	Seq       int64
	Hash      string
	Signature string
	At        time.Time
	// HeadSeq and HeadHash are the newest entry's, as the head row keeps
	// them (0 and "" for an empty chain), so a verifier notices entries cut
	// off the end.
	HeadSeq  int64
	HeadHash string
}

// Audit is the append-only, hash-chained audit log.
type Audit interface {
	// AppendAudit appends e at the head of the chain. It locks the chain
	// head for the rest of the transaction (PostgreSQL: SELECT … FOR UPDATE
	// on the one head row; SQLite transactions already run alone), sets
	// e.Seq and e.PrevHash from it, calls hash(e) for e.Hash, inserts e and
	// moves the head. Called on a Store InTx handed out, the entry commits
	// or rolls back with the caller's change; concurrent appenders queue on
	// the head, so the chain stays linear.
	AppendAudit(ctx context.Context, e *AuditEntry, hash func(*AuditEntry) string) error
	// CreateTokensAudited inserts tokens (as CreateTokens) and appends e, in
	// one transaction: token issuance and its audit entry commit together.
	CreateTokensAudited(ctx context.Context, e *AuditEntry, hash func(*AuditEntry) string, tokens ...*Token) error
	// ListAudit returns entries matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// WalkAudit returns up to limit entries with Seq > afterSeq in chain
	// order.
	WalkAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditEntry, error)
	// AuditCheckpoint returns the checkpoint of the last pruning; Seq 0
	// when nothing was ever pruned.
	AuditCheckpoint(ctx context.Context) (AuditCheckpoint, error)
	// PruneAudit deletes the entries older than before, except the newest
	// entry of the chain (so the head stays verifiable), and records a
	// checkpoint of the last deleted one signed by sign. It returns how many
	// it deleted.
	PruneAudit(ctx context.Context, before, now time.Time, sign func(seq int64, hash string) string) (int64, error)
}

// Package audit is the append-only, tamper-evident record of security events.
//
// Services call Record with the Store of the transaction that makes the
// change, so an entry exists exactly when the change does. Where a service
// has no transaction around its change, it records right after, in a
// transaction of its own (RecordAfter), and says so where it calls.
//
// Each entry is chained to the one before: Hash is SHA-256 over the entry's
// canonical form (see Hash), which includes the previous entry's hash, so
// altering, inserting or deleting a stored row breaks the chain at that
// entry. Pruning deletes old entries but leaves a checkpoint of the last one
// deleted (its position and hash), signed with an HMAC key derived from the
// master key, so verification starts from the checkpoint instead of from
// nothing.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Event types. Dotted names, area first; the type is what the admin filters
// on, the details carry the rest.
const (
	SignIn               = "sign_in"
	SignOut              = "session.ended"
	SecondFactorEnabled  = "second_factor.enabled"
	SecondFactorDisabled = "second_factor.disabled"
	SecondFactorFailed   = "second_factor.failed"
	RecoveryCodeUsed     = "recovery_code.used"
	PasswordChanged      = "password.changed"
	PasswordReset        = "password.reset"
	EmailChanged         = "email.changed"
	AuthorizationGranted = "authorization.granted"
	AuthorizationDenied  = "authorization.denied"
	AuthorizationRevoked = "authorization.revoked"
	TokenIssued          = "token.issued"
	TokenRefreshed       = "token.refreshed"
	TokenRevoked         = "token.revoked"
	ReplayDetected       = "replay.detected"
	PATCreated           = "pat.created"
	PATRevoked           = "pat.revoked"
	APIKeyCreated        = "api_key.created"
	APIKeyRevoked        = "api_key.revoked"
	AdminAction          = "admin.action"
	// SecurityAlert is a security notice sent to the account's owner (the
	// details' kind says which); it is also the operator's alert.
	SecurityAlert = "account.security_alert"
	// PATUsedAfterRevocation and APIKeyUsedAfterRevocation: a revoked
	// credential was presented again (recorded at most once a minute per
	// credential).
	PATUsedAfterRevocation    = "pat.used_after_revocation"
	APIKeyUsedAfterRevocation = "api_key.used_after_revocation"
)

// Meta is what the request adds to every entry recorded while serving it.
type Meta struct {
	ClientAddr string // through the trusted-proxy resolver
	UserAgent  string
	RequestID  string
}

type metaKey struct{}

// WithMeta returns ctx carrying m; the HTTP layer sets it once per request.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the Meta in ctx (zero outside a request).
func MetaFrom(ctx context.Context) Meta {
	m, _ := ctx.Value(metaKey{}).(Meta)
	return m
}

// Entry is what a service records. Request metadata and the time are added
// by Record.
type Entry struct {
	Type      string
	ActorKind string // store.ActorUser, ActorApp, ActorAdmin, ActorSystem
	ActorID   string
	Subject   string
	// Failed marks the outcome "failure"; success otherwise.
	Failed bool
	// Details are kept internal (a sign-in failure's reason lives here, not
	// in any answer). Never a secret: no passwords, no tokens.
	Details map[string]any
}

// Config holds the Log's dependencies.
type Config struct {
	Store store.Store
	Now   func() time.Time
	Log   *slog.Logger
	// CheckpointKey signs pruning checkpoints (a subkey of the master key).
	CheckpointKey []byte
	// Retention: entries older than this are pruned by Prune; 0 keeps
	// everything.
	Retention time.Duration
	// OmitTokenEntries leaves out TokenIssued and TokenRefreshed entries
	// (the operator's audit_token_entries: false).
	OmitTokenEntries bool
}

// Log records and verifies audit entries.
type Log struct {
	cfg Config
}

// New returns a Log.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil || cfg.Now == nil || cfg.Log == nil {
		return nil, errors.New("audit: Store, Now and Log are required")
	}
	if len(cfg.CheckpointKey) < 16 {
		return nil, errors.New("audit: checkpoint key too short")
	}
	return &Log{cfg: cfg}, nil
}

// Record appends e in tx, the transaction of the change it records: an
// error here rolls the change back, so no change goes unrecorded.
func (l *Log) Record(ctx context.Context, tx store.Store, e Entry) error {
	if l == nil || l.omits(e.Type) {
		return nil
	}
	se, err := l.entry(ctx, e)
	if err != nil {
		return err
	}
	return tx.AppendAudit(ctx, se, Hash)
}

// RecordAfter appends e in a transaction of its own, for changes made
// without one; a failure is logged, since the change is already done.
func (l *Log) RecordAfter(ctx context.Context, e Entry) {
	if l == nil || l.omits(e.Type) {
		return
	}
	if err := l.Record(context.WithoutCancel(ctx), l.cfg.Store, e); err != nil {
		l.cfg.Log.Error("audit: recording failed", "type", e.Type, "err", err)
	}
}

func (l *Log) entry(ctx context.Context, e Entry) (*store.AuditEntry, error) {
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details) // map keys come out sorted
		if err != nil {
			return nil, fmt.Errorf("audit: details: %w", err)
		}
		details = string(b)
	}
	kind := e.ActorKind
	if kind == "" {
		kind = store.ActorSystem
	}
	outcome := store.OutcomeSuccess
	if e.Failed {
		outcome = store.OutcomeFailure
	}
	m := MetaFrom(ctx)
	return &store.AuditEntry{
		At: l.cfg.Now(), Type: e.Type, ActorKind: kind, ActorID: e.ActorID, Subject: e.Subject,
		ClientAddr: m.ClientAddr, UserAgent: m.UserAgent, RequestID: m.RequestID,
		Outcome: outcome, Details: details,
	}, nil
}

// omits reports whether entries of type typ are left out by configuration.
func (l *Log) omits(typ string) bool {
	return l.cfg.OmitTokenEntries && (typ == TokenIssued || typ == TokenRefreshed)
}

// Hash is the entry's chain hash: lowercase hex SHA-256 of the canonical
// form, which is the line "gatehouse-audit-v1" followed by each field as
// "<byte length>:<value>\n", in this order: seq (decimal), at (Unix
// milliseconds, decimal), type, actor_kind, actor_id, subject, client_addr,
// user_agent, request_id, outcome, details, prev_hash. The length prefixes
// make the form unambiguous whatever the fields contain.
func Hash(e *store.AuditEntry) string {
	// Written into one buffer and hashed at once: every token issued adds
	// an entry, and building each field as its own string cost a dozen
	// allocations per entry.
	var buf [512]byte
	b := append(buf[:0], "gatehouse-audit-v1\n"...)
	var num [20]byte
	b = appendField(b, strconv.AppendInt(num[:0], e.Seq, 10))
	b = appendField(b, strconv.AppendInt(num[:0], e.At.UnixMilli(), 10))
	for _, f := range [...]string{
		e.Type, e.ActorKind, e.ActorID, e.Subject, e.ClientAddr, e.UserAgent, e.RequestID, e.Outcome, e.Details, e.PrevHash,
	} {
		b = appendField(b, f)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// appendField appends one field of Hash's canonical form: "<byte
// length>:<value>\n".
func appendField[T string | []byte](b []byte, f T) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	b = append(b, f...)
	return append(b, '\n')
}

func (l *Log) sign(seq int64, hash string) string {
	m := hmac.New(sha256.New, l.cfg.CheckpointKey)
	m.Write([]byte("gatehouse-audit-checkpoint-v1\n" + strconv.FormatInt(seq, 10) + "\n" + hash))
	return hex.EncodeToString(m.Sum(nil))
}

// Break is where the chain stops being what was written.
type Break struct {
	Seq    int64  // the first entry that does not verify (the checkpoint's seq for a bad checkpoint)
	Reason string // what is wrong with it
}

func (b *Break) String() string { return fmt.Sprintf("entry %d: %s", b.Seq, b.Reason) }

// Verify walks the chain from the pruning checkpoint (or from the start)
// and returns the first break, nil when every entry verifies, and how many
// entries it checked.
func (l *Log) Verify(ctx context.Context) (*Break, int, error) {
	cp, err := l.cfg.Store.AuditCheckpoint(ctx)
	if err != nil {
		return nil, 0, err
	}
	if cp.Seq > 0 && !hmac.Equal([]byte(cp.Signature), []byte(l.sign(cp.Seq, cp.Hash))) {
		return &Break{Seq: cp.Seq, Reason: "pruning checkpoint signature does not verify"}, 0, nil
	}
	next, prev, checked := cp.Seq+1, cp.Hash, 0
	for {
		page, err := l.cfg.Store.WalkAudit(ctx, next-1, 500)
		if err != nil {
			return nil, checked, err
		}
		for i := range page {
			e := &page[i]
			switch {
			case e.Seq != next:
				return &Break{Seq: next, Reason: fmt.Sprintf("missing (the chain goes on at %d)", e.Seq)}, checked, nil
			case e.PrevHash != prev:
				return &Break{Seq: e.Seq, Reason: "prev_hash is not the previous entry's hash"}, checked, nil
			case Hash(e) != e.Hash:
				return &Break{Seq: e.Seq, Reason: "contents do not match the hash (altered)"}, checked, nil
			}
			next, prev = e.Seq+1, e.Hash
			checked++
		}
		if len(page) < 500 {
			break
		}
	}
	if cp.HeadSeq != next-1 || cp.HeadHash != prev {
		return &Break{Seq: next, Reason: fmt.Sprintf("missing (the chain head is %d)", cp.HeadSeq)}, checked, nil
	}
	return nil, checked, nil
}

// Prune deletes the entries older than the retention (nothing when it is
// 0), keeping a signed checkpoint of the last one deleted.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	if l.cfg.Retention <= 0 {
		return 0, nil
	}
	now := l.cfg.Now()
	return l.cfg.Store.PruneAudit(ctx, now.Add(-l.cfg.Retention), now, l.sign)
}

// CreateTokens stores tokens with e's entry in one transaction (through the
// store's group commit, as token inserts are), or only the tokens when the
// Log is nil or leaves token entries out.
func (l *Log) CreateTokens(ctx context.Context, st store.Store, e Entry, tokens ...*store.Token) error {
	if l == nil || l.omits(e.Type) {
		return st.CreateTokens(ctx, tokens...)
	}
	se, err := l.entry(ctx, e)
	if err != nil {
		return err
	}
	return st.CreateTokensAudited(ctx, se, Hash, tokens...)
}

// List returns entries matching f, newest first.
func (l *Log) List(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return l.cfg.Store.ListAudit(ctx, f)
}

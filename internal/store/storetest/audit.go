package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// auditCases are listed in cases().
func auditCases() []testCase {
	return []testCase{
		{"audit/append_walk", testAuditAppendWalk},
		{"audit/list_filters", testAuditListFilters},
		{"audit/in_tx_rolls_back", testAuditInTxRollback},
		{"audit/prune_checkpoint", testAuditPrune},
		{"audit/tokens_audited", testAuditTokens},
		{"race/audit_append", testRaceAuditAppend},
		{"race/audit_append_grouped", testRaceAuditAppendGrouped},
	}
}

// testHash stands in for the audit service's hash: anything that depends on
// the seq and the previous hash shows whether the store chained correctly.
func testHash(e *store.AuditEntry) string {
	return fmt.Sprintf("h(%d|%s|%s)", e.Seq, e.Type, e.PrevHash)
}

func (f *fixture) audit(typ, actor, subject string, at time.Time) *store.AuditEntry {
	f.t.Helper()
	e := &store.AuditEntry{At: at, Type: typ, ActorKind: store.ActorUser, ActorID: actor, Subject: subject,
		ClientAddr: "192.0.2.1", UserAgent: "ua", RequestID: "rq", Outcome: store.OutcomeSuccess, Details: `{"k":"v"}`}
	must(f.t, f.s.AppendAudit(f.ctx, e, testHash))
	return e
}

func testAuditAppendWalk(t *testing.T, f *fixture) {
	a := f.audit("sign_in", "u1", "u1", f.now)
	b := f.audit("token.issued", "app1", "u1", f.at(time.Second))
	equal(t, "first seq", a.Seq, int64(1))
	equal(t, "first prev", a.PrevHash, "")
	equal(t, "second seq", b.Seq, int64(2))
	equal(t, "second prev", b.PrevHash, a.Hash)
	got, err := f.s.WalkAudit(f.ctx, 0, 10)
	must(t, err)
	equal(t, "walked", len(got), 2)
	g := got[0]
	equal(t, "seq", g.Seq, a.Seq)
	equal(t, "at", g.At, f.now.Truncate(time.Millisecond))
	equal(t, "type", g.Type, "sign_in")
	equal(t, "actor kind", g.ActorKind, store.ActorUser)
	equal(t, "actor", g.ActorID, "u1")
	equal(t, "subject", g.Subject, "u1")
	equal(t, "addr", g.ClientAddr, "192.0.2.1")
	equal(t, "ua", g.UserAgent, "ua")
	equal(t, "request id", g.RequestID, "rq")
	equal(t, "outcome", g.Outcome, store.OutcomeSuccess)
	equal(t, "details", g.Details, `{"k":"v"}`)
	equal(t, "hash", g.Hash, a.Hash)
	got, err = f.s.WalkAudit(f.ctx, 1, 10)
	must(t, err)
	equal(t, "after 1", len(got), 1)
	equal(t, "after 1 seq", got[0].Seq, int64(2))
	cp, err := f.s.AuditCheckpoint(f.ctx)
	must(t, err)
	equal(t, "no checkpoint", cp.Seq, int64(0))
	equal(t, "head seq", cp.HeadSeq, b.Seq)
	equal(t, "head hash", cp.HeadHash, b.Hash)
}

func testAuditListFilters(t *testing.T, f *fixture) {
	f.audit("sign_in", "u1", "u1", f.now)
	f.audit("token.issued", "app1", "u2", f.at(time.Minute))
	f.audit("sign_in", "u2", "u2", f.at(2*time.Minute))
	f.audit("app.created", "u1", "app1", f.at(3*time.Minute))
	seqs := func(fl store.AuditFilter) []int64 {
		t.Helper()
		got, err := f.s.ListAudit(f.ctx, fl)
		must(t, err)
		var out []int64
		for _, e := range got {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all newest first", store.AuditFilter{}, []int64{4, 3, 2, 1}},
		{"type", store.AuditFilter{Type: "sign_in"}, []int64{3, 1}},
		{"user actor or subject", store.AuditFilter{User: "u2"}, []int64{3, 2}},
		{"app", store.AuditFilter{App: "app1"}, []int64{4, 2}},
		{"subject only", store.AuditFilter{Subject: "u1"}, []int64{1}},
		{"type and subject", store.AuditFilter{Type: "sign_in", Subject: "u2"}, []int64{3}},
		{"since", store.AuditFilter{Since: f.at(time.Minute)}, []int64{4, 3, 2}},
		{"until", store.AuditFilter{Until: f.at(time.Minute)}, []int64{1}},
		{"cursor", store.AuditFilter{BeforeSeq: 3}, []int64{2, 1}},
		{"limit", store.AuditFilter{Limit: 2}, []int64{4, 3}},
		{"address", store.AuditFilter{ClientAddr: "198.51.100.7"}, nil},
	} {
		equal(t, c.name, fmt.Sprint(seqs(c.f)), fmt.Sprint(c.want))
	}
}

func testAuditInTxRollback(t *testing.T, f *fixture) {
	f.audit("a", "u", "u", f.now)
	err := f.s.InTx(f.ctx, func(tx store.Store) error {
		e := &store.AuditEntry{At: f.now, Type: "b", ActorKind: store.ActorSystem, Outcome: store.OutcomeSuccess}
		if err := tx.AppendAudit(f.ctx, e, testHash); err != nil {
			return err
		}
		return fmt.Errorf("boom")
	})
	if err == nil {
		t.Fatal("InTx returned nil")
	}
	// The rolled-back entry left no trace: the next one takes its place.
	c := f.audit("c", "u", "u", f.now)
	equal(t, "seq after rollback", c.Seq, int64(2))
	got, err := f.s.WalkAudit(f.ctx, 0, 10)
	must(t, err)
	equal(t, "entries", len(got), 2)
	equal(t, "chained to the committed one", c.PrevHash, got[0].Hash)
}

func testAuditPrune(t *testing.T, f *fixture) {
	for i := range 5 {
		f.audit("e", "u", "u", f.at(time.Duration(i)*time.Hour))
	}
	sign := func(seq int64, hash string) string { return fmt.Sprintf("sig(%d,%s)", seq, hash) }
	n, err := f.s.PruneAudit(f.ctx, f.at(150*time.Minute), f.at(10*time.Hour), sign)
	must(t, err)
	equal(t, "pruned", n, int64(3))
	cp, err := f.s.AuditCheckpoint(f.ctx)
	must(t, err)
	equal(t, "checkpoint seq", cp.Seq, int64(3))
	equal(t, "checkpoint hash", cp.Hash, "h(3|e|h(2|e|h(1|e|)))")
	equal(t, "checkpoint sig", cp.Signature, sign(3, cp.Hash))
	equal(t, "checkpoint at", cp.At, f.at(10*time.Hour).Truncate(time.Millisecond))
	got, err := f.s.WalkAudit(f.ctx, 0, 10)
	must(t, err)
	equal(t, "left", len(got), 2)
	equal(t, "continues from the checkpoint", got[0].PrevHash, cp.Hash)
	// Everything old: the newest entry stays, so the head is still there.
	n, err = f.s.PruneAudit(f.ctx, f.at(100*time.Hour), f.at(100*time.Hour), sign)
	must(t, err)
	equal(t, "pruned all but head", n, int64(1))
	got, err = f.s.WalkAudit(f.ctx, 0, 10)
	must(t, err)
	equal(t, "head kept", len(got), 1)
	equal(t, "head seq", got[0].Seq, int64(5))
	n, err = f.s.PruneAudit(f.ctx, f.at(100*time.Hour), f.at(100*time.Hour), sign)
	must(t, err)
	equal(t, "nothing more", n, int64(0))
	next := f.audit("e", "u", "u", f.now)
	equal(t, "appends go on", next.Seq, int64(6))
}

// testRaceAuditAppend: appenders racing (each in its own transaction, as
// services write them) leave one linear chain: seq 1..n with no gaps, each
// entry's prev_hash the hash of the one before.
func testRaceAuditAppend(t *testing.T, f *fixture) {
	errs := race(raceN, func(i int) error {
		for {
			err := f.s.InTx(f.ctx, func(tx store.Store) error {
				e := &store.AuditEntry{At: f.now, Type: fmt.Sprintf("t%d", i), ActorKind: store.ActorSystem, Outcome: store.OutcomeSuccess}
				return tx.AppendAudit(f.ctx, e, testHash)
			})
			if errorsIsSerialization(err) {
				continue
			}
			return err
		}
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := f.s.WalkAudit(f.ctx, 0, 1000)
	must(t, err)
	equal(t, "entries", len(got), raceN)
	prev := ""
	for i, e := range got {
		equal(t, "seq", e.Seq, int64(i+1))
		equal(t, fmt.Sprintf("prev of %d", e.Seq), e.PrevHash, prev)
		equal(t, fmt.Sprintf("hash of %d", e.Seq), e.Hash, testHash(&e))
		prev = e.Hash
	}
}

func errorsIsSerialization(err error) bool { return errors.Is(err, store.ErrSerialization) }

func testAuditTokens(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID, func(c *store.Client) { c.GrantTypes = []string{"client_credentials"} })
	tok := &store.Token{Hash: "cc", ID: "cc-id", Kind: store.TokenAccess, ClientID: c.ID, UserID: u.ID,
		Scopes: []string{"api:read"}, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}
	e := &store.AuditEntry{At: f.now, Type: "token.issued", ActorKind: store.ActorApp, ActorID: c.ID, Outcome: store.OutcomeSuccess}
	must(t, f.s.CreateTokensAudited(f.ctx, e, testHash, tok))
	_, err := f.s.TokenByHash(f.ctx, tok.Hash)
	must(t, err)
	equal(t, "seq", e.Seq, int64(1))
	// A token that cannot be stored takes its entry with it.
	dup := *tok
	e2 := &store.AuditEntry{At: f.now, Type: "token.issued", ActorKind: store.ActorApp, Outcome: store.OutcomeSuccess}
	wantErr(t, f.s.CreateTokensAudited(f.ctx, e2, testHash, &dup), store.ErrConflict)
	got, err := f.s.WalkAudit(f.ctx, 0, 10)
	must(t, err)
	equal(t, "entries", len(got), 1)
}

// testRaceAuditAppendGrouped: appends outside a transaction share group
// commits; the chain still comes out linear.
func testRaceAuditAppendGrouped(t *testing.T, f *fixture) {
	errs := race(raceN, func(i int) error {
		for {
			e := &store.AuditEntry{At: f.now, Type: fmt.Sprintf("t%d", i), ActorKind: store.ActorSystem, Outcome: store.OutcomeSuccess}
			err := f.s.AppendAudit(f.ctx, e, testHash)
			if errorsIsSerialization(err) {
				continue
			}
			return err
		}
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := f.s.WalkAudit(f.ctx, 0, 1000)
	must(t, err)
	equal(t, "entries", len(got), raceN)
	prev := ""
	for i, e := range got {
		equal(t, "seq", e.Seq, int64(i+1))
		equal(t, fmt.Sprintf("prev of %d", e.Seq), e.PrevHash, prev)
		equal(t, fmt.Sprintf("hash of %d", e.Seq), e.Hash, testHash(&e))
		prev = e.Hash
	}
}

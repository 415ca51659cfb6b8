package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backend"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// forEachBackend runs fn on a fresh SQLite store and, when the PostgreSQL
// test URL is set, a fresh PostgreSQL schema; raw is a second handle on the
// same database, for tampering behind the store's back.
func forEachBackend(t *testing.T, fn func(t *testing.T, st *sqlstore.Store, raw *sql.DB)) {
	open := func(t *testing.T, dsn, driver, rawDSN string) {
		ctx := context.Background()
		st, err := backend.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open(driver, rawDSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		fn(t, st, raw)
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		open(t, path, "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "audittest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		open(t, dsn, "pgx", dsn)
	})
}

func newLog(t *testing.T, st store.Store, c *clock, retention time.Duration) *audit.Log {
	t.Helper()
	l, err := audit.New(audit.Config{Store: st, Now: c.Now, Log: quiet(), CheckpointKey: []byte("0123456789abcdef0123456789abcdef"), Retention: retention})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func record(t *testing.T, ctx context.Context, l *audit.Log, st store.Store, e audit.Entry) {
	t.Helper()
	if err := st.InTx(ctx, func(tx store.Store) error { return l.Record(ctx, tx, e) }); err != nil {
		t.Fatal(err)
	}
}

func verifyOK(t *testing.T, l *audit.Log, want int) {
	t.Helper()
	b, n, err := l.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		t.Fatalf("verify: break at %s", b)
	}
	if n != want {
		t.Fatalf("verify checked %d entries, want %d", n, want)
	}
}

func TestRecordCarriesRequestMetadata(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, _ *sql.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
		l := newLog(t, st, c, 0)
		ctx := audit.WithMeta(t.Context(), audit.Meta{ClientAddr: "203.0.113.9", UserAgent: "curl/8", RequestID: "req-1"})
		record(t, ctx, l, st, audit.Entry{Type: audit.SignIn, ActorKind: store.ActorUser, ActorID: "u1", Subject: "u1",
			Failed: true, Details: map[string]any{"reason": "bad_password"}})
		got, err := l.List(t.Context(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%d entries", len(got))
		}
		e := got[0]
		want := store.AuditEntry{Seq: 1, At: c.Now(), Type: audit.SignIn, ActorKind: store.ActorUser, ActorID: "u1", Subject: "u1",
			ClientAddr: "203.0.113.9", UserAgent: "curl/8", RequestID: "req-1", Outcome: store.OutcomeFailure,
			Details: `{"reason":"bad_password"}`, PrevHash: ""}
		want.Hash = audit.Hash(&want)
		if fmt.Sprint(e) != fmt.Sprint(want) || !e.At.Equal(want.At) {
			t.Fatalf("entry\n got %+v\nwant %+v", e, want)
		}
		verifyOK(t, l, 1)
	})
}

func TestRecordRollsBackWithTheChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, _ *sql.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
		l := newLog(t, st, c, 0)
		boom := errors.New("boom")
		err := st.InTx(t.Context(), func(tx store.Store) error {
			if err := l.Record(t.Context(), tx, audit.Entry{Type: audit.PATCreated}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		verifyOK(t, l, 0)
	})
}

// TestTamperingIsCaught alters, deletes and reorders stored rows with raw
// SQL; verify names the first entry that no longer checks out.
func TestTamperingIsCaught(t *testing.T) {
	cases := []struct {
		name   string
		sql    string
		seq    int64
		reason string
	}{
		{"details altered", `UPDATE audit_log SET details = '{"reason":"nothing"}' WHERE seq = 3`, 3, "altered"},
		{"outcome flipped", `UPDATE audit_log SET outcome = 'success' WHERE seq = 2`, 2, "altered"},
		{"row deleted", `DELETE FROM audit_log WHERE seq = 4`, 4, "missing"},
		{"tail cut off", `DELETE FROM audit_log WHERE seq = 5`, 5, "missing"},
		{"row rehashed", `UPDATE audit_log SET actor_id = 'mallory', hash = 'ff' WHERE seq = 2`, 2, "altered"},
		{"checkpoint forged", `UPDATE audit_head SET checkpoint_seq = 1, checkpoint_hash = 'x', checkpoint_sig = 'y'`, 1, "checkpoint"},
	}
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, raw *sql.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				// Each case starts from its own chain of five: clear the log.
				if _, err := raw.Exec(`DELETE FROM audit_log`); err != nil {
					t.Fatal(err)
				}
				if _, err := raw.Exec(`UPDATE audit_head SET seq = 0, hash = '', checkpoint_seq = 0, checkpoint_hash = '', checkpoint_sig = ''`); err != nil {
					t.Fatal(err)
				}
				c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
				l := newLog(t, st, c, 0)
				for i := range 5 {
					record(t, t.Context(), l, st, audit.Entry{Type: audit.SignIn, ActorKind: store.ActorUser, ActorID: "u", Subject: "u",
						Failed: i == 1, Details: map[string]any{"reason": fmt.Sprint("r", i)}})
				}
				verifyOK(t, l, 5)
				if _, err := raw.Exec(tc.sql); err != nil {
					t.Fatal(err)
				}
				b, _, err := l.Verify(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if b == nil || b.Seq != tc.seq || !strings.Contains(b.Reason, tc.reason) {
					t.Fatalf("break = %v; want at %d (%s)", b, tc.seq, tc.reason)
				}
			})
		}
	})
}

func TestPruneKeepsChainVerifiable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, raw *sql.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
		l := newLog(t, st, c, 48*time.Hour)
		for range 6 {
			record(t, t.Context(), l, st, audit.Entry{Type: audit.TokenIssued, ActorKind: store.ActorApp, ActorID: "app"})
			c.Advance(24 * time.Hour)
		}
		// Now is 6 days after the first entry: the first four are older
		// than two days.
		n, err := l.Prune(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Fatalf("pruned %d, want 4", n)
		}
		verifyOK(t, l, 2)
		record(t, t.Context(), l, st, audit.Entry{Type: audit.TokenIssued})
		verifyOK(t, l, 3)
		// Without retention nothing is pruned.
		if n, err := newLog(t, st, c, 0).Prune(t.Context()); err != nil || n != 0 {
			t.Fatalf("retention 0 pruned %d (%v)", n, err)
		}
		// A checkpoint signed with another key does not verify.
		other, err := audit.New(audit.Config{Store: st, Now: c.Now, Log: quiet(), CheckpointKey: []byte("another key of 32 bytes........."), Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if b, _, _ := other.Verify(t.Context()); b == nil || b.Seq != 4 {
			t.Fatalf("foreign key verify = %v", b)
		}
	})
}

// TestConcurrentRecordsStayLinear: services record from many requests at
// once; the chain stays one line and verifies.
func TestConcurrentRecordsStayLinear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, _ *sql.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
		l := newLog(t, st, c, 0)
		const n, each = 16, 5
		var wg sync.WaitGroup
		errs := make(chan error, n*each)
		for i := range n {
			wg.Go(func() {
				for j := range each {
					for {
						err := st.InTx(t.Context(), func(tx store.Store) error {
							return l.Record(t.Context(), tx, audit.Entry{Type: audit.TokenIssued, ActorID: fmt.Sprint(i, "-", j)})
						})
						if errors.Is(err, store.ErrSerialization) {
							continue
						}
						errs <- err
						break
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		verifyOK(t, l, n*each)
	})
}

// With audit_token_entries off, token issuance and refresh leave no entry;
// every other type is still recorded and the chain stays whole.
func TestOmitTokenEntriesLeavesOnlyTokenTypesOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store, _ *sql.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
		l, err := audit.New(audit.Config{Store: st, Now: c.Now, Log: quiet(),
			CheckpointKey: []byte("0123456789abcdef0123456789abcdef"), OmitTokenEntries: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		for _, typ := range []string{audit.TokenIssued, audit.SignIn, audit.TokenRefreshed, audit.TokenRevoked} {
			record(t, ctx, l, st, audit.Entry{Type: typ, ActorKind: store.ActorApp, ActorID: "app1", Subject: "u1"})
			l.RecordAfter(ctx, audit.Entry{Type: typ, ActorKind: store.ActorApp, ActorID: "app1", Subject: "u1"})
		}
		got, err := l.List(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range got {
			types = append(types, e.Type)
		}
		if want := []string{audit.TokenRevoked, audit.TokenRevoked, audit.SignIn, audit.SignIn}; fmt.Sprint(types) != fmt.Sprint(want) {
			t.Fatalf("recorded %v, want %v", types, want)
		}
		verifyOK(t, l, 4)
	})
}

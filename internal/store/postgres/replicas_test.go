package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TestReplicasFlushLastUseTogether: three replicas flush "last used" stamps
// of the same 400 PATs at the same instant, several rounds in a row, as
// their 30 s timers do once aligned. Each batch updates rows inside one
// transaction; in an unordered walk two replicas lock rows in opposite
// orders and PostgreSQL aborts one (SQLSTATE 40P01). Every flush must
// succeed and every PAT must end with the latest stamp.
func TestReplicasFlushLastUseTogether(t *testing.T) {
	srv := newServer(t)
	dsn := srv.schemaURL(t)
	const replicas, pats, rounds = 3, 400, 5
	ctx := t.Context()
	st := srv.open(t, dsn)
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	stores := []store.Store{st}
	for range replicas - 1 {
		stores = append(stores, srv.open(t, dsn))
	}
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	u := &store.User{ID: "u1", Email: "u1@example.com", PasswordHash: "h", CredentialsChangedAt: base, CreatedAt: base, UpdatedAt: base}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, pats)
	for i := range ids {
		ids[i] = fmt.Sprintf("pat-%03d", i)
		if err := st.CreatePAT(ctx, &store.PAT{ID: ids[i], UserID: u.ID, Hash: "h-" + ids[i], CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]time.Time{}
	for round := range rounds {
		// Overlapping batches: replica r holds every PAT but the r-th
		// hundred, with stamps that differ per replica.
		batches := make([]map[string]time.Time, replicas)
		for r := range batches {
			batches[r] = map[string]time.Time{}
			for i, id := range ids {
				if i/100 == r {
					continue
				}
				at := base.Add(time.Duration(round)*time.Minute + time.Duration(r*pats+i)*time.Millisecond)
				batches[r][id] = at
				if at.After(want[id]) {
					want[id] = at
				}
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, replicas)
		for r := range replicas {
			wg.Go(func() {
				<-start
				errs[r] = stores[r].TouchPATs(ctx, batches[r])
			})
		}
		close(start)
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("round %d, replica %d: %v", round, r, err)
			}
		}
	}
	list, err := st.ListPATs(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != pats {
		t.Fatalf("%d PATs listed, want %d", len(list), pats)
	}
	for _, p := range list {
		if p.LastUsedAt == nil || !p.LastUsedAt.Equal(want[p.ID]) {
			t.Fatalf("%s: LastUsedAt %v, want %v", p.ID, p.LastUsedAt, want[p.ID])
		}
	}
}

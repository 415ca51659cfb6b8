package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// A topic's own policy sets its retries and backoff; the handler learns
// which attempt it runs and whether it is the last.
func TestTopicPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		o := newOutbox(t, st, c, nil, outbox.Options{MaxAttempts: 2, BaseDelay: time.Second, MaxDelay: time.Second})
		type seen struct {
			n    int
			last bool
		}
		var (
			mu  sync.Mutex
			got []seen
		)
		o.HandlePolicy("slow", func(ctx context.Context, _ string) error {
			n, last := outbox.Attempt(ctx)
			mu.Lock()
			got = append(got, seen{n, last})
			mu.Unlock()
			return errors.New("down")
		}, outbox.Policy{MaxAttempts: 4, BaseDelay: time.Hour, MaxDelay: 2 * time.Hour})
		id, err := o.Enqueue(ctx, st, "slow", "p")
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if n, err := o.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			m, err := st.OutboxByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.FailedAt == nil {
				// The topic's backoff: at least an hour, not the default second.
				if d := m.NextAttemptAt.Sub(c.Now()); d < time.Hour || d > 3*time.Hour {
					t.Fatalf("next attempt in %s", d)
				}
				c.Advance(4 * time.Hour)
			}
		}
		m, _ := st.OutboxByID(ctx, id)
		if m.FailedAt == nil || m.Attempts != 4 {
			t.Fatalf("after 4 attempts: %+v", m)
		}
		want := []seen{{1, false}, {2, false}, {3, false}, {4, true}}
		if len(got) != len(want) {
			t.Fatalf("attempts %v", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("attempts %v, want %v", got, want)
			}
		}
		if n, _ := outbox.Attempt(ctx); n != 0 {
			t.Fatalf("Attempt outside a delivery = %d", n)
		}
		if d := o.TopicBackoff("slow", 1); d < time.Hour {
			t.Fatalf("TopicBackoff = %s", d)
		}
	})
}

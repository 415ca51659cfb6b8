package outbox_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/internal/outbox"
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
// test URL is set, on a fresh PostgreSQL schema.
func forEachBackend(t *testing.T, fn func(t *testing.T, st *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		ctx := context.Background()
		st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		dsn, drop, err := postgres.NewSchema(ctx, pgtest.URL(t), "outboxtest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		st, err := backend.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		fn(t, st)
	})
}

func newOutbox(t *testing.T, st store.Store, c *clock, reg prometheus.Registerer, opts outbox.Options) *outbox.Outbox {
	t.Helper()
	o, err := outbox.New(st, c.Now, rand.Reader, quiet(), reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDeliverRetryFail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		reg := prometheus.NewRegistry()
		o := newOutbox(t, st, c, reg, outbox.Options{MaxAttempts: 3, BaseDelay: time.Minute, MaxDelay: time.Hour})
		var (
			mu   sync.Mutex
			got  []string
			fail = map[string]error{}
		)
		o.Handle("t", func(_ context.Context, p string) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, p)
			return fail[p]
		})
		fail["flaky"] = errors.New("connection refused")
		fail["bad"] = outbox.Permanent(errors.New("550 no such user"))

		if _, err := o.Enqueue(ctx, st, "nobody-handles", "x"); err == nil {
			t.Fatal("enqueue for an unknown topic accepted")
		}
		okID, err := o.Enqueue(ctx, st, "t", "ok")
		if err != nil {
			t.Fatal(err)
		}
		flakyID, _ := o.Enqueue(ctx, st, "t", "flaky")
		badID, _ := o.Enqueue(ctx, st, "t", "bad")
		// Rolled back with the caller's change: never delivered.
		boom := errors.New("boom")
		if err := st.InTx(ctx, func(tx store.Store) error {
			if _, err := o.Enqueue(ctx, tx, "t", "rolled-back"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}

		if n, err := o.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce = %d, %v; want 3", n, err)
		}
		state := func(id string) *store.OutboxMessage {
			m, err := st.OutboxByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		if state(okID).DoneAt == nil {
			t.Fatal("ok not done")
		}
		if m := state(badID); m.FailedAt == nil || m.Attempts != 1 {
			t.Fatalf("permanent failure: %+v", m)
		}
		m := state(flakyID)
		if m.DoneAt != nil || m.FailedAt != nil || m.LastError != "connection refused" {
			t.Fatalf("flaky after one try: %+v", m)
		}
		// Backoff: not due before BaseDelay, due by 1.5×BaseDelay.
		if d := m.NextAttemptAt.Sub(c.Now()); d < time.Minute || d > 90*time.Second {
			t.Fatalf("first retry in %v, want 1m..1m30s", d)
		}
		if n, _ := o.RunOnce(ctx); n != 0 {
			t.Fatalf("claimed %d before the retry was due", n)
		}
		c.Advance(90 * time.Second)
		if n, _ := o.RunOnce(ctx); n != 1 {
			t.Fatalf("second attempt claimed %d", n)
		}
		m = state(flakyID)
		if d := m.NextAttemptAt.Sub(c.Now()); d < 2*time.Minute || d > 3*time.Minute {
			t.Fatalf("second retry in %v, want 2m..3m", d)
		}
		c.Advance(3 * time.Minute)
		o.RunOnce(ctx)
		if m := state(flakyID); m.FailedAt == nil || m.Attempts != 3 {
			t.Fatalf("after MaxAttempts: %+v", m)
		}
		mu.Lock()
		for _, p := range got {
			if p == "rolled-back" {
				t.Fatal("a rolled-back message was delivered")
			}
		}
		mu.Unlock()
		for _, c := range []struct {
			outcome string
			want    float64
		}{{"delivered", 1}, {"retry", 2}, {"failed", 2}} {
			var m dto.Metric
			if err := o.DeliveriesMetric().WithLabelValues("t", c.outcome).Write(&m); err != nil {
				t.Fatal(err)
			}
			v := m.GetCounter().GetValue()
			if v != c.want {
				t.Errorf("deliveries{outcome=%s} = %v, want %v", c.outcome, v, c.want)
			}
		}
	})
}

// TestRunWorkersRace: several workers (as on several replicas) run against
// one queue at once; every message is delivered exactly once.
func TestRunWorkersRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		const workers, msgs = 8, 60
		var (
			mu    sync.Mutex
			count = map[string]int{}
			done  = make(chan struct{})
		)
		handler := func(_ context.Context, p string) error {
			mu.Lock()
			defer mu.Unlock()
			count[p]++
			if len(count) == msgs && count[p] == 1 {
				close(done)
			}
			return nil
		}
		var obs []*outbox.Outbox
		for i := range workers {
			o := newOutbox(t, st, c, nil, outbox.Options{Owner: fmt.Sprintf("w%d", i), Poll: 10 * time.Millisecond, Batch: 3})
			o.Handle("t", handler)
			obs = append(obs, o)
		}
		for i := range msgs {
			if _, err := obs[i%workers].Enqueue(ctx, st, "t", fmt.Sprintf("m%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, o := range obs {
			wg.Go(func() { o.Run(ctx) })
		}
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("not every message was delivered in 2 minutes")
		}
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for p, n := range count {
			if n != 1 {
				t.Errorf("%s delivered %d times", p, n)
			}
		}
	})
}

// A receiver that hangs holds up only its own message: the others claimed
// in the same batch are delivered (and recorded) while it is still waiting.
func TestSlowMessageDoesNotHoldUpItsBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		o := newOutbox(t, st, c, nil, outbox.Options{Batch: 10, Concurrency: 4})
		release := make(chan struct{})
		fast := make(chan string, 10)
		o.Handle("t", func(ctx context.Context, p string) error {
			if p == "slow" {
				<-release
				return nil
			}
			fast <- p
			return nil
		})
		if _, err := o.Enqueue(ctx, st, "t", "slow"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := o.Enqueue(ctx, st, "t", fmt.Sprint("fast-", i)); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan int, 1)
		go func() {
			n, err := o.RunOnce(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
		for range 5 {
			<-fast // each arrives although "slow" has not returned
		}
		select {
		case <-done:
			t.Fatal("RunOnce returned before its slow message was delivered")
		default:
		}
		close(release)
		if n := <-done; n != 6 {
			t.Fatalf("claimed %d, want 6", n)
		}
	})
}

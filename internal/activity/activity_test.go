package activity_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
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
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// forEachBackend runs fn on a fresh SQLite store and, when the PostgreSQL
// test URL is set, on a fresh PostgreSQL schema.
func forEachBackend(t *testing.T, fn func(t *testing.T, st *sqlstore.Store)) {
	open := func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := backend.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		fn(t, st)
	}
	t.Run("sqlite", func(t *testing.T) { open(t, filepath.Join(t.TempDir(), "gatehouse.db")) })
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "activitytest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		open(t, dsn)
	})
}

func newCounter(t *testing.T, st *sqlstore.Store, c *clock) *activity.Counter {
	t.Helper()
	ctr, err := activity.New(activity.Config{Store: st, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return ctr
}

func add(c *activity.Counter, e activity.Event, n int, at time.Time) {
	for range n {
		c.Add(e, at)
	}
}

// Two counters over one store are two replicas over one database: their
// flushes add up, and a second flush of the same hour adds to the first.
func TestTwoReplicasSum(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		clk := &clock{t: time.Date(2026, 5, 6, 10, 20, 0, 0, time.UTC)}
		a, b := newCounter(t, st, clk), newCounter(t, st, clk)

		// Many goroutines count at once on each replica.
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(2)
			go func() { defer wg.Done(); add(a, activity.TokenIssued, 250, clk.Now()) }()
			go func() { defer wg.Done(); add(b, activity.TokenIssued, 125, clk.Now()) }()
		}
		add(a, activity.SignInSuccess, 3, clk.Now())
		add(b, activity.SignInFailure, 2, clk.Now())
		wg.Wait()
		for _, c := range []*activity.Counter{a, b} {
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		add(a, activity.TokenIssued, 1, clk.Now())
		add(a, activity.RateLimitHit, 4, clk.Now())
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Nothing new: flushing again adds nothing.
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		s, err := a.Last(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := map[activity.Event]int64{activity.TokenIssued: 8*250 + 8*125 + 1, activity.SignInSuccess: 3,
			activity.SignInFailure: 2, activity.RateLimitHit: 4, activity.SignInLockout: 0, activity.ReplayDetected: 0}
		for e, n := range want {
			if got := s.Total(e); got != n {
				t.Errorf("%s: total %d, want %d", e.Name(), got, n)
			}
		}
		if len(s.Hours) != 24 || !s.Hours[23].Equal(time.Date(2026, 5, 6, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("hours: %d, last %v", len(s.Hours), s.Hours[len(s.Hours)-1])
		}
		if got := s.Of(activity.TokenIssued)[23]; got != 8*250+8*125+1 {
			t.Fatalf("current hour tokens %d", got)
		}
	})
}

// Counts made before the hour turned, flushed after, stay in their hour.
func TestCountsKeepTheirHour(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		clk := &clock{t: time.Date(2026, 5, 6, 10, 59, 58, 0, time.UTC)}
		c := newCounter(t, st, clk)
		add(c, activity.SignInSuccess, 2, clk.Now())
		clk.Set(time.Date(2026, 5, 6, 11, 0, 1, 0, time.UTC))
		add(c, activity.SignInSuccess, 5, clk.Now())
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// An hour later still: the 11:00 counts flushed at 12:00 are 11:00's.
		add(c, activity.SignInFailure, 1, clk.Now())
		clk.Set(time.Date(2026, 5, 6, 12, 0, 3, 0, time.UTC))
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := c.Between(ctx, time.Date(2026, 5, 6, 10, 30, 0, 0, time.UTC), time.Date(2026, 5, 6, 13, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Hours) != 3 {
			t.Fatalf("hours %v", s.Hours)
		}
		if got := s.Of(activity.SignInSuccess); got[0] != 2 || got[1] != 5 || got[2] != 0 {
			t.Fatalf("successes per hour %v, want [2 5 0]", got)
		}
		if got := s.Of(activity.SignInFailure); got[1] != 1 {
			t.Fatalf("failures per hour %v, want [0 1 0]", got)
		}
	})
}

// Prune drops hours past the retention and keeps the rest.
func TestPrune(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := t.Context()
		clk := &clock{t: time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)}
		c, err := activity.New(activity.Config{Store: st, Now: clk.Now, Retention: 48 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(activity.TokenIssued, clk.Now())
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Set(clk.Now().Add(47 * time.Hour))
		c.Add(activity.TokenIssued, clk.Now())
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Set(clk.Now().Add(2 * time.Hour))
		if n, err := c.Prune(ctx); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want 1", n, err)
		}
		s, err := c.Last(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Total(activity.TokenIssued); got != 1 {
			t.Fatalf("left %d, want 1", got)
		}
	})
}

// A nil Counter counts nothing and fails nothing: services built without
// one call it unchecked.
func TestNilCounter(t *testing.T) {
	var c *activity.Counter
	c.Add(activity.TokenIssued, time.Now())
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Run's last flush happens after its context ends: a clean shutdown loses
// no counts.
func TestRunFlushesAtShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *sqlstore.Store) {
		clk := &clock{t: time.Date(2026, 5, 6, 10, 20, 0, 0, time.UTC)}
		c, err := activity.New(activity.Config{Store: st, Now: clk.Now, FlushEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		add(c, activity.ReplayDetected, 3, clk.Now())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		cancel()
		<-done
		s, err := c.Last(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Total(activity.ReplayDetected); got != 3 {
			t.Fatalf("after shutdown %d stored, want 3", got)
		}
	})
}

// BenchmarkAdd is the hot-path cost: every token request pays one Add.
func BenchmarkAdd(b *testing.B) {
	c, err := activity.New(activity.Config{Store: nil, Now: time.Now})
	if err == nil {
		b.Fatal("a counter without a store was accepted")
	}
	dir := b.TempDir()
	st, err := backend.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if c, err = activity.New(activity.Config{Store: st, Now: time.Now}); err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(activity.TokenIssued, at)
		}
	})
}

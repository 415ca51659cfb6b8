package ratelimit

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		err  bool
	}{
		{"off", Rate{}, false},
		{"OFF", Rate{}, false},
		{"10/s", Rate{10, time.Second, 10}, false},
		{"10/s burst 20", Rate{10, time.Second, 20}, false},
		{"5/m burst 1", Rate{5, time.Minute, 1}, false},
		{"100/h", Rate{100, time.Hour, 100}, false},
		{"", Rate{}, true},
		{"10", Rate{}, true},
		{"10/d", Rate{}, true},
		{"0/s", Rate{}, true},
		{"-1/s", Rate{}, true},
		{"10/s burst", Rate{}, true},
		{"10/s burst 0", Rate{}, true},
		{"10/s bust 5", Rate{}, true},
		{"10/s burst 5 extra", Rate{}, true},
	} {
		got, err := ParseRate(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := ParseRate(got.String()); back != got {
				t.Errorf("%q: String() %q does not parse back", tc.in, got.String())
			}
		}
	}
}

// fakeClock is a settable clock for the in-memory backend.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestGCRABurstThenSteadyRate(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(clk.now)
	r := Rate{Count: 2, Per: time.Second, Burst: 3} // one unit per 500ms
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		d, _ := m.Take(ctx, "k", r)
		if !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("burst request %d: %+v", i, d)
		}
	}
	d, _ := m.Take(ctx, "k", r)
	if d.Allowed || d.RetryAfter != 500*time.Millisecond {
		t.Fatalf("4th request at once: %+v, want refused with RetryAfter 500ms", d)
	}
	if d2, _ := m.Take(ctx, "other", r); !d2.Allowed {
		t.Fatal("another key shares the bucket")
	}
	clk.add(499 * time.Millisecond)
	if d, _ := m.Take(ctx, "k", r); d.Allowed {
		t.Fatalf("allowed 1ms early: %+v", d)
	}
	clk.add(time.Millisecond)
	if d, _ := m.Take(ctx, "k", r); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after one interval: %+v", d)
	}
	// A refund gives the unit back.
	m.Refund(ctx, "k", r)
	if d, _ := m.Take(ctx, "k", r); !d.Allowed {
		t.Fatalf("after a refund: %+v", d)
	}
	if d, _ := m.Take(ctx, "k", r); d.Allowed {
		t.Fatalf("second take after one refund: %+v", d)
	}
	// Refusals spend nothing: after 1.5s the whole burst is back.
	clk.add(1500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if d, _ := m.Take(ctx, "k", r); !d.Allowed {
			t.Fatalf("rested key refused at %d: %+v", i, d)
		}
	}
}

func TestMemorySweepsRestedKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(clk.now)
	r := Rate{Count: 1, Per: time.Second, Burst: 1}
	for i := 0; i < sweepEvery-1; i++ {
		m.Take(context.Background(), fmt.Sprint(i), r)
	}
	clk.add(2 * time.Second)
	m.Take(context.Background(), "last", r)
	if n := m.Len(); n != 1 {
		t.Fatalf("%d keys held after the sweep, want 1", n)
	}
}

// redisURL is the local Redis the tests share; each test uses its own prefix.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	r, err := NewRedis(u, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		t.Skipf("no Redis at %s: %v", u, err)
	}
	return u
}

func testPrefix(t *testing.T) string {
	return fmt.Sprintf("gatehouse-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// TestConcurrentTakesNeverExceedBurst releases many goroutines at once on one
// key: exactly the burst is allowed, on either backend. A limiter that read
// and wrote the TAT in two steps would let racing requests through twice.
func TestConcurrentTakesNeverExceedBurst(t *testing.T) {
	backends := map[string]func(t *testing.T) Backend{
		"memory": func(t *testing.T) Backend { return NewMemory(time.Now) },
		"redis": func(t *testing.T) Backend {
			r, err := NewRedis(redisURL(t), testPrefix(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			// One unit per hour: nothing is earned back during the test,
			// however slow the machine.
			r := Rate{Count: 1, Per: time.Hour, Burst: 25}
			const workers = 200
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, workers)
			for i := 0; i < workers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					d, err := b.Take(ctx, "shared", r)
					if err != nil {
						errs <- err
						return
					}
					if d.Allowed {
						allowed.Add(1)
					} else if d.RetryAfter <= 0 {
						errs <- fmt.Errorf("refused without a wait: %+v", d)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n := allowed.Load(); n != 25 {
				t.Fatalf("%d of %d racing requests allowed, want exactly the burst of 25", n, workers)
			}
		})
	}
}

func TestRedisGCRAMatchesMemory(t *testing.T) {
	r, err := NewRedis(redisURL(t), testPrefix(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	rate := Rate{Count: 1, Per: time.Hour, Burst: 3}
	for i := 0; i < 3; i++ {
		d, err := r.Take(ctx, "k", rate)
		if err != nil || !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("burst request %d: %+v %v", i, d, err)
		}
	}
	d, err := r.Take(ctx, "k", rate)
	if err != nil || d.Allowed {
		t.Fatalf("4th: %+v %v", d, err)
	}
	// The next unit is earned an hour after the first request, give or
	// take the time this test took.
	if d.RetryAfter < 59*time.Minute || d.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter %v, want just under 1h", d.RetryAfter)
	}
	// A refund gives one unit back, once.
	if err := r.Refund(ctx, "k", rate); err != nil {
		t.Fatal(err)
	}
	if d, err := r.Take(ctx, "k", rate); err != nil || !d.Allowed {
		t.Fatalf("after a refund: %+v %v", d, err)
	}
	if d, err := r.Take(ctx, "k", rate); err != nil || d.Allowed {
		t.Fatalf("second take after one refund: %+v %v", d, err)
	}
	if err := r.Refund(ctx, "never-taken", rate); err != nil {
		t.Fatal(err)
	}
}

// TestRedisUnreachable points the limiter at a closed port: failing open
// allows, failing closed refuses as Unavailable; both count the failure and
// log it once, not once per request.
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	for _, open := range []bool{true, false} {
		t.Run(fmt.Sprintf("failOpen=%v", open), func(t *testing.T) {
			r, err := NewRedis("redis://"+addr+"/0", "x:")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			logs := &countingHandler{}
			reg := prometheus.NewRegistry()
			l := NewLimiter(Options{Backend: r, FailOpen: open, Log: slogNew(logs), Registry: reg})
			rate := Rate{Count: 1, Per: time.Hour, Burst: 1}
			for i := 0; i < 5; i++ {
				d := l.Allow(context.Background(), "token_client", "id:c", rate)
				if open && (!d.Allowed || d.Unavailable) {
					t.Fatalf("fail open refused: %+v", d)
				}
				if !open && (d.Allowed || !d.Unavailable || d.RetryAfter <= 0) {
					t.Fatalf("fail closed allowed: %+v", d)
				}
			}
			if got := testutil.ToFloat64(l.failures); got != 5 {
				t.Fatalf("backend errors counted %v, want 5", got)
			}
			if n := logs.n.Load(); n != 1 {
				t.Fatalf("logged %d times for 5 failures within 10s, want 1", n)
			}
		})
	}
}

func TestLimiterCountsRefusalsPerClass(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := NewLimiter(Options{Backend: NewMemory(time.Now), Registry: reg})
	rate := Rate{Count: 1, Per: time.Hour, Burst: 2}
	for i := 0; i < 5; i++ {
		l.Allow(context.Background(), "signup_address", "1.2.3.4", rate)
	}
	if got := testutil.ToFloat64(l.hits.WithLabelValues("signup_address")); got != 3 {
		t.Fatalf("hits %v, want 3", got)
	}
	if d := l.Allow(context.Background(), "signup_address", "1.2.3.4", Rate{}); !d.Allowed {
		t.Fatal("an off rate refused")
	}
}

// flakyBackend fails while down is set, and counts calls.
type flakyBackend struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakyBackend) Refund(context.Context, string, Rate) error { return nil }

func (f *flakyBackend) Take(ctx context.Context, key string, r Rate) (Decision, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return Decision{}, fmt.Errorf("connection refused")
	}
	return Decision{Allowed: true, Limit: r.burst(), Remaining: r.burst() - 1}, nil
}

// TestFailedBackendIsLeftAloneBriefly: after an error the backend is not
// asked for a second (requests get the failure mode at once), then asked
// again, and its answers count once it is back.
func TestFailedBackendIsLeftAloneBriefly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := &flakyBackend{}
	b.down.Store(true)
	l := NewLimiter(Options{Backend: b, FailOpen: false, Now: clk.now})
	rate := Rate{Count: 1, Per: time.Second, Burst: 1}
	for i := 0; i < 10; i++ {
		if d := l.Allow(context.Background(), "c", "k", rate); !d.Unavailable {
			t.Fatalf("request %d with the backend down: %+v", i, d)
		}
	}
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("backend asked %d times within its pause, want 1", n)
	}
	b.down.Store(false)
	clk.add(backendPause)
	if d := l.Allow(context.Background(), "c", "k", rate); !d.Allowed {
		t.Fatalf("after the pause, backend back: %+v", d)
	}
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("backend asked %d times, want 2", n)
	}
}

func BenchmarkMemoryTake(b *testing.B) {
	m := NewMemory(time.Now)
	r := Rate{Count: 1_000_000, Per: time.Second, Burst: 1_000_000}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Take(ctx, fmt.Sprint(i%1000), r)
			i++
		}
	})
}

func BenchmarkRedisTake(b *testing.B) {
	u := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	rd, err := NewRedis(u, fmt.Sprintf("gatehouse-bench:%d:", time.Now().UnixNano()))
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	if err := rd.Ping(context.Background()); err != nil {
		b.Skip(err)
	}
	r := Rate{Count: 1_000_000, Per: time.Second, Burst: 1_000_000}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := rd.Take(ctx, fmt.Sprint(i%1000), r); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

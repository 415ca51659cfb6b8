package lastuse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

type sink struct {
	mu      sync.Mutex
	got     map[string]time.Time
	batches int
	fail    bool
}

func (s *sink) flush(ctx context.Context, m map[string]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("database down")
	}
	s.batches++
	for id, t := range m {
		if t.After(s.got[id]) {
			s.got[id] = t
		}
	}
	return nil
}

func TestRecordKeepsLatest(t *testing.T) {
	s := &sink{got: map[string]time.Time{}}
	r := New(s.flush, nil)
	t0 := time.Unix(1000, 0)
	r.Record("a", t0.Add(2*time.Second))
	r.Record("a", t0) // older: ignored
	r.Record("b", t0)
	if got, _ := r.Pending("a"); !got.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("pending a = %v", got)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.batches != 1 || len(s.got) != 2 || !s.got["a"].Equal(t0.Add(2*time.Second)) {
		t.Fatalf("%+v", s)
	}
	if r.Len() != 0 {
		t.Fatal("not cleared")
	}
	if err := r.Flush(context.Background()); err != nil || s.batches != 1 {
		t.Fatal("empty flush should not write")
	}
}

func TestFailedFlushIsRetried(t *testing.T) {
	s := &sink{got: map[string]time.Time{}, fail: true}
	r := New(s.flush, nil)
	t0 := time.Unix(1000, 0)
	r.Record("a", t0.Add(time.Second))
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("want error")
	}
	r.Record("a", t0) // older than the failed batch's stamp
	s.fail = false
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.got["a"].Equal(t0.Add(time.Second)) {
		t.Fatalf("got %v", s.got["a"])
	}
}

func TestEarlyFlushWhenLarge(t *testing.T) {
	s := &sink{got: map[string]time.Time{}}
	r := New(s.flush, nil)
	r.maxPending = 10
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Hour, time.Second); close(done) }()
	for i := 0; i < 10; i++ {
		r.Record(fmt.Sprint(i), time.Unix(int64(i), 0))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.got)
		s.mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no early flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.Record("last", time.Unix(99, 0))
	cancel()
	<-done
	if _, ok := s.got["last"]; !ok {
		t.Fatal("no final flush on stop")
	}
}

func TestConcurrent(t *testing.T) {
	s := &sink{got: map[string]time.Time{}}
	r := New(s.flush, nil)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < 500; i++ {
				r.Record(fmt.Sprint(i%7), time.Unix(int64(w*1000+i), 0))
				if i%50 == 0 {
					r.Flush(context.Background())
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	r.Flush(context.Background())
	for id := 0; id < 7; id++ {
		// The latest stamp of id is from worker 15, the largest i ≡ id (mod 7).
		i := 499 - (499-id)%7
		want := time.Unix(int64(15*1000+i), 0)
		if got := s.got[fmt.Sprint(id)]; !got.Equal(want) {
			t.Errorf("%d: %v, want %v", id, got, want)
		}
	}
}

// TestFinalFlushRetriesAfterConflict: at shutdown there is no next tick, so a
// flush that lost a deadlock to another replica is retried once at once.
func TestFinalFlushRetriesAfterConflict(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
		got   map[string]time.Time
	)
	flush := func(ctx context.Context, m map[string]time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return fmt.Errorf("touch pats: %w", store.ErrSerialization)
		}
		got = m
		return nil
	}
	r := New(flush, nil)
	r.Record("a", time.Unix(1000, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already shutting down: Run goes straight to the final flush
	r.Run(ctx, time.Hour, time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 || len(got) != 1 || r.Len() != 0 {
		t.Fatalf("final flush: %d calls, %d stamps written, %d left; want 2, 1, 0", calls, len(got), r.Len())
	}
}

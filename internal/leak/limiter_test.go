package leak

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestLimiterBoundedMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := newLimiter(LimitConfig{Every: time.Second, Burst: 2, MaxAddrs: 10}, clock)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.allow(fmt.Sprint("10.0.0.", i)); !ok {
			t.Fatalf("first request of a new address refused")
		}
		if len(l.buckets) > 10 {
			t.Fatalf("%d buckets", len(l.buckets))
		}
	}
	// A busy address keeps its (empty) bucket while idle ones are swept.
	l.allow("busy")
	l.allow("busy")
	if ok, retry := l.allow("busy"); ok || retry <= 0 {
		t.Fatalf("third request in a burst of 2: %v %v", ok, retry)
	}
	mu.Lock()
	now = now.Add(1500 * time.Millisecond) // every other bucket is full again; busy is not
	mu.Unlock()
	for i := 0; i < 9; i++ {
		l.allow(fmt.Sprint("10.0.1.", i))
	}
	if _, ok := l.buckets["busy"]; !ok {
		t.Fatal("sweep dropped a bucket that was not idle")
	}
}

func TestClientKey(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":           "192.0.2.1",
		"[::ffff:192.0.2.1]:1":     "192.0.2.1",
		"[2001:db8:1:2:3::4]:443":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::]:80": "2001:db8:1:2::/64",
		"weird":                    "weird",
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		if got := clientKey(r); got != want {
			t.Errorf("%s: %s, want %s", remote, got, want)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := newLimiter(LimitConfig{Every: time.Hour, Burst: 5, MaxAddrs: 100}, time.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if ok, _ := l.allow("same"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d allowed, want the burst of 5", allowed)
	}
}

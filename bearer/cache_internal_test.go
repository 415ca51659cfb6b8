package bearer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheLRU(t *testing.T) {
	c := newCache(3)
	now := time.Unix(1_800_000_000, 0)
	k := func(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "t%d", i)) }
	p := &Principal{Subject: "u"}
	for i := range 3 {
		c.put(k(i), p, now.Add(time.Minute))
	}
	if _, ok := c.get(k(0), now); !ok { // k(0) becomes the most recently used
		t.Fatal("k0 missing")
	}
	c.put(k(3), p, now.Add(time.Minute))
	if _, ok := c.get(k(1), now); ok {
		t.Error("k1, the least recently used, survived")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.get(k(i), now); !ok {
			t.Errorf("k%d evicted", i)
		}
	}
	if _, ok := c.get(k(0), now.Add(time.Minute)); ok {
		t.Error("entry served at its expiry")
	}
	if c.len() != 2 {
		t.Errorf("len %d after the expired entry was looked up", c.len())
	}
}

// The cache never holds more than CacheSize results, and holds them under
// the SHA-256 of the credential only.
func TestIntrospectorCacheBound(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, `{"active":true,"scope":"a","sub":%q}`, r.PostFormValue("token"))
	}))
	defer srv.Close()
	const size, n = 16, 200
	in, err := NewIntrospector(IntrospectorOptions{Endpoint: srv.URL, ClientID: "c", ClientSecret: "s", CacheSize: size})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = fmt.Sprintf("gtha_token%03d", i)
		if _, err := in.Validate(context.Background(), tokens[i]); err != nil {
			t.Fatal(err)
		}
		if l := in.cache.len(); l > size {
			t.Fatalf("after %d tokens the cache holds %d entries, bound %d", i+1, l, size)
		}
	}
	in.cache.mu.Lock()
	for i, tok := range tokens {
		_, held := in.cache.m[sha256.Sum256([]byte(tok))]
		if held != (i >= n-size) {
			t.Errorf("token %d held=%v", i, held)
		}
	}
	if len(in.cache.m) != size {
		t.Errorf("%d keys, want %d", len(in.cache.m), size)
	}
	in.cache.mu.Unlock()
	// The most recent ones are answered from the cache; an evicted one is not.
	before := calls.Load()
	in.Validate(context.Background(), tokens[n-1])
	if calls.Load() != before {
		t.Error("recent token introspected again")
	}
	in.Validate(context.Background(), tokens[0])
	if calls.Load() != before+1 {
		t.Error("evicted token answered from the cache")
	}
}

func TestCacheOff(t *testing.T) {
	in, err := NewIntrospector(IntrospectorOptions{Endpoint: "https://a.example/i", ClientID: "c", ClientSecret: "s",
		CacheTTL: -1, InactiveCacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if in.cache != nil {
		t.Fatal("cache allocated with both TTLs off")
	}
}

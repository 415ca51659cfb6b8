package leak_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/leak"
	"github.com/gatehouse/gatehouse/internal/store"
)

// countingStore counts the database operations the service asks for and
// finds nothing.
type countingStore struct{ calls atomic.Int64 }

func (c *countingStore) hit() error { c.calls.Add(1); return store.ErrNotFound }
func (c *countingStore) RevokePATByHash(context.Context, string, time.Time) error {
	return c.hit()
}
func (c *countingStore) RevokeAPIKeyByHash(context.Context, string, time.Time) error {
	return c.hit()
}
func (c *countingStore) RevokeToken(context.Context, string, time.Time) (*store.Token, error) {
	return nil, c.hit()
}
func (c *countingStore) DeleteClientSecretByHash(context.Context, string) (string, error) {
	return "", c.hit()
}
func (c *countingStore) ConsumeAuthCode(context.Context, string, time.Time) (*store.AuthCode, error) {
	return nil, c.hit()
}
func (c *countingStore) RevokeGrant(context.Context, string, time.Time) error { return c.hit() }

// InTx stands for the token revocation it would run: one operation that
// finds nothing.
func (c *countingStore) InTx(context.Context, func(store.Store) error) error { return c.hit() }

// TestGlobalBudgetBoundsFlood: 300 addresses, each well within its own
// limit, send one full request each at once. The database sees exactly the
// global burst of checks; every other request is 429 with Retry-After, and
// the budget refills at its rate.
func TestGlobalBudgetBoundsFlood(t *testing.T) {
	const (
		perReq  = 50
		perSec  = 100
		burst   = 200
		senders = 300
	)
	st := &countingStore{}
	hasher, err := credential.NewHasher(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Unix(1_900_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, err := leak.New(st, hasher, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	leak.NewHandler(svc, leak.LimitConfig{GlobalPerSecond: perSec, GlobalBurst: burst}, nil).Routes(mux)

	creds := make([]string, perReq)
	for i := range creds {
		creds[i], _ = credential.Generate(rand.Reader, credential.PAT, "")
	}
	body := revokeBody(append(creds, "not-a-credential", creds[0])...) // junk and duplicates cost nothing
	send := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v0/credentials/revoke", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	var (
		wg               sync.WaitGroup
		accepted, capped atomic.Int64
	)
	for i := range senders {
		wg.Go(func() {
			w := send(fmt.Sprintf("10.%d.%d.1:4000", i/200, i%200))
			switch {
			case w.Code == http.StatusAccepted:
				accepted.Add(1)
			case w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") != "":
				capped.Add(1)
			default:
				t.Errorf("answer %d %v %s", w.Code, w.Header(), w.Body)
			}
		})
	}
	wg.Wait()
	if got := st.calls.Load(); got != burst {
		t.Fatalf("flood from %d addresses: %d database operations, want the global burst %d", senders, got, burst)
	}
	if accepted.Load() != burst/perReq || capped.Load() != senders-burst/perReq {
		t.Fatalf("%d accepted, %d refused; want %d and %d", accepted.Load(), capped.Load(), burst/perReq, senders-burst/perReq)
	}
	// One second later the budget has room for perSec more checks.
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	ok := 0
	for i := range 10 {
		if send(fmt.Sprintf("172.16.0.%d:1", i)).Code == http.StatusAccepted {
			ok++
		}
	}
	if ok != perSec/perReq || st.calls.Load() != burst+perSec {
		t.Fatalf("after 1s: %d accepted, %d operations in all; want %d and %d", ok, st.calls.Load(), perSec/perReq, burst+perSec)
	}
	// Requests of malformed strings only cost the database nothing and are
	// not charged.
	before := st.calls.Load()
	for i := range 5 {
		r := httptest.NewRequest("POST", "/v0/credentials/revoke", strings.NewReader(revokeBody("junk", "gthp_nope")))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = fmt.Sprintf("192.168.9.%d:1", i)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			t.Fatalf("junk-only request with the budget spent: %d", w.Code)
		}
	}
	if st.calls.Load() != before {
		t.Fatal("malformed strings reached the database")
	}
}

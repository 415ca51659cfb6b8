package authn_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
)

// newProxiedFixture serves the API behind the client-address resolver, as the
// server assembles it, trusting the given proxies. Test requests come from
// 127.0.0.1, so trusting 127.0.0.1 makes the test client a proxy.
func newProxiedFixture(t *testing.T, trusted ...string) *fixture {
	t.Helper()
	f := newFixture(t, authn.Config{})
	f.srv.Close()
	res, err := clientaddr.New(trusted, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.NewMe(f.env.Service, f.auth, nil).Routes(mux)
	f.srv = httptest.NewServer(res.Middleware(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func forwardedFor(addr string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", addr) }
}

// failFromUntilThrottled signs in with wrong passwords for ever-new unknown
// emails (so only the address's counter grows) until the answer is 429.
func failFromUntilThrottled(t *testing.T, f *fixture, xff func(i int) string) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		r := f.call(t, "GET", "/v0/me", func(req *http.Request) {
			basic(fmt.Sprintf("nobody%d@example.com", i), "wrong password")(req)
			forwardedFor(xff(i))(req)
		})
		if r.status == http.StatusTooManyRequests {
			return i
		}
		if r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %v", i, r.status, r.body)
		}
	}
	t.Fatal("200 failed sign-ins from one address were never throttled")
	return 0
}

// Behind a trusted proxy, clients are told apart by the forwarded address: one
// client's failures throttle that client, not everyone behind the proxy.
func TestThrottleSeparatesClientsBehindTrustedProxy(t *testing.T) {
	f := newProxiedFixture(t, "127.0.0.1")
	f.env.CreateUser(t, email, password)

	failFromUntilThrottled(t, f, func(int) string { return "198.51.100.1" })
	r := f.call(t, "GET", "/v0/me", func(req *http.Request) { basic(email, password)(req); forwardedFor("198.51.100.1")(req) })
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("the throttled client signed in: %d", r.status)
	}
	r = f.call(t, "GET", "/v0/me", func(req *http.Request) { basic(email, password)(req); forwardedFor("198.51.100.2")(req) })
	if r.status != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d %v", r.status, r.body)
	}
	// The right-most untrusted hop counts: a forged left entry does not
	// escape the throttle.
	r = f.call(t, "GET", "/v0/me", func(req *http.Request) { basic(email, password)(req); forwardedFor("203.0.113.50, 198.51.100.1")(req) })
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For escaped the throttle: %d", r.status)
	}
}

// From an address that is not a trusted proxy, X-Forwarded-For changes
// nothing: varying it neither spreads failures nor escapes a throttle.
func TestForgedForwardedForFromUntrustedPeerIsIgnored(t *testing.T) {
	f := newProxiedFixture(t, "10.0.0.0/8") // the test client (127.0.0.1) is not trusted
	f.env.CreateUser(t, email, password)

	failFromUntilThrottled(t, f, func(i int) string { return fmt.Sprintf("198.51.100.%d", i%250+1) })
	r := f.call(t, "GET", "/v0/me", func(req *http.Request) { basic(email, password)(req); forwardedFor("192.0.2.77")(req) })
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("a fresh forged address escaped the throttle: %d", r.status)
	}
}

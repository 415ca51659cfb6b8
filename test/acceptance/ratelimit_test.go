package acceptance

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis returns the local Redis URL, or skips when none answers.
func testRedis(t *testing.T) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("no Redis at %s: %v", u, err)
	}
	return u
}

// tokenRequest posts a token request naming clientID (which need not exist:
// the limit is decided before the client is authenticated).
func tokenRequest(t *testing.T, base, clientID string) *http.Response {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestRateLimitSharedThroughRedis starts two serve processes sharing one
// Redis: an address's token-endpoint budget spent on one is spent on both
// (both see the test's requests coming from 127.0.0.1).
func TestRateLimitSharedThroughRedis(t *testing.T) {
	redisURL := testRedis(t)
	prefix := fmt.Sprintf("gatehouse-accept:%d:", time.Now().UnixNano())
	env := []string{
		"GATEHOUSE_REDIS_URL=" + redisURL, "GATEHOUSE_REDIS_KEY_PREFIX=" + prefix,
		// One unit an hour: nothing is earned back during the test.
		"GATEHOUSE_RATE_LIMIT_TOKEN_ADDRESS=1/h burst 3",
		"GATEHOUSE_RATE_LIMIT_TOKEN_CLIENT=off",
	}
	var bases []string
	for i := 0; i < 2; i++ {
		addr := freeAddr(t)
		p := start(t, t.TempDir(), append([]string{"GATEHOUSE_ADDR=" + addr}, env...), "serve")
		waitReady(t, p, "http://"+addr, 60*time.Second)
		bases = append(bases, "http://"+addr)
	}
	a, b := bases[0], bases[1]
	// Three requests across both replicas spend the burst; the client does
	// not exist, so each is answered 401 invalid_client, after the limiter.
	// (The client limit would refund them: a failed client authentication
	// spends only the address's budget.)
	for i, base := range []string{a, b, a} {
		if resp := tokenRequest(t, base, "shared-client"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d to %s: %d, want 401 (not limited yet)", i, base, resp.StatusCode)
		}
	}
	for _, base := range []string{b, a} {
		resp := tokenRequest(t, base, "shared-client")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("4th+ request to %s: %d, want 429", base, resp.StatusCode)
		}
		if resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("RateLimit"), `"token_address";r=0;`) {
			t.Fatalf("429 headers: %v", resp.Header)
		}
	}
	// The counter is in Redis under the prefix.
	opt, _ := redis.ParseURL(redisURL)
	c := redis.NewClient(opt)
	defer c.Close()
	keys, err := c.Keys(context.Background(), prefix+"*").Result()
	if err != nil || len(keys) != 1 || keys[0] != prefix+"token_address:127.0.0.1" {
		t.Fatalf("keys under %s: %v %v, want the address's", prefix, keys, err)
	}
}

// TestRateLimitRedisDownFailsClosed points a server at a port where no Redis
// listens with rate_limit_redis_failure=closed: limited routes answer 503
// with Retry-After (in the token endpoint's JSON shape); others still work.
func TestRateLimitRedisDownFailsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	addr := freeAddr(t)
	p := start(t, t.TempDir(), []string{"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_REDIS_URL=redis://" + dead + "/0",
		"GATEHOUSE_RATE_LIMIT_REDIS_FAILURE=closed"}, "serve")
	base := "http://" + addr
	waitReady(t, p, base, 60*time.Second)
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
		t.Fatalf("token request with Redis down, failing closed: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	if !waitLog(p, "rate limit backend unreachable; failing closed", 10*time.Second) {
		t.Fatalf("failure not logged:\n%s", p.log())
	}
	if resp, err := http.Get(base + "/.well-known/oauth-authorization-server"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("unlimited route: %v %v", resp, err)
	}
}

package oauth_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/tokentest"
)

// The benchmarks drive the real HTTP stack (middleware included) over
// keep-alive connections from 16×GOMAXPROCS goroutines and report, besides
// ns/op, requests per second and the p50/p99 latency of single requests.
//
//	go test -run '^$' -bench . -benchtime 5s ./internal/oauth/
//
// With GATEHOUSE_TEST_POSTGRES_URL set they run on PostgreSQL too.

func forEachBackendB(b *testing.B, fn func(b *testing.B, e *env)) {
	for _, be := range tokentest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			fn(b, newEnv(b, func(tb testing.TB) *sqlstore.Store { return be.Open(tb) }))
		})
	}
}

// benchClient is an HTTP client that keeps enough idle connections for the
// benchmark's goroutines.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
}

// measure runs req b.N times in parallel and reports req/s, p50 and p99.
func measure(b *testing.B, req func(c *http.Client) (*http.Response, error), want int) {
	c := benchClient()
	defer c.CloseIdleConnections()
	b.SetParallelism(16)
	var (
		mu  sync.Mutex
		lat = make([]time.Duration, 0, b.N)
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			res, err := req(c)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			local = append(local, time.Since(t0))
			if res.StatusCode != want {
				b.Errorf("status %d, want %d", res.StatusCode, want)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func BenchmarkClientCredentialsIssuance(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, e *env) {
		owner := e.user("owner@example.com")
		a := e.client(owner, oauth.NewClient{GrantTypes: []string{oauth.GrantClientCredentials}})
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"profile:read"}}.Encode()
		auth := basicAuth(a.ID, a.secret)[1]
		measure(b, func(c *http.Client) (*http.Response, error) {
			req, _ := http.NewRequest("POST", e.issuer+oauth.PathToken, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			return c.Do(req)
		}, http.StatusOK)
	})
}

func BenchmarkIntrospection(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, e *env) {
		owner := e.user("owner@example.com")
		a := e.client(owner, oauth.NewClient{GrantTypes: []string{oauth.GrantClientCredentials}})
		tok := e.postForm(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, basicAuth(a.ID, a.secret)...).json(b)["access_token"].(string)
		body := url.Values{"token": {tok}}.Encode()
		auth := basicAuth(a.ID, a.secret)[1]
		measure(b, func(c *http.Client) (*http.Response, error) {
			req, _ := http.NewRequest("POST", e.issuer+oauth.PathIntrospect, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			return c.Do(req)
		}, http.StatusOK)
	})
}

func BenchmarkBearerGetMe(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, e *env) {
		owner := e.user("owner@example.com")
		a := e.client(owner, oauth.NewClient{GrantTypes: []string{oauth.GrantClientCredentials}})
		tok := e.postForm(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, basicAuth(a.ID, a.secret)...).json(b)["access_token"].(string)
		if r := e.me(tok); r.status != 200 {
			b.Fatalf("setup: %d %s", r.status, r.body)
		}
		measure(b, func(c *http.Client) (*http.Response, error) {
			req, _ := http.NewRequest("GET", e.issuer+"/v0/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			return c.Do(req)
		}, http.StatusOK)
	})
}

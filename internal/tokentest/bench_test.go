package tokentest_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/pat"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// BenchmarkValidatedRequests measures authenticated API requests per second
// — the whole HTTP path (middleware, authn, one indexed lookup by hash,
// in-memory last-use stamp) over loopback — with a PAT and with an API key,
// on SQLite and (when GATEHOUSE_TEST_POSTGRES_URL is set) PostgreSQL. The
// last-use flusher runs every second as in production.
//
//	go test -run '^$' -bench ValidatedRequests -benchtime 5s ./internal/tokentest/
func BenchmarkValidatedRequests(b *testing.B) {
	for _, be := range tt.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := tt.New(b, be.Open(b), tt.Options{
				PATConfig: pat.Config{FlushInterval: time.Second},
				KeyConfig: apikey.Config{FlushInterval: time.Second},
			})
			u := e.CreateUser("bench@example.com", false)
			p, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			e.CreateClient("bench-app", u.ID, "profile:read")
			k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: u.ID}, apikey.CreateRequest{
				ClientID: "bench-app", Name: "bench", Scopes: []string{"profile:read"}, AllowedCIDRs: []string{"127.0.0.0/8", "::1"},
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go e.PATs.RunLastUsedFlusher(ctx)
			go e.APIKeys.RunLastUsedFlusher(ctx)

			for _, c := range []struct{ name, header, value string }{
				{"pat", "Authorization", "Bearer " + p.Token},
				{"api_key", "Authorization", "Bearer " + k.Secret},
				{"api_key_header", "X-API-Key", k.Secret},
			} {
				b.Run(c.name, func(b *testing.B) { run(b, e, c.header, c.value) })
			}
		})
	}
}

func run(b *testing.B, e *tt.Env, header, value string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	url := e.URL + tt.WhoAmI
	do := func() error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set(header, value)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	for i := 0; i < 50; i++ { // warm the connections and statement caches
		if err := do(); err != nil {
			b.Fatal(err)
		}
	}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failures  atomic.Int64
	)
	b.SetParallelism(8) // 8 × GOMAXPROCS concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := do(); err != nil {
				failures.Add(1)
				continue
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Errorf("%d requests failed", n)
	}
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

//go:build unix

package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// The figures in README.md come from:
//
//	go test -run '^$' -bench . -benchmem ./internal/store/sqlite/
//
// Insert is one token per transaction through the single writer; lookup is
// TokenByHash (the hot validation path), from one goroutine and from all
// cores at once. Besides wall time per op each reports cpu-ns/op, the
// process's CPU time (user+sys, all threads) per op, which stays meaningful
// on a busy shared machine where wall time does not.

const benchTokens = 10_000

func benchStore(b *testing.B) (store.Store, []string) {
	b.Helper()
	ctx := b.Context()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.MigrateUp(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(s.CreateUser(ctx, &store.User{ID: "u", Email: "u@example.com", PasswordHash: "h", CredentialsChangedAt: now, CreatedAt: now, UpdatedAt: now}))
	must(s.CreateClient(ctx, &store.Client{ID: "c", Name: "c", OwnerID: "u", Type: store.ClientConfidential, Status: store.ClientActive, CreatedAt: now, UpdatedAt: now}, nil))
	must(s.CreateGrant(ctx, &store.Grant{ID: "g", ClientID: "c", UserID: "u", CreatedAt: now}))
	hashes := make([]string, benchTokens)
	batch := make([]*store.Token, 0, 500)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("seed-%064d", i)
		batch = append(batch, benchToken(hashes[i], now))
		if len(batch) == cap(batch) {
			must(s.CreateTokens(ctx, batch...))
			batch = batch[:0]
		}
	}
	return s, hashes
}

func benchToken(hash string, now time.Time) *store.Token {
	return &store.Token{Hash: hash, ID: "id-" + hash, Kind: store.TokenAccess, GrantID: "g", ClientID: "c", UserID: "u",
		Scopes: []string{"openid", "profile", "email"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func BenchmarkInsertToken(b *testing.B) {
	s, _ := benchStore(b)
	now := time.Now()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		i++
		if err := s.CreateTokens(b.Context(), benchToken(fmt.Sprintf("bench-%064d", i), now)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenByHash(b *testing.B) {
	s, hashes := benchStore(b)
	b.Run("serial", func(b *testing.B) {
		defer reportCPU(b)()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.TokenByHash(b.Context(), hashes[i%len(hashes)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.TokenByHash(b.Context(), hashes[next.Add(1)%int64(len(hashes))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// reportCPU starts counting the process's CPU time; the returned func reports
// it per op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:build unix

package sqlite_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// What a token's audit entry costs the write path, the way the token
// endpoint writes it: 32 concurrent issuers (group commit gathers them),
// random token hashes, time-ordered ids, and for the audited run the entry
// the client_credentials grant records. Compare cpu-ns/op of
//
//	go test -run '^$' -bench 'Issue(Plain|Audited)$' -count 6 ./internal/store/sqlite/
//
// The difference is the entry's share of the store work; it excludes the
// HTTP and handler work both share, so it bounds the throughput cost from
// above.
func BenchmarkIssuePlain(b *testing.B)   { benchIssue(b, false, false) }
func BenchmarkIssueAudited(b *testing.B) { benchIssue(b, true, false) }

// BenchmarkIssueAuditedJTIKeyed is BenchmarkIssueAudited with the records
// keyed the way JWT access tokens are (jwt:<jti>, time-ordered) instead of
// by a random keyed hash: the difference is what a random index insert
// costs — a dirtied page per token, written to the WAL at every commit.
func BenchmarkIssueAuditedJTIKeyed(b *testing.B) { benchIssue(b, true, true) }

func benchIssue(b *testing.B, audited, jtiKeyed bool) {
	s, _ := benchStore(b)
	now := time.Now()
	b.SetParallelism(16) // × GOMAXPROCS (2 here): 32 issuers, the bench's concurrency
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		raw := make([]byte, 32)
		for pb.Next() {
			rand.Read(raw)
			id, _ := uuid.NewV7()
			key := hex.EncodeToString(raw)
			if jtiKeyed {
				key = "jwt:" + id.String()
			}
			tok := &store.Token{Hash: key, ID: id.String(), Kind: store.TokenAccess, ClientID: "c", UserID: "u",
				Scopes: []string{"profile:read"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if !audited {
				if err := s.CreateTokens(ctx, tok); err != nil {
					b.Error(err)
					return
				}
				continue
			}
			e := &store.AuditEntry{At: time.Now(), Type: audit.TokenIssued, ActorKind: store.ActorApp, ActorID: "c", Subject: "c",
				ClientAddr: "127.0.0.1", UserAgent: "wrk", RequestID: id.String()[:26], Outcome: store.OutcomeSuccess,
				Details: `{"grant_type":"client_credentials","scopes":["profile:read"],"tokens":["access:` + tok.ID + `"]}`}
			if err := s.CreateTokensAudited(ctx, e, audit.Hash, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

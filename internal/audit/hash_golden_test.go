package audit_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestHashIsTheChainFormat pins the canonical form of an entry's chain
// hash: a change to it would make every chain already written fail
// verification. The expected value was computed from the documented form.
func TestHashIsTheChainFormat(t *testing.T) {
	e := &store.AuditEntry{
		Seq: 42, At: time.UnixMilli(1764578400123), Type: audit.TokenIssued, ActorKind: store.ActorApp, ActorID: "app_1",
		Subject: "app_1", ClientAddr: "203.0.113.7", UserAgent: "curl/8 — ünïcode", RequestID: "req-1", Outcome: store.OutcomeSuccess,
		Details: `{"grant_type":"client_credentials","scopes":["a:b"],"tokens":["access:x"]}`, PrevHash: "ab12",
	}
	const want = "646e711a700ecabd90ea3b9d2adde0d1d8aca61a0740b36d5c4009d4b06d70c1"
	if got := audit.Hash(e); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	empty := &store.AuditEntry{At: time.UnixMilli(0)}
	const wantEmpty = "c57c4c76a853340d72d338c190a2d4241d6b2702725bd57d957bc67616826156"
	if got := audit.Hash(empty); got != wantEmpty {
		t.Fatalf("Hash(empty) = %s, want %s", got, wantEmpty)
	}
}

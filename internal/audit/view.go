package audit

import (
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// View is an audit entry as the JSON-lines stream, the admin API and
// `gatehouse audit list --output json` show it.
type View struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	Type       string          `json:"type"`
	ActorKind  string          `json:"actor_kind"`
	ActorID    string          `json:"actor_id,omitempty"`
	Subject    string          `json:"subject,omitempty"`
	ClientAddr string          `json:"client_addr,omitempty"`
	UserAgent  string          `json:"user_agent,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	Outcome    string          `json:"outcome"`
	Details    json.RawMessage `json:"details"`
	Hash       string          `json:"hash"`
}

// ViewOf returns e's View.
func ViewOf(e store.AuditEntry) View {
	d := json.RawMessage(e.Details)
	if !json.Valid(d) {
		d = json.RawMessage("{}")
	}
	return View{Seq: e.Seq, At: e.At.UTC(), Type: e.Type, ActorKind: e.ActorKind, ActorID: e.ActorID, Subject: e.Subject,
		ClientAddr: e.ClientAddr, UserAgent: e.UserAgent, RequestID: e.RequestID, Outcome: e.Outcome, Details: d, Hash: e.Hash}
}

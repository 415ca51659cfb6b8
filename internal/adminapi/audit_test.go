package adminapi_test

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func newAuditLog(t *testing.T, st *sqlstore.Store) *audit.Log {
	t.Helper()
	l, err := audit.New(audit.Config{Store: st, Now: time.Now, Log: slog.New(slog.DiscardHandler), CheckpointKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAuditListPagesAndFilters(t *testing.T) {
	st := tt.OpenSQLite(t)
	f := newFixture(t, st)
	l := newAuditLog(t, st)
	for i, typ := range []string{"sign_in", "token.issued", "sign_in", "pat.created"} {
		e := audit.Entry{Type: typ, ActorKind: store.ActorUser, ActorID: f.userID, Subject: f.userID, Failed: i == 0,
			Details: map[string]any{"n": i}}
		if err := l.Record(t.Context(), st, e); err != nil {
			t.Fatal(err)
		}
	}
	page := func(query string) (items []audit.View, next string) {
		t.Helper()
		r := f.do(t, "GET", "/admin/audit?"+query, f.adminPAT)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var p struct {
			Items      []audit.View `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		return p.Items, p.NextCursor
	}
	// The newest first, the cursor continues where a page stopped.
	items, next := page("limit=3")
	if len(items) != 3 || items[0].Type != "pat.created" || items[2].Type != "token.issued" || next == "" {
		t.Fatalf("page 1: %+v next %q", items, next)
	}
	items, next = page("limit=3&cursor=" + url.QueryEscape(next))
	if len(items) != 1 || items[0].Type != "sign_in" || items[0].Outcome != "failure" || next != "" {
		t.Fatalf("page 2: %+v next %q", items, next)
	}
	if items, _ = page("type=sign_in"); len(items) != 2 {
		t.Fatalf("type filter: %d", len(items))
	}
	if items, _ = page("user=" + f.userID + "&type=pat.created"); len(items) != 1 || string(items[0].Details) != `{"n":3}` {
		t.Fatalf("user filter: %+v", items)
	}
	if items, _ = page("since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))); len(items) != 0 {
		t.Fatalf("since filter: %d", len(items))
	}
	for _, q := range []string{"since=yesterday", "cursor=MA", "limit=0"} {
		if r := f.do(t, "GET", "/admin/audit?"+q, f.adminPAT); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

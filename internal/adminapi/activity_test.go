package adminapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func newCounter(t *testing.T, st *sqlstore.Store, now func() time.Time) *activity.Counter {
	t.Helper()
	c, err := activity.New(activity.Config{Store: st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// GET /admin/activity serves the flushed hourly counts, one series per
// event, aligned with the hours; only administrators may read it.
func TestActivityReport(t *testing.T) {
	st := tt.OpenSQLite(t)
	f := newFixture(t, st)
	c := newCounter(t, st, f.e.Clock.Now)
	for range 3 {
		c.Add(activity.SignInSuccess, f.e.Clock.Now())
	}
	c.Add(activity.SignInFailure, f.e.Clock.Now())
	c.Add(activity.RateLimitHit, f.e.Clock.Now())
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A day ago: inside ?days=2, outside ?days=1.
	f.e.Clock.Advance(24 * time.Hour)
	c.Add(activity.TokenIssued, f.e.Clock.Now())
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	get := func(query string) adminapi.ActivityReport {
		t.Helper()
		r := f.do(t, "GET", "/admin/activity"+query, f.adminPAT)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
		}
		var rep adminapi.ActivityReport
		if err := json.Unmarshal(r.body, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	totals := func(rep adminapi.ActivityReport) map[string]int64 {
		out := map[string]int64{}
		for _, s := range rep.Series {
			if len(s.Counts) != len(rep.Hours) {
				t.Fatalf("%s: %d counts for %d hours", s.Name, len(s.Counts), len(rep.Hours))
			}
			var sum int64
			for _, n := range s.Counts {
				sum += n
			}
			if sum != s.Total {
				t.Fatalf("%s: counts sum to %d, total says %d", s.Name, sum, s.Total)
			}
			out[s.Name] = s.Total
		}
		return out
	}
	week := get("")
	if len(week.Hours) != 7*24 || !week.To.Equal(week.Hours[len(week.Hours)-1].Add(time.Hour)) {
		t.Fatalf("default range: %d hours, to %v", len(week.Hours), week.To)
	}
	want := map[string]int64{"sign_in.success": 3, "sign_in.failure": 1, "sign_in.lockout": 0, "token.issued": 1,
		"rate_limit.hit": 1, "replay.detected": 0}
	if got := totals(week); len(got) != len(want) {
		t.Fatalf("series %v", got)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %d, want %d", k, got[k], v)
			}
		}
	}
	day := totals(get("?days=1"))
	if day["token.issued"] != 1 || day["sign_in.success"] != 0 {
		t.Errorf("last day: %v", day)
	}
	for _, q := range []string{"?days=0", "?days=91", "?days=week"} {
		if r := f.do(t, "GET", "/admin/activity"+q, f.adminPAT); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
	if r := f.do(t, "GET", "/admin/activity", f.userPAT); r.status != 403 {
		t.Errorf("non-admin: %d", r.status)
	}
}

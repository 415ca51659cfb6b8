package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func (f *fixture) session(userID string, mod ...func(*store.Session)) *store.Session {
	f.t.Helper()
	s := &store.Session{
		ID:         f.id("sess"),
		UserID:     userID,
		CSRFSecret: "csrf",
		MFAPending: true,
		UserAgent:  "Mozilla/5.0",
		IP:         "2001:db8::1",
		CreatedAt:  f.now,
		LastSeenAt: f.now,
		ExpiresAt:  f.at(24 * time.Hour),
	}
	for _, m := range mod {
		m(s)
	}
	must(f.t, f.s.CreateSession(f.ctx, s))
	return s
}

func testSessionCRUD(t *testing.T, f *fixture) {
	u := f.user()
	s := f.session(u.ID)
	got, err := f.s.SessionByID(f.ctx, s.ID)
	must(t, err)
	equal(t, "SessionByID", got, s)
	wantErr(t, f.s.CreateSession(f.ctx, s), store.ErrConflict)
	wantErr(t, f.s.CreateSession(f.ctx, &store.Session{ID: "x", UserID: "no-such-user"}), store.ErrNotFound)

	must(t, f.s.TouchSession(f.ctx, s.ID, f.at(time.Minute)))
	must(t, f.s.CompleteMFA(f.ctx, s.ID, f.at(2*time.Minute)))
	got, err = f.s.SessionByID(f.ctx, s.ID)
	must(t, err)
	if got.MFAPending {
		t.Fatal("MFAPending after CompleteMFA")
	}
	if got.LastSeenAt.Before(f.at(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("LastSeenAt = %v, not moved by TouchSession", got.LastSeenAt)
	}
	equal(t, "ExpiresAt", got.ExpiresAt, s.ExpiresAt)

	must(t, f.s.DeleteSession(f.ctx, s.ID))
	_, err = f.s.SessionByID(f.ctx, s.ID)
	wantErr(t, err, store.ErrNotFound)
	must(t, f.s.DeleteSession(f.ctx, s.ID)) // idempotent
	wantErr(t, f.s.TouchSession(f.ctx, s.ID, f.now), store.ErrNotFound)
	wantErr(t, f.s.CompleteMFA(f.ctx, s.ID, f.now), store.ErrNotFound)
}

func testDeleteUserSessions(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	s1 := f.session(u.ID, func(s *store.Session) { s.LastSeenAt = f.at(time.Second) })
	s2 := f.session(u.ID, func(s *store.Session) { s.LastSeenAt = f.at(2 * time.Second) })
	s3 := f.session(u.ID)
	other := f.session(v.ID)

	list, err := f.s.ListUserSessions(f.ctx, u.ID)
	must(t, err)
	equal(t, "ListUserSessions (most recent first)", list, []store.Session{*s2, *s1, *s3})

	must(t, f.s.DeleteUserSessions(f.ctx, u.ID, s2.ID))
	list, err = f.s.ListUserSessions(f.ctx, u.ID)
	must(t, err)
	equal(t, "after delete except current", list, []store.Session{*s2})

	must(t, f.s.DeleteUserSessions(f.ctx, u.ID, ""))
	list, err = f.s.ListUserSessions(f.ctx, u.ID)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("%d sessions left after deleting all", len(list))
	}
	_, err = f.s.SessionByID(f.ctx, other.ID)
	must(t, err) // another user's session is untouched
}

func testDeleteExpiredSessions(t *testing.T, f *fixture) {
	u := f.user()
	old := f.session(u.ID, func(s *store.Session) { s.ExpiresAt = f.at(-time.Second) })
	live := f.session(u.ID, func(s *store.Session) { s.ExpiresAt = f.at(time.Second) })
	n, err := f.s.DeleteExpiredSessions(f.ctx, f.now)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, want 1", n)
	}
	_, err = f.s.SessionByID(f.ctx, old.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.SessionByID(f.ctx, live.ID)
	must(t, err)
}

// ---------------------------------------------------------------- throttle

// countOnly is a policy that never delays below its limit.
func countOnly(limit int, window time.Duration) store.ThrottlePolicy {
	return store.ThrottlePolicy{Window: window, Free: limit, Limit: limit, LockFor: window}
}

func (f *fixture) reserve(key string, at time.Time, p store.ThrottlePolicy) store.Reservation {
	f.t.Helper()
	r, err := f.s.Reserve(f.ctx, key, at, p)
	must(f.t, err)
	return r
}

func testThrottleRecord(t *testing.T, f *fixture) {
	const w = 15 * time.Minute
	p := countOnly(100, w)
	n, last, err := f.s.Failures(f.ctx, "acct:a@example.com", f.now, w)
	must(t, err)
	if n != 0 || !last.IsZero() {
		t.Fatalf("Failures on unknown key = %d, %v", n, last)
	}
	for i := 1; i <= 3; i++ {
		at := f.at(time.Duration(i) * time.Second)
		r := f.reserve("acct:a@example.com", at, p)
		if !r.Granted || r.Count != i {
			t.Fatalf("Reserve #%d = %+v", i, r)
		}
		equal(t, "reservation time", r.Last, at.Truncate(time.Millisecond))
	}
	f.reserve("ip:192.0.2.1", f.now, p)
	n, last, err = f.s.Failures(f.ctx, "acct:a@example.com", f.at(time.Minute), w)
	must(t, err)
	if n != 3 {
		t.Fatalf("Failures = %d, want 3", n)
	}
	equal(t, "last failure", last, f.at(3*time.Second))
	must(t, f.s.ClearFailures(f.ctx, "acct:a@example.com"))
	n, _, err = f.s.Failures(f.ctx, "acct:a@example.com", f.at(time.Minute), w)
	must(t, err)
	if n != 0 {
		t.Fatalf("Failures after clear = %d", n)
	}
	n, _, err = f.s.Failures(f.ctx, "ip:192.0.2.1", f.at(time.Minute), w)
	must(t, err)
	if n != 1 {
		t.Fatalf("other key: Failures = %d, want 1", n)
	}
	must(t, f.s.ClearFailures(f.ctx, "never-seen")) // idempotent
}

func testThrottleWindow(t *testing.T, f *fixture) {
	const w = time.Minute
	p := countOnly(100, w)
	key := "acct:b@example.com"
	for i := range 3 {
		f.reserve(key, f.at(time.Duration(i)*time.Second), p)
	}
	// Within the window of the last failure the count holds…
	n, _, err := f.s.Failures(f.ctx, key, f.at(2*time.Second+w-time.Millisecond), w)
	must(t, err)
	if n != 3 {
		t.Fatalf("Failures inside window = %d, want 3", n)
	}
	// …past it the failures are forgotten…
	n, last, err := f.s.Failures(f.ctx, key, f.at(2*time.Second+w+time.Second), w)
	must(t, err)
	if n != 0 || !last.IsZero() {
		t.Fatalf("Failures past window = %d, %v; want 0, zero time", n, last)
	}
	// …and the next attempt starts a new count.
	if r := f.reserve(key, f.at(2*time.Second+w+time.Second), p); !r.Granted || r.Count != 1 {
		t.Fatalf("Reserve after window = %+v, want granted, count 1", r)
	}
}

// testThrottlePolicy walks the delay schedule at its edges: free attempts,
// doubling delays capped at MaxDelay, the hard limit and its lock. A refused
// attempt changes nothing.
func testThrottlePolicy(t *testing.T, f *fixture) {
	p := store.ThrottlePolicy{Window: time.Hour, Free: 2, Limit: 6, BaseDelay: time.Second, MaxDelay: 3 * time.Second, LockFor: time.Minute}
	key := "acct:c@example.com"
	at := f.now.Truncate(time.Millisecond)
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, time.Minute}
	for n := 1; n <= p.Limit; n++ {
		if got := p.Delay(n - 1); got != want[n-1] {
			t.Fatalf("Delay(%d) = %v, want %v", n-1, got, want[n-1])
		}
		if d := want[n-1]; d > 0 {
			// A millisecond early: refused, and the refusal is not counted.
			r := f.reserve(key, at.Add(d-time.Millisecond), p)
			if r.Granted || r.Count != n-1 || !r.Last.Equal(at) {
				t.Fatalf("attempt %d %v early: %+v, want refused with count %d, last %v", n, time.Millisecond, r, n-1, at)
			}
			at = at.Add(d)
		}
		r := f.reserve(key, at, p)
		if !r.Granted || r.Count != n {
			t.Fatalf("attempt %d on time: %+v, want granted with count %d", n, r, n)
		}
	}
	// Locked: LockFor after the last attempt.
	if r := f.reserve(key, at.Add(time.Minute-time.Millisecond), p); r.Granted || r.Count != p.Limit {
		t.Fatalf("during the lock: %+v", r)
	}
	if r := f.reserve(key, at.Add(time.Minute), p); !r.Granted || r.Count != p.Limit+1 {
		t.Fatalf("after the lock: %+v", r)
	}
	// A zero base delay never delays below the limit.
	p0 := store.ThrottlePolicy{Window: time.Hour, Free: 1, Limit: 40, MaxDelay: time.Minute, LockFor: time.Minute}
	for i := 1; i <= 40; i++ {
		if r := f.reserve("zero-base", f.now, p0); !r.Granted || r.Count != i {
			t.Fatalf("zero base, attempt %d: %+v", i, r)
		}
	}
	if r := f.reserve("zero-base", f.now, p0); r.Granted {
		t.Fatalf("zero base past the limit: %+v", r)
	}
}

// testThrottleRefund: a refund takes the count back and, when nothing was
// counted since, the time too; a later reservation keeps its later time.
func testThrottleRefund(t *testing.T, f *fixture) {
	p := store.ThrottlePolicy{Window: time.Hour, Free: 1, Limit: 5, BaseDelay: time.Minute, MaxDelay: time.Minute, LockFor: time.Hour}
	key := "ip:192.0.2.9"
	t0 := f.now.Truncate(time.Millisecond)
	first := f.reserve(key, t0, p) // count 1: the next attempt waits a minute
	t1 := t0.Add(time.Minute)
	second := f.reserve(key, t1, p)
	if !second.Granted || second.Count != 2 {
		t.Fatalf("second reservation: %+v", second)
	}
	must(t, f.s.Refund(f.ctx, key, second))
	n, last, err := f.s.Failures(f.ctx, key, t1, p.Window)
	must(t, err)
	if n != 1 || !last.Equal(t0) {
		t.Fatalf("after refund: %d at %v, want 1 at %v (restored)", n, last, t0)
	}
	// The restored time is what the next attempt waits from.
	if r := f.reserve(key, t1, p); !r.Granted || r.Count != 2 {
		t.Fatalf("after refund the next attempt: %+v", r)
	}
	// Refund of an older reservation after a newer one: count down, time kept.
	must(t, f.s.Refund(f.ctx, key, first))
	n, last, err = f.s.Failures(f.ctx, key, t1, p.Window)
	must(t, err)
	if n != 1 || !last.Equal(t1) {
		t.Fatalf("after out-of-order refund: %d at %v, want 1 at %v", n, last, t1)
	}
	// Refunds never go below zero, and a refused reservation refunds nothing.
	must(t, f.s.Refund(f.ctx, key, first))
	must(t, f.s.Refund(f.ctx, key, first))
	must(t, f.s.Refund(f.ctx, key, store.Reservation{Count: 7}))
	n, _, err = f.s.Failures(f.ctx, key, t1, p.Window)
	must(t, err)
	if n != 0 {
		t.Fatalf("after extra refunds: %d, want 0", n)
	}
	must(t, f.s.Refund(f.ctx, "never-seen", first)) // nothing to refund
}

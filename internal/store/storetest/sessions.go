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

func testThrottleRecord(t *testing.T, f *fixture) {
	const w = 15 * time.Minute
	n, last, err := f.s.Failures(f.ctx, "acct:a@example.com", f.now, w)
	must(t, err)
	if n != 0 || !last.IsZero() {
		t.Fatalf("Failures on unknown key = %d, %v", n, last)
	}
	for i := 1; i <= 3; i++ {
		n, err := f.s.RecordFailure(f.ctx, "acct:a@example.com", f.at(time.Duration(i)*time.Second), w)
		must(t, err)
		if n != i {
			t.Fatalf("RecordFailure #%d = %d", i, n)
		}
	}
	_, err = f.s.RecordFailure(f.ctx, "ip:192.0.2.1", f.now, w)
	must(t, err)
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
	key := "acct:b@example.com"
	for i := range 3 {
		_, err := f.s.RecordFailure(f.ctx, key, f.at(time.Duration(i)*time.Second), w)
		must(t, err)
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
	// …and the next failure starts a new count.
	n, err = f.s.RecordFailure(f.ctx, key, f.at(2*time.Second+w+time.Second), w)
	must(t, err)
	if n != 1 {
		t.Fatalf("RecordFailure after window = %d, want 1", n)
	}
}

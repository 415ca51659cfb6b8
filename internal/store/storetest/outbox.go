package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// cases for the outbox, account tokens, known devices and email
// verification; listed in cases().
func emailCases() []testCase {
	return []testCase{
		{"outbox/claim_lifecycle", testOutboxLifecycle},
		{"outbox/retry_fail_lease", testOutboxRetryFailLease},
		{"outbox/enqueue_in_tx", testOutboxEnqueueInTx},
		{"outbox/housekeeping", testOutboxHousekeeping},
		{"account_tokens/consume", testAccountTokenConsume},
		{"known_devices/see", testKnownDevices},
		{"users/email_verified", testEmailVerified},
		{"race/claim_outbox", testRaceClaimOutbox},
		{"race/consume_account_token", testRaceConsumeAccountToken},
	}
}

func (f *fixture) outboxMsg(topic string, due time.Time) *store.OutboxMessage {
	m := &store.OutboxMessage{ID: f.id("msg"), Topic: topic, Payload: `{"to":"a@example.com"}`, NextAttemptAt: due, CreatedAt: f.now}
	must(f.t, f.s.EnqueueOutbox(f.ctx, m))
	return m
}

func testOutboxLifecycle(t *testing.T, f *fixture) {
	a := f.outboxMsg("email", f.now)
	later := f.outboxMsg("email", f.at(time.Hour))
	wantErr(t, f.s.EnqueueOutbox(f.ctx, a), store.ErrConflict)

	got, err := f.s.ClaimOutbox(f.ctx, "w1", f.now, f.at(time.Minute), 10)
	must(t, err)
	equal(t, "claimed", len(got), 1)
	m := got[0]
	equal(t, "id", m.ID, a.ID)
	equal(t, "topic", m.Topic, "email")
	equal(t, "payload", m.Payload, a.Payload)
	equal(t, "attempts", m.Attempts, 1)
	equal(t, "owner", m.LeaseOwner, "w1")
	equal(t, "lease", m.LeaseUntil, f.at(time.Minute).Truncate(time.Millisecond))
	equal(t, "created", m.CreatedAt, f.now.Truncate(time.Millisecond))

	// Leased: nobody else gets it while the lease runs.
	got, err = f.s.ClaimOutbox(f.ctx, "w2", f.at(time.Second), f.at(time.Minute), 10)
	must(t, err)
	equal(t, "claimed while leased", len(got), 0)

	wantErr(t, f.s.CompleteOutbox(f.ctx, a.ID, "w2", f.now), store.ErrNotFound)
	must(t, f.s.CompleteOutbox(f.ctx, a.ID, "w1", f.at(2*time.Second)))
	wantErr(t, f.s.CompleteOutbox(f.ctx, a.ID, "w1", f.at(3*time.Second)), store.ErrNotFound)
	done, err := f.s.OutboxByID(f.ctx, a.ID)
	must(t, err)
	if done.DoneAt == nil || !done.DoneAt.Equal(f.at(2*time.Second).Truncate(time.Millisecond)) {
		t.Fatalf("done_at = %v", done.DoneAt)
	}
	// Done: never claimed again, even after the lease would have run out.
	got, err = f.s.ClaimOutbox(f.ctx, "w1", f.at(2*time.Hour), f.at(3*time.Hour), 10)
	must(t, err)
	equal(t, "claimed after done", len(got), 1)
	equal(t, "the later one", got[0].ID, later.ID)
	_, err = f.s.OutboxByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	got, err = f.s.ClaimOutbox(f.ctx, "w1", f.now, f.now, 0)
	must(t, err)
	equal(t, "limit 0", len(got), 0)
}

func testOutboxRetryFailLease(t *testing.T, f *fixture) {
	a := f.outboxMsg("email", f.now)
	got, err := f.s.ClaimOutbox(f.ctx, "w1", f.now, f.at(time.Minute), 1)
	must(t, err)
	equal(t, "claimed", len(got), 1)
	wantErr(t, f.s.RetryOutbox(f.ctx, a.ID, "w2", f.at(time.Hour), "x"), store.ErrNotFound)
	must(t, f.s.RetryOutbox(f.ctx, a.ID, "w1", f.at(time.Hour), "connection refused"))
	m, err := f.s.OutboxByID(f.ctx, a.ID)
	must(t, err)
	equal(t, "last error", m.LastError, "connection refused")
	equal(t, "owner cleared", m.LeaseOwner, "")
	// Not due before next_attempt_at.
	got, err = f.s.ClaimOutbox(f.ctx, "w1", f.at(time.Minute), f.at(2*time.Minute), 1)
	must(t, err)
	equal(t, "claimed before due", len(got), 0)
	got, err = f.s.ClaimOutbox(f.ctx, "w1", f.at(time.Hour), f.at(time.Hour+time.Minute), 1)
	must(t, err)
	equal(t, "claimed when due", len(got), 1)
	equal(t, "attempts", got[0].Attempts, 2)

	// A worker that died: its lease runs out and another worker takes over;
	// the dead worker can no longer complete it.
	got, err = f.s.ClaimOutbox(f.ctx, "w2", f.at(time.Hour+2*time.Minute), f.at(time.Hour+3*time.Minute), 1)
	must(t, err)
	equal(t, "reclaimed after lease", len(got), 1)
	equal(t, "attempts", got[0].Attempts, 3)
	wantErr(t, f.s.CompleteOutbox(f.ctx, a.ID, "w1", f.now), store.ErrNotFound)
	must(t, f.s.FailOutbox(f.ctx, a.ID, "w2", f.at(2*time.Hour), "550 no such user"))
	m, err = f.s.OutboxByID(f.ctx, a.ID)
	must(t, err)
	if m.FailedAt == nil || m.DoneAt != nil || m.LastError != "550 no such user" {
		t.Fatalf("failed message = %+v", m)
	}
	got, err = f.s.ClaimOutbox(f.ctx, "w3", f.at(10*time.Hour), f.at(11*time.Hour), 1)
	must(t, err)
	equal(t, "claimed after failed", len(got), 0)
}

// A message enqueued in a transaction exists exactly when it commits.
func testOutboxEnqueueInTx(t *testing.T, f *fixture) {
	boom := errors.New("boom")
	err := f.s.InTx(f.ctx, func(tx store.Store) error {
		must(t, tx.EnqueueOutbox(f.ctx, &store.OutboxMessage{ID: "rolled", Topic: "email", Payload: "p", NextAttemptAt: f.now, CreatedAt: f.now}))
		return boom
	})
	wantErr(t, err, boom)
	_, err = f.s.OutboxByID(f.ctx, "rolled")
	wantErr(t, err, store.ErrNotFound)
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.EnqueueOutbox(f.ctx, &store.OutboxMessage{ID: "kept", Topic: "email", Payload: "p", NextAttemptAt: f.now, CreatedAt: f.now}); err != nil {
			return err
		}
		// Claiming inside a transaction works too (same connection on SQLite).
		got, err := tx.ClaimOutbox(f.ctx, "w", f.now, f.at(time.Minute), 5)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("claimed %d in tx, want 1", len(got))
		}
		return nil
	}))
	_, err = f.s.OutboxByID(f.ctx, "kept")
	must(t, err)
}

func testAccountTokenConsume(t *testing.T, f *fixture) {
	u := f.user()
	tok := &store.AccountToken{Hash: "h1", Purpose: store.AccountTokenEmailChange, UserID: u.ID, NewEmail: "new@example.com",
		CreatedAt: f.now, ExpiresAt: f.at(30 * time.Minute)}
	must(t, f.s.CreateAccountToken(f.ctx, tok))
	wantErr(t, f.s.CreateAccountToken(f.ctx, tok), store.ErrConflict)
	wantErr(t, f.s.CreateAccountToken(f.ctx, &store.AccountToken{Hash: "h2", Purpose: "reset", UserID: "ghost", CreatedAt: f.now, ExpiresAt: f.now}), store.ErrNotFound)

	_, err := f.s.ConsumeAccountToken(f.ctx, "h1", store.AccountTokenReset, f.now)
	wantErr(t, err, store.ErrNotFound) // another purpose
	got, err := f.s.ConsumeAccountToken(f.ctx, "h1", store.AccountTokenEmailChange, f.at(time.Minute))
	must(t, err)
	equal(t, "user", got.UserID, u.ID)
	equal(t, "new email", got.NewEmail, "new@example.com")
	_, err = f.s.ConsumeAccountToken(f.ctx, "h1", store.AccountTokenEmailChange, f.at(2*time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed)

	exp := &store.AccountToken{Hash: "h3", Purpose: store.AccountTokenReset, UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.at(30 * time.Minute)}
	must(t, f.s.CreateAccountToken(f.ctx, exp))
	_, err = f.s.ConsumeAccountToken(f.ctx, "h3", store.AccountTokenReset, f.at(30*time.Minute))
	wantErr(t, err, store.ErrNotFound) // expired at exactly expires_at
	_, err = f.s.ConsumeAccountToken(f.ctx, "unknown", store.AccountTokenReset, f.now)
	wantErr(t, err, store.ErrNotFound)

	must(t, f.s.CreateAccountToken(f.ctx, &store.AccountToken{Hash: "h4", Purpose: store.AccountTokenReset, UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}))
	n, err := f.s.DeleteAccountTokens(f.ctx, u.ID, store.AccountTokenReset)
	must(t, err)
	equal(t, "deleted", n, int64(2)) // h3 (expired, unused) and h4
	_, err = f.s.ConsumeAccountToken(f.ctx, "h4", store.AccountTokenReset, f.now)
	wantErr(t, err, store.ErrNotFound)
}

func testKnownDevices(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	isNew, only, err := f.s.SeeDevice(f.ctx, u.ID, "fp1", f.now)
	must(t, err)
	equal(t, "first sighting", [2]bool{isNew, only}, [2]bool{true, true})
	isNew, only, err = f.s.SeeDevice(f.ctx, u.ID, "fp1", f.at(time.Hour))
	must(t, err)
	equal(t, "second sighting", [2]bool{isNew, only}, [2]bool{false, false})
	isNew, only, err = f.s.SeeDevice(f.ctx, u.ID, "fp2", f.at(time.Hour))
	must(t, err)
	equal(t, "second device", [2]bool{isNew, only}, [2]bool{true, false})
	isNew, only, err = f.s.SeeDevice(f.ctx, v.ID, "fp1", f.now)
	must(t, err)
	equal(t, "other user", [2]bool{isNew, only}, [2]bool{true, true})
	_, _, err = f.s.SeeDevice(f.ctx, "ghost", "fp1", f.now)
	wantErr(t, err, store.ErrNotFound)
}

func testEmailVerified(t *testing.T, f *fixture) {
	u := f.user()
	at, err := f.s.EmailVerifiedAt(f.ctx, u.ID)
	must(t, err)
	if at != nil {
		t.Fatalf("new user verified at %v", at)
	}
	now := f.now
	must(t, f.s.SetEmailVerified(f.ctx, u.ID, &now))
	at, err = f.s.EmailVerifiedAt(f.ctx, u.ID)
	must(t, err)
	if at == nil || !at.Equal(f.now.Truncate(time.Millisecond)) {
		t.Fatalf("verified at %v", at)
	}
	must(t, f.s.SetEmailVerified(f.ctx, u.ID, nil))
	at, err = f.s.EmailVerifiedAt(f.ctx, u.ID)
	must(t, err)
	if at != nil {
		t.Fatalf("cleared, still verified at %v", at)
	}
	wantErr(t, f.s.SetEmailVerified(f.ctx, "ghost", &now), store.ErrNotFound)
	v := f.user()
	wantErr(t, f.s.ChangeEmail(f.ctx, u.ID, v.Email, f.now), store.ErrConflict)
	must(t, f.s.ChangeEmail(f.ctx, u.ID, "changed@example.com", f.at(time.Minute)))
	got, err := f.s.UserByEmail(f.ctx, "changed@example.com")
	must(t, err)
	equal(t, "changed user", got.ID, u.ID)
	at, err = f.s.EmailVerifiedAt(f.ctx, u.ID)
	must(t, err)
	if at == nil || !at.Equal(f.at(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("verified at %v after change", at)
	}
	wantErr(t, f.s.ChangeEmail(f.ctx, "ghost", "x@example.com", f.now), store.ErrNotFound)
	_, err = f.s.EmailVerifiedAt(f.ctx, "ghost")
	wantErr(t, err, store.ErrNotFound)
}

// testRaceClaimOutbox: many workers claiming at once never share a message,
// and together they claim every one.
func testRaceClaimOutbox(t *testing.T, f *fixture) {
	const msgs = 40
	for range msgs {
		f.outboxMsg("email", f.now)
	}
	var (
		mu    sync.Mutex
		owner = map[string]string{}
	)
	errs := race(raceN, func(i int) error {
		me := fmt.Sprintf("w%d", i)
		for {
			got, err := f.s.ClaimOutbox(f.ctx, me, f.now, f.at(time.Hour), 3)
			if errors.Is(err, store.ErrSerialization) {
				continue
			}
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return nil
			}
			mu.Lock()
			for _, m := range got {
				if prev, ok := owner[m.ID]; ok {
					mu.Unlock()
					return fmt.Errorf("message %s claimed by %s and %s", m.ID, prev, me)
				}
				owner[m.ID] = me
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		must(t, err)
	}
	equal(t, "claimed", len(owner), msgs)
}

func testRaceConsumeAccountToken(t *testing.T, f *fixture) {
	u := f.user()
	must(t, f.s.CreateAccountToken(f.ctx, &store.AccountToken{Hash: "h", Purpose: store.AccountTokenReset, UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}))
	errs := race(raceN, func(int) error {
		_, err := f.s.ConsumeAccountToken(f.ctx, "h", store.AccountTokenReset, f.now)
		return err
	})
	if ok, used := tally(t, errs, store.ErrAlreadyUsed); ok != 1 || used != raceN-1 {
		t.Fatalf("%d successes and %d ErrAlreadyUsed; want 1 and %d", ok, used, raceN-1)
	}
}

func testOutboxHousekeeping(t *testing.T, f *fixture) {
	done, failed, pending := f.outboxMsg("email", f.now), f.outboxMsg("email", f.now), f.outboxMsg("email", f.at(time.Hour))
	got, err := f.s.ClaimOutbox(f.ctx, "w", f.now, f.at(time.Minute), 10)
	must(t, err)
	equal(t, "claimed", len(got), 2)
	must(t, f.s.CompleteOutbox(f.ctx, done.ID, "w", f.now))
	must(t, f.s.FailOutbox(f.ctx, failed.ID, "w", f.now, "x"))
	n, err := f.s.DeleteFinishedOutbox(f.ctx, f.now)
	must(t, err)
	equal(t, "deleted at the boundary", n, int64(0))
	n, err = f.s.DeleteFinishedOutbox(f.ctx, f.at(24*time.Hour))
	must(t, err)
	equal(t, "deleted", n, int64(2))
	_, err = f.s.OutboxByID(f.ctx, pending.ID)
	must(t, err)

	u := f.user()
	must(t, f.s.CreateAccountToken(f.ctx, &store.AccountToken{Hash: "old", Purpose: store.AccountTokenReset, UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.now}))
	must(t, f.s.CreateAccountToken(f.ctx, &store.AccountToken{Hash: "new", Purpose: store.AccountTokenReset, UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}))
	n, err = f.s.DeleteExpiredAccountTokens(f.ctx, f.at(time.Minute))
	must(t, err)
	equal(t, "expired tokens deleted", n, int64(1))
	_, err = f.s.ConsumeAccountToken(f.ctx, "new", store.AccountTokenReset, f.now)
	must(t, err)
}

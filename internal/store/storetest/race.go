package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func testRaceConsumeAuthCode(t *testing.T, f *fixture) {
	w := f.world()
	c := f.code(w.g)
	errs := race(raceN, func(i int) error {
		got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, f.at(time.Duration(i)*time.Millisecond))
		if got == nil && err == nil {
			return fmt.Errorf("nil code without error")
		}
		return err
	})
	if ok, used := tally(t, errs, store.ErrAlreadyUsed); ok != 1 || used != raceN-1 {
		t.Fatalf("%d successes and %d ErrAlreadyUsed; want 1 and %d", ok, used, raceN-1)
	}
}

func testRaceRotateRefreshToken(t *testing.T, f *fixture) {
	w := f.world()
	old := f.token(store.TokenRefresh, w.g)
	next := make([]*store.Token, raceN)
	for i := range next {
		next[i] = f.newToken(store.TokenRefresh, w.g)
	}
	errs := race(raceN, func(i int) error {
		_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, f.now, next[i])
		return err
	})
	if ok, used := tally(t, errs, store.ErrAlreadyUsed); ok != 1 || used != raceN-1 {
		t.Fatalf("%d successes and %d ErrAlreadyUsed; want 1 and %d", ok, used, raceN-1)
	}
	// Exactly the winner's successor exists.
	for i, tok := range next {
		_, err := f.s.TokenByHash(f.ctx, tok.Hash)
		if (errs[i] == nil) != (err == nil) {
			t.Errorf("goroutine %d: rotation error %v, successor lookup error %v", i, errs[i], err)
		}
	}
}

func testRaceTOTPStep(t *testing.T, f *fixture) {
	u := f.user()
	errs := race(raceN, func(int) error { return f.s.UseTOTPStep(f.ctx, u.ID, 57_000_000, f.now) })
	if ok, used := tally(t, errs, store.ErrAlreadyUsed); ok != 1 || used != raceN-1 {
		t.Fatalf("%d successes and %d ErrAlreadyUsed; want 1 and %d", ok, used, raceN-1)
	}
}

func testRaceRecoveryCode(t *testing.T, f *fixture) {
	u := f.user()
	must(t, f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"one", "two"}, f.now))
	errs := race(raceN, func(int) error { return f.s.UseRecoveryCode(f.ctx, u.ID, "one", f.now) })
	if ok, gone := tally(t, errs, store.ErrNotFound); ok != 1 || gone != raceN-1 {
		t.Fatalf("%d successes and %d ErrNotFound; want 1 and %d", ok, gone, raceN-1)
	}
	n, err := f.s.CountRecoveryCodes(f.ctx, u.ID)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountRecoveryCodes = %d, want 1", n)
	}
}

// throttleRaceN goroutines race for one throttle key.
const throttleRaceN = 64

func testRaceReserveCount(t *testing.T, f *fixture) {
	const limit = 10
	p := countOnly(limit, time.Hour)
	res := make([]store.Reservation, throttleRaceN)
	errs := race(throttleRaceN, func(i int) error {
		var err error
		res[i], err = f.s.Reserve(f.ctx, "ip:198.51.100.7", f.now, p)
		return err
	})
	tally(t, errs, nil)
	// Exactly limit granted, with the counts 1..limit once each.
	seen := make([]bool, limit+1)
	granted := 0
	for _, r := range res {
		if !r.Granted {
			continue
		}
		granted++
		if r.Count < 1 || r.Count > limit || seen[r.Count] {
			t.Fatalf("granted counts %+v: want each of 1..%d once", res, limit)
		}
		seen[r.Count] = true
	}
	if granted != limit {
		t.Fatalf("%d of %d reservations granted; want exactly %d", granted, throttleRaceN, limit)
	}
	n, _, err := f.s.Failures(f.ctx, "ip:198.51.100.7", f.now, time.Hour)
	must(t, err)
	if n != limit {
		t.Fatalf("count after the race = %d, want %d (refusals are not counted)", n, limit)
	}
}

// testRaceReserveDelay: with one free attempt and a delay after it, only one
// of the concurrent attempts at the same instant is granted.
func testRaceReserveDelay(t *testing.T, f *fixture) {
	p := store.ThrottlePolicy{Window: time.Hour, Free: 1, Limit: 10, BaseDelay: time.Second, MaxDelay: time.Minute, LockFor: time.Hour}
	granted := make([]bool, throttleRaceN)
	errs := race(throttleRaceN, func(i int) error {
		r, err := f.s.Reserve(f.ctx, "acct:race@example.com", f.now, p)
		granted[i] = r.Granted
		return err
	})
	tally(t, errs, nil)
	n := 0
	for _, g := range granted {
		if g {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d concurrent attempts granted; want 1", n)
	}
}

// testRaceReserveRefund: reservations and refunds interleave (every granted
// reservation is refunded at once, as successes are): the count never passes
// the limit at any moment, nothing is lost, and the key ends at zero.
func testRaceReserveRefund(t *testing.T, f *fixture) {
	const limit = 5
	p := countOnly(limit, time.Hour)
	var inFlight, peak atomic.Int64
	errs := race(throttleRaceN, func(i int) error {
		r, err := f.s.Reserve(f.ctx, "signup:ip:198.51.100.8", f.now, p)
		if err != nil || !r.Granted {
			return err
		}
		cur := inFlight.Add(1)
		for {
			old := peak.Load()
			if cur <= old || peak.CompareAndSwap(old, cur) {
				break
			}
		}
		inFlight.Add(-1)
		return f.s.Refund(f.ctx, "signup:ip:198.51.100.8", r)
	})
	tally(t, errs, nil)
	if pk := peak.Load(); pk > limit || pk < 1 {
		t.Fatalf("peak granted-and-not-refunded reservations = %d; want 1..%d", pk, limit)
	}
	n, _, err := f.s.Failures(f.ctx, "signup:ip:198.51.100.8", f.now, time.Hour)
	must(t, err)
	if n != 0 {
		t.Fatalf("count after every reservation was refunded = %d, want 0", n)
	}
}

// testRaceCreateTokens: many concurrent issuances, every third one a
// duplicate of an existing token (a conflict), each pair of tokens all or
// nothing. Backends may commit concurrent writes together (group commit); a
// failing write must still fail alone.
func testRaceCreateTokens(t *testing.T, f *fixture) {
	w := f.world()
	existing := f.token(store.TokenAccess, w.g)
	pairs := make([][2]*store.Token, raceN)
	for i := range pairs {
		pairs[i] = [2]*store.Token{f.newToken(store.TokenAccess, w.g), f.newToken(store.TokenRefresh, w.g)}
		if i%3 == 0 {
			// Same hash as a stored token: this pair must fail as a whole.
			pairs[i][1].Hash = existing.Hash
		}
	}
	errs := race(raceN, func(i int) error { return f.s.CreateTokens(f.ctx, pairs[i][0], pairs[i][1]) })
	for i, err := range errs {
		wantConflict := i%3 == 0
		if wantConflict && !errors.Is(err, store.ErrConflict) {
			t.Errorf("pair %d: error %v, want ErrConflict", i, err)
		}
		if !wantConflict && err != nil {
			t.Errorf("pair %d failed with its neighbour: %v", i, err)
		}
		_, err0 := f.s.TokenByHash(f.ctx, pairs[i][0].Hash)
		if wantConflict != errors.Is(err0, store.ErrNotFound) {
			t.Errorf("pair %d: first token lookup = %v; all-or-nothing broken", i, err0)
		}
	}
}

package storetest

import (
	"errors"
	"fmt"
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

func testRaceRecordFailure(t *testing.T, f *fixture) {
	counts := make([]int, raceN)
	errs := race(raceN, func(i int) error {
		n, err := f.s.RecordFailure(f.ctx, "ip:198.51.100.7", f.now, time.Hour)
		counts[i] = n
		return err
	})
	tally(t, errs, nil)
	// Every failure counted once: the returned counts are 1..raceN.
	seen := make([]bool, raceN+1)
	for _, n := range counts {
		if n < 1 || n > raceN || seen[n] {
			t.Fatalf("RecordFailure counts %v: want each of 1..%d once", counts, raceN)
		}
		seen[n] = true
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

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// errBoom is what test transactions fail with.
var errBoom = errors.New("storetest: boom")

// hangGuard bounds a test that would otherwise hang forever if a transaction
// leaked its connection (on SQLite: the only write connection). It is a
// deadlock detector, not a timing assertion.
func hangGuard(f *fixture) (context.Context, context.CancelFunc) {
	return context.WithTimeout(f.ctx, 2*time.Minute)
}

func (f *fixture) newUser() *store.User {
	id := f.id("user")
	return &store.User{ID: id, Email: id + "@example.com", Name: "N", PasswordHash: "h",
		CredentialsChangedAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
}

func (f *fixture) wantNoUser(t *testing.T, id string) {
	t.Helper()
	_, err := f.s.UserByID(f.ctx, id)
	wantErr(t, err, store.ErrNotFound)
}

func testTxCommit(t *testing.T, f *fixture) {
	u := f.newUser()
	c := &store.Client{ID: f.id("client"), Name: "App", OwnerID: u.ID, Type: store.ClientPublic,
		Status: store.ClientActive, CreatedAt: f.now, UpdatedAt: f.now}
	p := &store.PAT{ID: f.id("pat"), UserID: u.ID, Hash: "pathash-tx", CreatedAt: f.now}
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.CreateUser(f.ctx, u); err != nil {
			return err
		}
		if err := tx.CreateClient(f.ctx, c, nil); err != nil { // itself a transaction: joins this one
			return err
		}
		return tx.CreatePAT(f.ctx, p)
	}))
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	equal(t, "committed user", got, u)
	_, err = f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	_, err = f.s.PATByHash(f.ctx, p.Hash)
	must(t, err)
}

func testTxRollbackOnError(t *testing.T, f *fixture) {
	w := f.world()
	u := f.newUser()
	err := f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.CreateUser(f.ctx, u); err != nil {
			return err
		}
		if err := tx.CreatePAT(f.ctx, &store.PAT{ID: f.id("pat"), UserID: u.ID, Hash: "pathash-rb", CreatedAt: f.now}); err != nil {
			return err
		}
		if err := tx.RevokeGrant(f.ctx, w.g.ID, f.now); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("InTx returned %v, want fn's error unchanged", err)
	}
	f.wantNoUser(t, u.ID)
	_, err = f.s.PATByHash(f.ctx, "pathash-rb")
	wantErr(t, err, store.ErrNotFound)
	g, err := f.s.GrantByID(f.ctx, w.g.ID)
	must(t, err)
	if g.RevokedAt != nil {
		t.Fatal("grant revoked by a rolled-back transaction")
	}
	// A store error inside comes back as is, so callers can branch on it.
	err = f.s.InTx(f.ctx, func(tx store.Store) error { return tx.CreateUser(f.ctx, w.u) })
	wantErr(t, err, store.ErrConflict)
}

func testTxRollbackOnPanic(t *testing.T, f *fixture) {
	ctx, cancel := hangGuard(f)
	defer cancel()
	u := f.newUser()
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Fatalf("recovered %v, want the panic to go on unchanged", r)
			}
		}()
		_ = f.s.InTx(ctx, func(tx store.Store) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	f.wantNoUser(t, u.ID)
	// The transaction let go of its connection: writes still go through.
	other := f.newUser()
	must(t, f.s.CreateUser(ctx, other))
	must(t, f.s.InTx(ctx, func(tx store.Store) error { return tx.SetDisabled(ctx, other.ID, true, f.now) }))
}

func testTxReadsSeeWrites(t *testing.T, f *fixture) {
	w := f.world()
	u := f.newUser()
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.CreateUser(f.ctx, u); err != nil {
			return err
		}
		got, err := tx.UserByID(f.ctx, u.ID)
		if err != nil {
			return fmt.Errorf("user written in the transaction: %w", err)
		}
		equal(t, "user read in the transaction", got, u)
		if err := tx.UpdatePassword(f.ctx, u.ID, "new-hash", false, f.now); err != nil {
			return err
		}
		if got, err = tx.UserByEmail(f.ctx, u.Email); err != nil || got.PasswordHash != "new-hash" {
			return fmt.Errorf("updated password not read back: %v, %v", got, err)
		}
		if err := tx.CreatePAT(f.ctx, &store.PAT{ID: f.id("pat"), UserID: u.ID, Hash: "pathash-rw", CreatedAt: f.now}); err != nil {
			return err
		}
		if list, err := tx.ListPATs(f.ctx, u.ID); err != nil || len(list) != 1 {
			return fmt.Errorf("ListPATs in the transaction = %v, %v; want the new PAT", list, err)
		}
		c := &store.Consent{UserID: w.u.ID, ClientID: w.c.ID, Scopes: []string{"a"}, CreatedAt: f.now, UpdatedAt: f.now}
		if err := tx.UpsertConsent(f.ctx, c); err != nil {
			return err
		}
		if got, err := tx.Consent(f.ctx, w.u.ID, w.c.ID); err != nil || !slices.Equal(got.Scopes, c.Scopes) {
			return fmt.Errorf("consent in the transaction = %v, %v", got, err)
		}
		return nil
	}))
}

// testTxGroupedWrites: writes that normally go through group commit (grants,
// codes, tokens, rotation) run inside InTx without waiting for the group
// (on SQLite that would wait forever for the connection the transaction
// holds), see each other, and roll back with it.
func testTxGroupedWrites(t *testing.T, f *fixture) {
	ctx, cancel := hangGuard(f)
	defer cancel()
	w := f.world()
	for _, commit := range []bool{false, true} {
		g := &store.Grant{ID: f.id("grant"), ClientID: w.c.ID, UserID: w.u.ID, CreatedAt: f.now}
		code := &store.AuthCode{Hash: f.id("code"), GrantID: g.ID, ClientID: w.c.ID, UserID: w.u.ID,
			AuthTime: f.now, CreatedAt: f.now, ExpiresAt: f.at(time.Minute)}
		refresh, next := f.newToken(store.TokenRefresh, g), f.newToken(store.TokenRefresh, g)
		err := f.s.InTx(ctx, func(tx store.Store) error {
			if err := tx.CreateGrant(ctx, g); err != nil {
				return err
			}
			if err := tx.CreateAuthCode(ctx, code); err != nil {
				return err
			}
			if _, err := tx.ConsumeAuthCode(ctx, code.Hash, f.now); err != nil {
				return err
			}
			if _, err := tx.ConsumeAuthCode(ctx, code.Hash, f.now); !errors.Is(err, store.ErrAlreadyUsed) {
				return fmt.Errorf("second consumption in the transaction: %v, want ErrAlreadyUsed", err)
			}
			if err := tx.CreateTokens(ctx, refresh); err != nil {
				return err
			}
			if _, err := tx.RotateRefreshToken(ctx, refresh.Hash, f.now, next); err != nil {
				return err
			}
			if _, err := tx.TokenByHash(ctx, next.Hash); err != nil {
				return fmt.Errorf("rotated token in the transaction: %w", err)
			}
			if !commit {
				return errBoom
			}
			return nil
		})
		if !commit {
			wantErr(t, err, errBoom)
			_, err = f.s.GrantByID(ctx, g.ID)
			wantErr(t, err, store.ErrNotFound)
			_, err = f.s.TokenByHash(ctx, refresh.Hash)
			wantErr(t, err, store.ErrNotFound)
			continue
		}
		must(t, err)
		info, err := f.s.TokenByHash(ctx, refresh.Hash)
		must(t, err)
		if info.ConsumedAt == nil {
			t.Fatal("rotation inside the committed transaction lost")
		}
		_, err = f.s.TokenByHash(ctx, next.Hash)
		must(t, err)
	}
	// Group commit still works afterwards.
	f.token(store.TokenAccess, w.g)
}

func testTxNested(t *testing.T, f *fixture) {
	a, b := f.newUser(), f.newUser()
	// The inner InTx joins the outer transaction: the outer error undoes both.
	err := f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.CreateUser(f.ctx, a); err != nil {
			return err
		}
		if err := tx.InTx(f.ctx, func(inner store.Store) error { return inner.CreateUser(f.ctx, b) }); err != nil {
			return err
		}
		if _, err := tx.UserByID(f.ctx, b.ID); err != nil {
			return fmt.Errorf("outer transaction does not see the inner write: %w", err)
		}
		return errBoom
	})
	wantErr(t, err, errBoom)
	f.wantNoUser(t, a.ID)
	f.wantNoUser(t, b.ID)
	// An inner error is handed back unchanged.
	err = f.s.InTx(f.ctx, func(tx store.Store) error {
		return tx.InTx(f.ctx, func(store.Store) error { return errBoom })
	})
	wantErr(t, err, errBoom)
	// And both commit together.
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.CreateUser(f.ctx, a); err != nil {
			return err
		}
		return tx.InTx(f.ctx, func(inner store.Store) error { return inner.CreateUser(f.ctx, b) })
	}))
	for _, id := range []string{a.ID, b.ID} {
		_, err := f.s.UserByID(f.ctx, id)
		must(t, err)
	}
}

func testTxLockUnknown(t *testing.T, f *fixture) {
	w := f.world()
	wantErr(t, f.s.LockUser(f.ctx, "nope"), store.ErrNotFound)
	wantErr(t, f.s.LockClient(f.ctx, "nope"), store.ErrNotFound)
	must(t, f.s.LockUser(f.ctx, w.u.ID))
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.LockUser(f.ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("LockUser(unknown) in a transaction = %v, want ErrNotFound", err)
		}
		return nil
	}))
	must(t, f.s.InTx(f.ctx, func(tx store.Store) error {
		if err := tx.LockUser(f.ctx, w.u.ID); err != nil {
			return err
		}
		if err := tx.LockClient(f.ctx, w.c.ID); err != nil {
			return err
		}
		return tx.LockUser(f.ctx, w.u.ID) // locking twice in one transaction is fine
	}))
}

// testTxTouchLarge: a batch of many stamps is written completely.
func testTxTouchLarge(t *testing.T, f *fixture) {
	u := f.user()
	stamps := map[string]time.Time{}
	for i := range 200 {
		p := f.pat(u.ID)
		stamps[p.ID] = f.at(time.Duration(i) * time.Second)
	}
	must(t, f.s.TouchPATs(f.ctx, stamps))
	list, err := f.s.ListPATs(f.ctx, u.ID)
	must(t, err)
	for _, p := range list {
		equal(t, "LastUsedAt of "+p.ID, p.LastUsedAt, ptr(stamps[p.ID]))
	}
}

// txRaceN goroutines race in the transaction tests.
const txRaceN = 64

// testRaceTxCap: "count then create" under a cap, each attempt in InTx after
// LockUser: exactly cap creations succeed, whatever the concurrency.
func testRaceTxCap(t *testing.T, f *fixture) {
	const limit = 10
	u := f.user()
	errs := race(txRaceN, func(i int) error {
		return f.s.InTx(f.ctx, func(tx store.Store) error {
			if err := tx.LockUser(f.ctx, u.ID); err != nil {
				return err
			}
			list, err := tx.ListPATs(f.ctx, u.ID)
			if err != nil {
				return err
			}
			if len(list) >= limit {
				return errBoom
			}
			return tx.CreatePAT(f.ctx, &store.PAT{ID: fmt.Sprintf("cap-%02d", i), UserID: u.ID,
				Hash: fmt.Sprintf("cap-hash-%02d", i), CreatedAt: f.now})
		})
	})
	if ok, refused := tally(t, errs, errBoom); ok != limit || refused != txRaceN-limit {
		t.Fatalf("%d created and %d refused; want %d and %d", ok, refused, limit, txRaceN-limit)
	}
	list, err := f.s.ListPATs(f.ctx, u.ID)
	must(t, err)
	if len(list) != limit {
		t.Fatalf("%d PATs stored, want %d", len(list), limit)
	}
}

// testRaceTxConsentMerge: concurrent read-merge-write of one consent, each
// adding its own scope, ends with every scope.
func testRaceTxConsentMerge(t *testing.T, f *fixture) {
	w := f.world()
	errs := race(txRaceN, func(i int) error {
		return f.s.InTx(f.ctx, func(tx store.Store) error {
			if err := tx.LockUser(f.ctx, w.u.ID); err != nil {
				return err
			}
			scopes := []string{fmt.Sprintf("s%02d", i)}
			prev, err := tx.Consent(f.ctx, w.u.ID, w.c.ID)
			switch {
			case err == nil:
				scopes = append(scopes, prev.Scopes...)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			return tx.UpsertConsent(f.ctx, &store.Consent{UserID: w.u.ID, ClientID: w.c.ID, Scopes: scopes, CreatedAt: f.now, UpdatedAt: f.now})
		})
	})
	tally(t, errs, nil)
	c, err := f.s.Consent(f.ctx, w.u.ID, w.c.ID)
	must(t, err)
	if len(c.Scopes) != txRaceN {
		t.Fatalf("consent holds %d scopes after %d concurrent merges, want all of them", len(c.Scopes), txRaceN)
	}
}

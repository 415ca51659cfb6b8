package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Signing keys round-trip with their whole life (created, active, retired,
// expires); retiring spares the new key and keys of other algorithms; an
// expired key is neither listed nor kept.

func (f *fixture) signingKey(alg string, mod ...func(*store.SigningKey)) *store.SigningKey {
	k := &store.SigningKey{KID: f.id("kid"), Alg: alg, PrivateKey: "v1:sealed-" + alg, CreatedAt: f.now, ActiveAt: f.now}
	for _, m := range mod {
		m(k)
	}
	must(f.t, f.s.CreateSigningKey(f.ctx, k))
	return k
}

func testSigningKeysLifecycle(t *testing.T, f *fixture) {
	oldRS := f.signingKey("RS256")
	es := f.signingKey("ES256", func(k *store.SigningKey) { k.CreatedAt = f.at(time.Second) })
	newRS := f.signingKey("RS256", func(k *store.SigningKey) {
		k.CreatedAt, k.ActiveAt = f.at(2*time.Second), f.at(time.Hour)
	})

	list, err := f.s.ListSigningKeys(f.ctx, f.now)
	must(t, err)
	if len(list) != 3 || list[0].KID != oldRS.KID || list[1].KID != es.KID || list[2].KID != newRS.KID {
		t.Fatalf("ListSigningKeys order: %+v", list)
	}
	got := list[2]
	equal(t, "alg", got.Alg, "RS256")
	equal(t, "private key", got.PrivateKey, newRS.PrivateKey)
	equal(t, "created", got.CreatedAt, newRS.CreatedAt.Truncate(time.Millisecond))
	equal(t, "active", got.ActiveAt, newRS.ActiveAt.Truncate(time.Millisecond))
	if got.RetiredAt != nil || got.ExpiresAt != nil {
		t.Fatalf("fresh key has retired %v, expires %v", got.RetiredAt, got.ExpiresAt)
	}

	n, err := f.s.RetireSigningKeys(f.ctx, "RS256", newRS.KID, f.at(time.Hour), f.at(3*time.Hour))
	must(t, err)
	equal(t, "retired count", n, 1)
	// Retiring again changes nothing: the old key keeps its first dates.
	n, err = f.s.RetireSigningKeys(f.ctx, "RS256", newRS.KID, f.at(5*time.Hour), f.at(9*time.Hour))
	must(t, err)
	equal(t, "retired again", n, 0)

	list, err = f.s.ListSigningKeys(f.ctx, f.at(2*time.Hour))
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("before expiry want 3 keys, got %d", len(list))
	}
	for _, k := range list {
		switch k.KID {
		case oldRS.KID:
			if k.RetiredAt == nil || !k.RetiredAt.Equal(f.at(time.Hour).Truncate(time.Millisecond)) ||
				k.ExpiresAt == nil || !k.ExpiresAt.Equal(f.at(3*time.Hour).Truncate(time.Millisecond)) {
				t.Fatalf("old key dates: retired %v expires %v", k.RetiredAt, k.ExpiresAt)
			}
		default:
			if k.RetiredAt != nil {
				t.Fatalf("key %s (%s) was retired", k.KID, k.Alg)
			}
		}
	}

	// After its expiry the old key is no longer listed, then deleted.
	list, err = f.s.ListSigningKeys(f.ctx, f.at(3*time.Hour))
	must(t, err)
	equal(t, "listed after expiry", len(list), 2)
	n, err = f.s.DeleteExpiredSigningKeys(f.ctx, f.at(3*time.Hour))
	must(t, err)
	equal(t, "deleted", n, 1)
	list, err = f.s.ListSigningKeys(f.ctx, f.now)
	must(t, err)
	equal(t, "left", len(list), 2)
}

func testSigningKeyKIDUnique(t *testing.T, f *fixture) {
	k := f.signingKey("EdDSA")
	err := f.s.CreateSigningKey(f.ctx, &store.SigningKey{KID: k.KID, Alg: "RS256", PrivateKey: "x", CreatedAt: f.now, ActiveAt: f.now})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate kid: got %v, want ErrConflict", err)
	}
}

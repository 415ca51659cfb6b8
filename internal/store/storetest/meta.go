package storetest

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

// testMetaInitOnce: a name is written once; later initialisations return the
// first value and change nothing; names are independent.
func testMetaInitOnce(t *testing.T, f *fixture) {
	_, err := f.s.MetaValue(f.ctx, "key_check")
	wantErr(t, err, store.ErrNotFound)
	got, err := f.s.InitMetaValue(f.ctx, "key_check", "v1:first", f.now)
	must(t, err)
	equal(t, "first init", got, "v1:first")
	got, err = f.s.InitMetaValue(f.ctx, "key_check", "v1:second", f.at(1))
	must(t, err)
	equal(t, "second init", got, "v1:first")
	got, err = f.s.MetaValue(f.ctx, "key_check")
	must(t, err)
	equal(t, "stored value", got, "v1:first")
	got, err = f.s.InitMetaValue(f.ctx, "other", "x", f.now)
	must(t, err)
	equal(t, "other name", got, "x")
}

// testRaceInitMetaValue: replicas starting at once with different values all
// see the one value that landed.
func testRaceInitMetaValue(t *testing.T, f *fixture) {
	const n = 64
	got := make([]string, n)
	errs := race(n, func(i int) error {
		v, err := f.s.InitMetaValue(f.ctx, "key_check", fmt.Sprintf("v%d", i), f.now)
		got[i] = v
		return err
	})
	for i, err := range errs {
		must(t, err)
		if got[i] != got[0] {
			t.Fatalf("caller %d saw %q, caller 0 saw %q", i, got[i], got[0])
		}
	}
	stored, err := f.s.MetaValue(f.ctx, "key_check")
	must(t, err)
	equal(t, "stored value", stored, got[0])
}

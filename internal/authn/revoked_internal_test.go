package authn

import (
	"strconv"
	"testing"
	"time"
)

// TestRevokedUsesBound: one entry per credential per interval, and the
// memory of them stays bounded: when it is full, credentials whose interval
// ended make room, and until then further credentials go unrecorded.
func TestRevokedUsesBound(t *testing.T) {
	var u revokedUses
	t0 := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		cred     string
		at       time.Duration
		ok, full bool
	}{
		{"pat:a", 0, true, false},
		{"pat:a", 59 * time.Second, false, false},
		{"api_key:a", 59 * time.Second, true, false},
		{"pat:a", time.Minute, true, false},
	} {
		ok, full := u.admit(c.cred, t0.Add(c.at))
		if ok != c.ok || full != c.full {
			t.Fatalf("%s at %v: admit = %v, %v; want %v, %v", c.cred, c.at, ok, full, c.ok, c.full)
		}
	}
	u = revokedUses{}
	for i := range maxRevokedTracked {
		if ok, _ := u.admit(strconv.Itoa(i), t0); !ok {
			t.Fatalf("credential %d refused below the bound", i)
		}
	}
	if ok, full := u.admit("one more", t0.Add(time.Second)); ok || !full {
		t.Fatalf("past the bound: admit = %v, %v", ok, full)
	}
	if ok, _ := u.admit("one more", t0.Add(time.Minute)); !ok || len(u.last) != 1 {
		t.Fatalf("after the interval: admit = %v with %d remembered", ok, len(u.last))
	}
}

package scope

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

func TestNewAcceptsOperatorScopes(t *testing.T) {
	cat, err := New([]config.ScopeSpec{
		{Name: "accounts:read", Description: " See your accounts ", Group: "Accounts"},
		{Name: "cards:write", Description: "Create cards", Group: "Cards", Carriers: []string{"pat", "app"}, Sensitive: true},
		{Name: "orders:write", Description: "Place orders"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.Names(); !slices.Equal(got[len(got)-3:], []string{"accounts:read", "cards:write", "orders:write"}) || got[0] != ProfileRead {
		t.Fatalf("Names = %q (built-ins first, then declaration order)", got)
	}
	acc, _ := cat.Lookup("accounts:read")
	if acc.Description != "See your accounts" || !acc.Delegate || !acc.PAT || !acc.App || acc.BuiltIn || acc.Sensitive {
		t.Errorf("accounts:read = %+v (no carriers: all three)", acc)
	}
	cw, _ := cat.Lookup("cards:write")
	if cw.Delegate || !cw.PAT || !cw.App || !cw.Sensitive {
		t.Errorf("cards:write = %+v", cw)
	}
	if o, _ := cat.Lookup("orders:write"); o.Group != DefaultGroup {
		t.Errorf("orders:write group %q", o.Group)
	}
	if got := cat.NamesFor(Delegated); slices.Contains(got, "cards:write") || !slices.Contains(got, "accounts:read") {
		t.Errorf("NamesFor(delegated) = %q", got)
	}
	if got := cat.AppScopes([]string{"cards:write", "accounts:read", "nope"}); !slices.Equal(got, []string{"accounts:read", "cards:write"}) {
		t.Errorf("AppScopes = %q", got)
	}
	if got := cat.Sensitive([]string{"accounts:read", "cards:write"}); !slices.Equal(got, []string{"cards:write"}) {
		t.Errorf("Sensitive = %q", got)
	}
}

// TestNewReportsEveryProblem: each invalid entry is named, all at once.
func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New([]config.ScopeSpec{
		{Name: "", Description: "x"},
		{Name: "has space", Description: "x"},
		{Name: `quote"d`, Description: "x"},
		{Name: "profile:read", Description: "mine now"},
		{Name: "dup", Description: "x"},
		{Name: "dup", Description: "again"},
		{Name: "nodesc"},
		{Name: "ctl", Description: "bad\x07bell"},
		{Name: "long", Description: strings.Repeat("x", MaxDescriptionLen+1)},
		{Name: "carrier", Description: "x", Carriers: []string{"robot"}},
		{Name: "twice", Description: "x", Carriers: []string{"pat", "pat"}},
		{Name: "grp", Description: "x", Group: "a\nb"},
		{Name: strings.Repeat("n", MaxNameLen+1), Description: "x"},
		{Name: "fine", Description: "ok"},
	})
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"scopes[0]: a name is required",
		`scopes[1] ("has space"): the name is not an RFC 6749 §3.3 scope-token`,
		`scopes[2]`,
		`"profile:read" is one of Gatehouse's built-in scopes`,
		`scopes[5] ("dup"): "dup" is declared twice`,
		`scopes[6] ("nodesc"): a description is required`,
		`scopes[7] ("ctl"): description contains control characters`,
		`scopes[8] ("long"): description is longer than`,
		`scopes[9] ("carrier"): unknown carrier "robot"`,
		`scopes[10] ("twice"): carrier "pat" is listed twice`,
		`scopes[11] ("grp"): group contains control characters`,
		`scopes[12]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error misses %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `("fine")`) || strings.Contains(msg, "scopes[4]") || strings.Contains(msg, strings.Repeat("n", 65)) {
		t.Errorf("a valid entry is reported:\n%s", msg)
	}
}

func TestBuiltinCarriers(t *testing.T) {
	cat := Builtin()
	for _, s := range cat.All() {
		oidc := slices.Contains([]string{OpenID, Profile, Email, OfflineAccess}, s.Name)
		if !s.BuiltIn || s.Group != BuiltinGroup {
			t.Errorf("built-in %+v", s)
		}
		switch {
		case oidc:
			// OpenID Connect scopes belong to a user's sign-in with an
			// app only.
			if s.PAT || s.App {
				t.Errorf("OpenID Connect scope %+v", s)
			}
		case !s.PAT || s.App == s.AdminOnly:
			t.Errorf("built-in %+v", s)
		}
	}
	if a, ok := cat.Lookup(Admin); !ok || a.Delegate || a.App || !a.AdminOnly || !a.Sensitive {
		t.Errorf("admin scope %+v: must be an administrator-only, sensitive PAT scope", a)
	}
	if got := cat.NamesFor(Delegated); !slices.Equal(got, []string{ProfileRead, TokensRead, OpenID, Profile, Email, OfflineAccess}) {
		t.Errorf("delegable built-ins %q", got)
	}
	if got, err := New(nil); err != nil || !slices.Equal(got.Names(), cat.Names()) {
		t.Errorf("New(nil) = %v, %v", got, err)
	}
}

// TestCarried: what a credential carries is what it was issued with, minus
// scopes no longer in the catalog or no longer allowed for its kind.
func TestCarried(t *testing.T) {
	cat, err := New([]config.ScopeSpec{
		{Name: "cards:read", Description: "x"},
		{Name: "cards:admin", Description: "x", Carriers: []string{"app"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	issued := []string{"cards:read", "removed:scope", "cards:admin", ProfileRead, TokensRevoke}
	for _, c := range []struct {
		k    Carrier
		want []string
	}{
		{Delegated, []string{"cards:read", ProfileRead}},
		{PAT, []string{"cards:read", ProfileRead, TokensRevoke}},
		{App, []string{"cards:read", "cards:admin", ProfileRead, TokensRevoke}},
	} {
		if got := cat.Carried(c.k, issued); !slices.Equal(got, c.want) {
			t.Errorf("Carried(%s) = %q, want %q", c.k, got, c.want)
		}
	}
	if got := cat.Carried(PAT, nil); got == nil || len(got) != 0 {
		t.Errorf("Carried(nil) = %#v, want empty non-nil", got)
	}
}

// TestGroups: the consent page's arrangement — groups in catalog order,
// except that a group with a sensitive scope comes first, and sensitive
// scopes first within their group; unrequested scopes are absent.
func TestGroups(t *testing.T) {
	cat, err := New([]config.ScopeSpec{
		{Name: "accounts:read", Description: "a", Group: "Accounts"},
		{Name: "cards:read", Description: "c", Group: "Cards"},
		{Name: "cards:freeze", Description: "f", Group: "Cards", Sensitive: true},
		{Name: "orders:read", Description: "o", Group: "Orders"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := cat.Groups([]string{"profile:read", "accounts:read", "cards:read", "cards:freeze"})
	var shape []string
	for _, g := range got {
		var names []string
		for _, s := range g.Scopes {
			names = append(names, s.Name)
		}
		shape = append(shape, g.Name+"="+strings.Join(names, ","))
	}
	want := []string{"Cards=cards:freeze,cards:read", BuiltinGroup + "=profile:read", "Accounts=accounts:read"}
	if !slices.Equal(shape, want) {
		t.Errorf("Groups = %q, want %q", shape, want)
	}
	if !got[0].Sensitive || got[1].Sensitive {
		t.Errorf("group sensitivity %+v", got)
	}
}

// TestHolderConcurrentReload: services read the catalog while a reload swaps
// it; every read sees one whole catalog, never a mix (run with -race).
func TestHolderConcurrentReload(t *testing.T) {
	a, _ := New([]config.ScopeSpec{{Name: "cards:read", Description: "x"}})
	b, _ := New([]config.ScopeSpec{{Name: "orders:read", Description: "y"}})
	h := NewHolder(a)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				if i%8 == 0 {
					if j%2 == 0 {
						h.Store(b)
					} else {
						h.Store(a)
					}
					continue
				}
				cat := h.Load()
				_, card := cat.Lookup("cards:read")
				_, order := cat.Lookup("orders:read")
				if card == order {
					t.Errorf("catalog with cards:read=%v orders:read=%v", card, order)
					return
				}
			}
		}()
	}
	wg.Wait()
	var nilHolder *Holder
	if nilHolder.Load() == nil || NewHolder(nil).Load() == nil {
		t.Error("a nil holder or catalog must read as the built-in catalog")
	}
}

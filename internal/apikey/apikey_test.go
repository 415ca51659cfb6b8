package apikey_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func TestCheckCIDRs(t *testing.T) {
	cases := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{nil, "", false},
		{[]string{"203.0.113.0/24"}, "203.0.113.0/24", false},
		{[]string{"203.0.113.7/24"}, "203.0.113.0/24", false}, // masked
		{[]string{"203.0.113.7"}, "203.0.113.7/32", false},
		{[]string{" 2001:db8::1/32 "}, "2001:db8::/32", false},
		{[]string{"2001:db8::1"}, "2001:db8::1/128", false},
		{[]string{"::ffff:10.0.0.0/104"}, "10.0.0.0/8", false},
		{[]string{"10.0.0.0/8", "10.1.0.0/8"}, "10.0.0.0/8", false}, // duplicate after masking
		{[]string{"10.0.0.0/33"}, "", true},
		{[]string{"example.com"}, "", true},
		{[]string{"fe80::1%eth0"}, "", true},
		{[]string{""}, "", true},
		{[]string{"::ffff:0:0/90"}, "", true},
	}
	for _, c := range cases {
		got, err := apikey.CheckCIDRs(c.in)
		if (err != nil) != c.wantErr || strings.Join(got, ",") != c.want {
			t.Errorf("CheckCIDRs(%q) = %q, %v", c.in, got, err)
		}
	}
	if _, err := apikey.CheckCIDRs(make([]string, apikey.MaxCIDRs+1)); err == nil {
		t.Error("too many ranges accepted")
	}
}

func TestAddrAllowed(t *testing.T) {
	cidrs := []string{"10.0.0.0/8", "2001:db8::/32"}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "::ffff:10.1.2.3": true, "11.0.0.1": false,
		"2001:db8::5": true, "2001:db9::5": false, "127.0.0.1": false,
	} {
		if got := apikey.AddrAllowed(cidrs, netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %v", addr, got)
		}
	}
	if !apikey.AddrAllowed(nil, netip.Addr{}) || apikey.AddrAllowed(cidrs, netip.Addr{}) {
		t.Error("unrestricted / unknown address")
	}
}

func TestCheckScopes(t *testing.T) {
	c := &store.Client{Scopes: []string{"profile:read", "tokens:read"}}
	if got, err := apikey.CheckScopes(scope.Builtin(), c, []string{"profile:read", "profile:read"}); err != nil || len(got) != 1 {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"tokens:write"}, {"nope"}} {
		_, err := apikey.CheckScopes(scope.Builtin(), c, bad)
		var ie *apikey.InvalidError
		if !errors.As(err, &ie) || !ie.Scope {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestServiceRules(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		owner := e.CreateUser("owner@example.com", false)
		stranger := e.CreateUser("stranger@example.com", false)
		admin := e.CreateAdmin("admin@example.com")
		e.CreateClient("app1", owner.ID, "profile:read", "tokens:read")
		req := apikey.CreateRequest{ClientID: "app1", Name: "deploy", Scopes: []string{"profile:read"}}

		if _, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: stranger.ID}, req); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("stranger: %v", err)
		}
		r2 := req
		r2.ClientID = "nope"
		if _, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, r2); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
		byAdmin, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: admin.ID}, req)
		if err != nil {
			t.Fatalf("admin: %v", err)
		}
		sys, err := e.APIKeys.Create(e.Ctx, apikey.Actor{System: true}, req)
		if err != nil || sys.Key.CreatedBy != owner.ID {
			t.Fatalf("system: %+v %v", sys, err)
		}
		req.ExpiresIn = time.Hour
		req.AllowedCIDRs = []string{"10.0.0.0/8"}
		k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k.Secret, "gthk_") || len(k.Secret) != 54 || k.Key.Hash == k.Secret {
			t.Fatalf("secret %q", k.Secret)
		}

		in, out := netip.MustParseAddr("10.9.8.7"), netip.MustParseAddr("192.0.2.1")
		info, err := e.APIKeys.Validate(e.Ctx, k.Secret, in)
		if err != nil || info.ClientID != "app1" || info.ClientOwnerID != owner.ID || info.Hash != "" {
			t.Fatalf("Validate: %+v %v", info, err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, k.Secret, out); !errors.Is(err, apikey.ErrAddressNotAllowed) {
			t.Fatalf("outside CIDRs: %v", err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, byAdmin.Secret, out); err != nil {
			t.Fatalf("unrestricted key: %v", err)
		}
		// App disabled → its keys stop; re-activated → they work again.
		if err := e.Store.SetClientStatus(e.Ctx, "app1", store.ClientDisabled, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, byAdmin.Secret, in); !errors.Is(err, apikey.ErrInvalidKey) {
			t.Fatalf("disabled app: %v", err)
		}
		if err := e.Store.SetClientStatus(e.Ctx, "app1", store.ClientActive, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		// Owner disabled → the app's keys (which act as the owner) stop too.
		if err := e.Store.SetDisabled(e.Ctx, owner.ID, true, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, byAdmin.Secret, in); !errors.Is(err, apikey.ErrInvalidKey) {
			t.Fatalf("disabled owner's app key still valid: %v", err)
		}
		if err := e.Store.SetDisabled(e.Ctx, owner.ID, false, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, byAdmin.Secret, in); err != nil {
			t.Fatalf("re-enabled owner: %v", err)
		}
		e.Clock.Advance(time.Hour)
		if _, err := e.APIKeys.Validate(e.Ctx, k.Secret, in); !errors.Is(err, apikey.ErrInvalidKey) {
			t.Fatalf("expired: %v", err)
		}
		if err := e.APIKeys.Revoke(e.Ctx, apikey.Actor{UserID: stranger.ID}, "app1", byAdmin.Key.ID); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("stranger revoked: %v", err)
		}
		if err := e.APIKeys.Revoke(e.Ctx, apikey.Actor{UserID: owner.ID}, "app1", byAdmin.Key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.APIKeys.Validate(e.Ctx, byAdmin.Secret, in); !errors.Is(err, apikey.ErrInvalidKey) {
			t.Fatalf("revoked: %v", err)
		}
		list, err := e.APIKeys.List(e.Ctx, apikey.Actor{UserID: owner.ID}, "app1")
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %d %v", len(list), err)
		}
	})
}

// TestLastUsedRace: concurrent validations and flushes, checked under -race.
func TestLastUsedRace(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		owner := e.CreateUser("owner@example.com", false)
		e.CreateClient("app1", owner.ID, "profile:read")
		k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, apikey.CreateRequest{ClientID: "app1", Name: "k", Scopes: []string{"profile:read"}})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 20; i++ {
					if _, err := e.APIKeys.Validate(e.Ctx, k.Secret, netip.MustParseAddr("127.0.0.1")); err != nil {
						t.Error(err)
						return
					}
					if i%4 == 0 {
						e.Clock.Advance(time.Millisecond)
						if err := e.APIKeys.FlushLastUsed(context.Background()); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		e.Clock.Advance(time.Second)
		final := e.Clock.Now()
		if _, err := e.APIKeys.Validate(e.Ctx, k.Secret, netip.Addr{}); err != nil {
			t.Fatal(err)
		}
		if err := e.APIKeys.FlushLastUsed(context.Background()); err != nil {
			t.Fatal(err)
		}
		list, _ := e.Store.ListAPIKeys(e.Ctx, "app1")
		if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(final) {
			t.Fatalf("last used %v, want %v", list[0].LastUsedAt, final)
		}
	})
}

package authn_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// TestRevokedCredentialUseAudited: presenting a revoked API key or PAT is
// audited — once per credential per minute however often it is tried —
// while a valid credential's request, and an unknown credential's, write
// nothing.
func TestRevokedCredentialUseAudited(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{Audit: true})
		owner := e.CreateUser("owner@example.com", false)
		app := e.RegisterApp("Own", owner.ID, []string{oauth.GrantClientCredentials}, "profile:read")
		key, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, apikey.CreateRequest{ClientID: app.ID, Name: "k", Scopes: []string{"profile:read"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: owner.ID, Description: "script", Scopes: []string{"profile:read"}})
		if err != nil {
			t.Fatal(err)
		}
		head := func() int64 {
			t.Helper()
			cp, err := e.Store.AuditCheckpoint(e.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			return cp.HeadSeq
		}
		entries := func(typ string) []store.AuditEntry {
			t.Helper()
			list, err := e.Audit.List(e.Ctx, store.AuditFilter{Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		use := func(want int, headers ...string) {
			t.Helper()
			if r := e.Do("GET", tt.WhoAmI, "", headers...); r.Status != want {
				t.Fatalf("%v: %d, want %d", headers, r.Status, want)
			}
		}

		// Valid credentials write nothing.
		before := head()
		use(http.StatusOK, "X-API-Key", key.Secret)
		use(http.StatusOK, tt.Bearer(p.Token)...)
		unknown, _ := credential.Generate(rand.Reader, credential.APIKey, "")
		use(http.StatusUnauthorized, "X-API-Key", unknown)
		if after := head(); after != before {
			t.Fatalf("valid and unknown credentials wrote %d audit entries", after-before)
		}

		if err := e.APIKeys.Revoke(e.Ctx, apikey.Actor{UserID: owner.ID}, app.ID, key.Key.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.PATs.Revoke(e.Ctx, owner.ID, p.PAT.ID); err != nil {
			t.Fatal(err)
		}
		// Twice within the minute, by either header: one entry.
		use(http.StatusUnauthorized, "X-API-Key", key.Secret)
		e.Clock.Advance(59 * time.Second)
		use(http.StatusUnauthorized, tt.Bearer(key.Secret)...)
		got := entries(audit.APIKeyUsedAfterRevocation)
		if len(got) != 1 {
			t.Fatalf("%d %s entries, want 1", len(got), audit.APIKeyUsedAfterRevocation)
		}
		k := got[0]
		var d map[string]any
		json.Unmarshal([]byte(k.Details), &d)
		if k.ActorKind != store.ActorApp || k.ActorID != app.ID || k.Subject != app.ID || k.Outcome != store.OutcomeFailure ||
			k.ClientAddr != "127.0.0.1" || d["key_id"] != key.Key.ID || d["owner_id"] != owner.ID {
			t.Fatalf("entry %+v", k)
		}
		// A minute after the entry, the next use is recorded again.
		e.Clock.Advance(time.Second)
		use(http.StatusUnauthorized, "X-API-Key", key.Secret)
		if got := entries(audit.APIKeyUsedAfterRevocation); len(got) != 2 {
			t.Fatalf("%d entries after the minute, want 2", len(got))
		}

		// The PAT: its own credential, its own interval; the owner acts.
		for range 3 {
			use(http.StatusUnauthorized, tt.Bearer(p.Token)...)
		}
		// Validation outside the API (introspection, the gateway) goes
		// through the same validator and the same bound.
		if _, err := e.Auth.Validate(e.Ctx, p.Token, nil); err == nil {
			t.Fatal("revoked PAT validated")
		}
		got = entries(audit.PATUsedAfterRevocation)
		if len(got) != 1 || got[0].ActorKind != store.ActorUser || got[0].ActorID != owner.ID || got[0].Subject != owner.ID {
			t.Fatalf("PAT entries %+v", got)
		}
		if b, _, err := e.Audit.Verify(e.Ctx); err != nil || b != nil {
			t.Fatalf("chain: %v %v", b, err)
		}
	})
}

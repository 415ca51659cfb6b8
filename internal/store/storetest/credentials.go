package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func (f *fixture) pat(userID string, mod ...func(*store.PAT)) *store.PAT {
	f.t.Helper()
	id := f.id("pat")
	p := &store.PAT{ID: id, UserID: userID, Description: "CI " + id, Hash: "pathash-" + id,
		Scopes: []string{"repo:read"}, CreatedAt: f.now}
	for _, m := range mod {
		m(p)
	}
	must(f.t, f.s.CreatePAT(f.ctx, p))
	return p
}

func (f *fixture) apiKey(clientID, createdBy string, mod ...func(*store.APIKey)) *store.APIKey {
	f.t.Helper()
	id := f.id("key")
	k := &store.APIKey{ID: id, ClientID: clientID, Name: "key " + id, Hash: "keyhash-" + id,
		Scopes: []string{"events:write"}, CreatedBy: createdBy, CreatedAt: f.now}
	for _, m := range mod {
		m(k)
	}
	must(f.t, f.s.CreateAPIKey(f.ctx, k))
	return k
}

func testPATCreateLookup(t *testing.T, f *fixture) {
	u := f.user()
	bare := f.pat(u.ID)
	full := f.pat(u.ID, func(p *store.PAT) {
		p.ExpiresAt, p.LastUsedAt, p.RevokedAt = ptr(f.at(24*time.Hour)), ptr(f.at(time.Second)), ptr(f.at(time.Minute))
		p.Scopes = []string{"a", "b", "c"}
	})
	for _, p := range []*store.PAT{bare, full} {
		info, err := f.s.PATByHash(f.ctx, p.Hash)
		must(t, err)
		equal(t, "PATByHash", info, &store.PATInfo{PAT: *p, UserCredentialsChangedAt: u.CredentialsChangedAt, User: profile(u)})
	}
	dup := *bare
	dup.ID = "another-id"
	wantErr(t, f.s.CreatePAT(f.ctx, &dup), store.ErrConflict) // same hash
	wantErr(t, f.s.CreatePAT(f.ctx, &store.PAT{ID: "x", UserID: "nope", Hash: "x"}), store.ErrNotFound)
	_, err := f.s.PATByHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	must(t, f.s.SetDisabled(f.ctx, u.ID, true, f.at(time.Hour)))
	info, err := f.s.PATByHash(f.ctx, bare.Hash)
	must(t, err)
	if !info.UserDisabled {
		t.Fatal("UserDisabled = false after disabling the owner")
	}
	equal(t, "UserCredentialsChangedAt", info.UserCredentialsChangedAt, f.at(time.Hour))
}

func testPATListRevoke(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	p1 := f.pat(u.ID, func(p *store.PAT) { p.CreatedAt = f.at(time.Second) })
	p2 := f.pat(u.ID, func(p *store.PAT) { p.CreatedAt = f.at(2 * time.Second) })
	p3 := f.pat(u.ID, func(p *store.PAT) { p.CreatedAt = f.at(3 * time.Second) })
	theirs := f.pat(v.ID)

	list, err := f.s.ListPATs(f.ctx, u.ID)
	must(t, err)
	equal(t, "ListPATs (newest first)", list, []store.PAT{*p3, *p2, *p1})

	wantErr(t, f.s.RevokePAT(f.ctx, u.ID, theirs.ID, f.now), store.ErrNotFound) // not theirs
	wantErr(t, f.s.RevokePAT(f.ctx, u.ID, "nope", f.now), store.ErrNotFound)
	must(t, f.s.RevokePAT(f.ctx, u.ID, p2.ID, f.at(time.Minute)))
	must(t, f.s.RevokePAT(f.ctx, u.ID, p2.ID, f.at(time.Hour))) // idempotent
	info, err := f.s.PATByHash(f.ctx, p2.Hash)
	must(t, err)
	equal(t, "RevokedAt", info.RevokedAt, ptr(f.at(time.Minute)))

	must(t, f.s.RevokePATByHash(f.ctx, p3.Hash, f.at(time.Minute)))
	wantErr(t, f.s.RevokePATByHash(f.ctx, "nope", f.now), store.ErrNotFound)
	list, err = f.s.ListPATs(f.ctx, u.ID)
	must(t, err)
	equal(t, "ListPATs after revocations", list, []store.PAT{*p1})
	info, err = f.s.PATByHash(f.ctx, theirs.Hash)
	must(t, err)
	if info.RevokedAt != nil {
		t.Fatal("another user's PAT was revoked")
	}
}

func testPATTouch(t *testing.T, f *fixture) {
	u := f.user()
	p1, p2, p3 := f.pat(u.ID), f.pat(u.ID), f.pat(u.ID)
	must(t, f.s.TouchPATs(f.ctx, nil))
	must(t, f.s.TouchPATs(f.ctx, map[string]time.Time{p1.ID: f.at(time.Minute), p2.ID: f.at(time.Hour), "unknown": f.now}))
	// An older stamp arriving late does not move last use backwards.
	must(t, f.s.TouchPATs(f.ctx, map[string]time.Time{p2.ID: f.at(time.Minute)}))
	for _, c := range []struct {
		p    *store.PAT
		want *time.Time
	}{{p1, ptr(f.at(time.Minute))}, {p2, ptr(f.at(time.Hour))}, {p3, nil}} {
		info, err := f.s.PATByHash(f.ctx, c.p.Hash)
		must(t, err)
		equal(t, "LastUsedAt of "+c.p.ID, info.LastUsedAt, c.want)
	}
}

func testAPIKeyCreateLookup(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	bare := f.apiKey(c.ID, u.ID)
	full := f.apiKey(c.ID, u.ID, func(k *store.APIKey) {
		k.AllowedCIDRs = []string{"10.0.0.0/8", "2001:db8::/32"}
		k.ExpiresAt, k.LastUsedAt, k.RevokedAt = ptr(f.at(time.Hour)), ptr(f.at(time.Second)), ptr(f.at(time.Minute))
	})
	for _, k := range []*store.APIKey{bare, full} {
		info, err := f.s.APIKeyByHash(f.ctx, k.Hash)
		must(t, err)
		equal(t, "APIKeyByHash", info, &store.APIKeyInfo{APIKey: *k, ClientStatus: store.ClientActive, ClientOwnerID: u.ID,
			OwnerCredentialsChangedAt: u.CredentialsChangedAt, Owner: profile(u)})
	}
	dup := *bare
	dup.ID = "another-id"
	wantErr(t, f.s.CreateAPIKey(f.ctx, &dup), store.ErrConflict)
	wantErr(t, f.s.CreateAPIKey(f.ctx, &store.APIKey{ID: "x", ClientID: "nope", Hash: "x"}), store.ErrNotFound)
	_, err := f.s.APIKeyByHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	must(t, f.s.SetDisabled(f.ctx, u.ID, true, f.at(time.Minute)))
	info, err := f.s.APIKeyByHash(f.ctx, bare.Hash)
	must(t, err)
	if !info.OwnerDisabled {
		t.Fatal("OwnerDisabled = false after disabling the client's owner")
	}
	equal(t, "OwnerCredentialsChangedAt after disable", info.OwnerCredentialsChangedAt, f.at(time.Minute))
	// Re-enabling keeps the stamp, so keys created before the disable stay dead.
	must(t, f.s.SetDisabled(f.ctx, u.ID, false, f.at(2*time.Minute)))
	info, err = f.s.APIKeyByHash(f.ctx, bare.Hash)
	must(t, err)
	if info.OwnerDisabled {
		t.Fatal("OwnerDisabled = true after re-enabling the owner")
	}
	equal(t, "OwnerCredentialsChangedAt after enable", info.OwnerCredentialsChangedAt, f.at(time.Minute))
	must(t, f.s.UpdatePassword(f.ctx, u.ID, "new-hash", true, f.at(time.Hour)))
	info, err = f.s.APIKeyByHash(f.ctx, bare.Hash)
	must(t, err)
	equal(t, "OwnerCredentialsChangedAt after password change", info.OwnerCredentialsChangedAt, f.at(time.Hour))

	must(t, f.s.SetClientStatus(f.ctx, c.ID, store.ClientDisabled, f.now))
	info, err = f.s.APIKeyByHash(f.ctx, bare.Hash)
	must(t, err)
	if info.ClientStatus != store.ClientDisabled {
		t.Fatalf("ClientStatus = %q after disabling the client", info.ClientStatus)
	}
}

func testAPIKeyListRevoke(t *testing.T, f *fixture) {
	u := f.user()
	c, other := f.client(u.ID), f.client(u.ID)
	k1 := f.apiKey(c.ID, u.ID, func(k *store.APIKey) { k.CreatedAt = f.at(time.Second) })
	k2 := f.apiKey(c.ID, u.ID, func(k *store.APIKey) { k.CreatedAt = f.at(2 * time.Second) })
	k3 := f.apiKey(c.ID, u.ID, func(k *store.APIKey) { k.CreatedAt = f.at(3 * time.Second) })
	theirs := f.apiKey(other.ID, u.ID)

	list, err := f.s.ListAPIKeys(f.ctx, c.ID)
	must(t, err)
	equal(t, "ListAPIKeys (newest first)", list, []store.APIKey{*k3, *k2, *k1})

	wantErr(t, f.s.RevokeAPIKey(f.ctx, c.ID, theirs.ID, f.now), store.ErrNotFound)
	must(t, f.s.RevokeAPIKey(f.ctx, c.ID, k2.ID, f.at(time.Minute)))
	must(t, f.s.RevokeAPIKey(f.ctx, c.ID, k2.ID, f.at(time.Hour)))
	info, err := f.s.APIKeyByHash(f.ctx, k2.Hash)
	must(t, err)
	equal(t, "RevokedAt", info.RevokedAt, ptr(f.at(time.Minute)))
	must(t, f.s.RevokeAPIKeyByHash(f.ctx, k3.Hash, f.now))
	wantErr(t, f.s.RevokeAPIKeyByHash(f.ctx, "nope", f.now), store.ErrNotFound)
	list, err = f.s.ListAPIKeys(f.ctx, c.ID)
	must(t, err)
	equal(t, "ListAPIKeys after revocations", list, []store.APIKey{*k1})
	info, err = f.s.APIKeyByHash(f.ctx, theirs.Hash)
	must(t, err)
	if info.RevokedAt != nil {
		t.Fatal("another client's key was revoked")
	}
}

func testAPIKeyTouch(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	k1, k2 := f.apiKey(c.ID, u.ID), f.apiKey(c.ID, u.ID)
	must(t, f.s.TouchAPIKeys(f.ctx, map[string]time.Time{}))
	must(t, f.s.TouchAPIKeys(f.ctx, map[string]time.Time{k1.ID: f.at(time.Hour)}))
	must(t, f.s.TouchAPIKeys(f.ctx, map[string]time.Time{k1.ID: f.at(time.Minute)}))
	info, err := f.s.APIKeyByHash(f.ctx, k1.Hash)
	must(t, err)
	equal(t, "LastUsedAt", info.LastUsedAt, ptr(f.at(time.Hour)))
	info, err = f.s.APIKeyByHash(f.ctx, k2.Hash)
	must(t, err)
	if info.LastUsedAt != nil {
		t.Fatal("untouched key has LastUsedAt")
	}
}

func testPing(t *testing.T, f *fixture) {
	must(t, f.s.Ping(f.ctx))
}

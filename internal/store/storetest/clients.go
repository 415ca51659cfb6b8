package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func testClientCreateGet(t *testing.T, f *fixture) {
	u := f.user()
	c := &store.Client{
		ID:          "client-lists",
		Name:        "Lists",
		Description: "round-trips every list shape",
		OwnerID:     u.ID,
		Type:        store.ClientPublic,
		// Characters JSON must escape, HTML-sensitive ones, non-ASCII, and
		// the list delimiters themselves.
		RedirectURIs: []string{"https://a.example/cb?x=1&y=<2>", `http://127.0.0.1:8080/"q"\path`, "app://ünïcode/☃", "x,y", `["]`},
		GrantTypes:   []string{"client_credentials"},
		Scopes:       nil, // empty list
		Status:       store.ClientPending,
		AccessTTL:    5 * time.Minute,
		RefreshTTL:   30 * 24 * time.Hour,
		CreatedAt:    f.now,
		UpdatedAt:    f.at(time.Second),
	}
	exp := f.at(24 * time.Hour)
	secrets := []store.ClientSecret{
		{ID: "sec-1", Hash: "h1", CreatedAt: f.now},
		{ID: "sec-2", ClientID: "ignored", Hash: "h2", CreatedAt: f.at(time.Second), ExpiresAt: &exp},
	}
	must(t, f.s.CreateClient(f.ctx, c, secrets))
	got, err := f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "ClientByID", got, c)
	if len(got.Scopes) != 0 {
		t.Fatalf("empty Scopes came back as %q", got.Scopes)
	}
	gotSecrets, err := f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	secrets[0].ClientID, secrets[1].ClientID = c.ID, c.ID
	equal(t, "ClientSecrets", gotSecrets, secrets)

	_, err = f.s.ClientByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.CreateClient(f.ctx, &store.Client{ID: "orphan", OwnerID: "no-such-user"}, nil), store.ErrNotFound)
}

func testClientConflict(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	dup := *c
	wantErr(t, f.s.CreateClient(f.ctx, &dup, nil), store.ErrConflict)
	must(t, f.s.AddClientSecret(f.ctx, &store.ClientSecret{ID: "s1", ClientID: c.ID, Hash: "h", CreatedAt: f.now}))
	wantErr(t, f.s.AddClientSecret(f.ctx, &store.ClientSecret{ID: "s1", ClientID: c.ID, Hash: "h", CreatedAt: f.now}), store.ErrConflict)
}

func testClientCreateAtomic(t *testing.T, f *fixture) {
	u := f.user()
	c := &store.Client{ID: "atomic", Name: "A", OwnerID: u.ID, Type: store.ClientConfidential, Status: store.ClientActive}
	// The second secret collides with the first: nothing may remain.
	err := f.s.CreateClient(f.ctx, c, []store.ClientSecret{{ID: "same", Hash: "a"}, {ID: "same", Hash: "b"}})
	wantErr(t, err, store.ErrConflict)
	_, err = f.s.ClientByID(f.ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	// And the id is free for a correct attempt.
	must(t, f.s.CreateClient(f.ctx, c, []store.ClientSecret{{ID: "same", Hash: "a"}}))
}

func testClientList(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	c2 := f.client(u.ID, func(c *store.Client) { c.CreatedAt = f.at(2 * time.Second) })
	c1 := f.client(u.ID, func(c *store.Client) { c.CreatedAt = f.at(time.Second) })
	c3 := f.client(v.ID, func(c *store.Client) { c.CreatedAt = f.at(3 * time.Second) })
	all, err := f.s.ListClients(f.ctx, "")
	must(t, err)
	equal(t, "ListClients(all)", all, []store.Client{*c1, *c2, *c3})
	mine, err := f.s.ListClients(f.ctx, u.ID)
	must(t, err)
	equal(t, "ListClients(owner)", mine, []store.Client{*c1, *c2})
	none, err := f.s.ListClients(f.ctx, "nobody")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("ListClients(nobody) = %d clients", len(none))
	}
}

func testClientUpdate(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	c := f.client(u.ID)
	c.Name, c.Description, c.OwnerID, c.Type = "Renamed", "new", v.ID, store.ClientPublic
	c.RedirectURIs = []string{"https://new.example/cb", "https://new.example/cb2"}
	c.GrantTypes = []string{"authorization_code"}
	c.Scopes = []string{"openid", "email", "offline_access"}
	c.Status = store.ClientDisabled
	c.AccessTTL, c.RefreshTTL = time.Minute, time.Hour
	c.UpdatedAt = f.at(time.Hour)
	must(t, f.s.UpdateClient(f.ctx, c))
	got, err := f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "after UpdateClient", got, c) // CreatedAt is unchanged too

	must(t, f.s.SetClientStatus(f.ctx, c.ID, store.ClientActive, f.at(2*time.Hour)))
	got, err = f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	if got.Status != store.ClientActive {
		t.Fatalf("Status = %q after SetClientStatus", got.Status)
	}
	equal(t, "UpdatedAt after SetClientStatus", got.UpdatedAt, f.at(2*time.Hour))

	ghost := *c
	ghost.ID = "nope"
	wantErr(t, f.s.UpdateClient(f.ctx, &ghost), store.ErrNotFound)
	wantErr(t, f.s.SetClientStatus(f.ctx, "nope", store.ClientActive, f.now), store.ErrNotFound)
	wantErr(t, f.s.DeleteClient(f.ctx, "nope"), store.ErrNotFound)
}

func testClientSecrets(t *testing.T, f *fixture) {
	u := f.user()
	c, other := f.client(u.ID), f.client(u.ID)
	s1 := &store.ClientSecret{ID: "s1", ClientID: c.ID, Hash: "h1", CreatedAt: f.now}
	s2 := &store.ClientSecret{ID: "s2", ClientID: c.ID, Hash: "h2", CreatedAt: f.at(time.Second), ExpiresAt: ptr(f.at(time.Hour))}
	must(t, f.s.AddClientSecret(f.ctx, s1))
	must(t, f.s.AddClientSecret(f.ctx, s2))
	wantErr(t, f.s.AddClientSecret(f.ctx, &store.ClientSecret{ID: "s3", ClientID: "nope", Hash: "h"}), store.ErrNotFound)
	got, err := f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	equal(t, "ClientSecrets", got, []store.ClientSecret{*s1, *s2})

	wantErr(t, f.s.DeleteClientSecret(f.ctx, other.ID, s1.ID), store.ErrNotFound) // not that client's
	must(t, f.s.DeleteClientSecret(f.ctx, c.ID, s1.ID))
	wantErr(t, f.s.DeleteClientSecret(f.ctx, c.ID, s1.ID), store.ErrNotFound)
	got, err = f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	equal(t, "ClientSecrets after delete", got, []store.ClientSecret{*s2})

	// By hash (leak response): returns the owning client, then it is gone.
	id, err := f.s.DeleteClientSecretByHash(f.ctx, "h2")
	must(t, err)
	if id != c.ID {
		t.Fatalf("DeleteClientSecretByHash returned client %q, want %q", id, c.ID)
	}
	_, err = f.s.DeleteClientSecretByHash(f.ctx, "h2")
	wantErr(t, err, store.ErrNotFound)
	got, err = f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("secrets left after delete by hash: %+v", got)
	}
}

func testClientDeleteCascades(t *testing.T, f *fixture) {
	w := f.world()
	keep := f.client(w.u.ID)
	keepGrant := f.grant(keep.ID, w.u.ID)
	keepTok := f.token(store.TokenAccess, keepGrant)

	must(t, f.s.AddClientSecret(f.ctx, &store.ClientSecret{ID: "sec", ClientID: w.c.ID, Hash: "h", CreatedAt: f.now}))
	code := f.code(w.g)
	access := f.token(store.TokenAccess, w.g)
	cc := f.newToken(store.TokenAccess, w.g)
	cc.GrantID = "" // a client_credentials token hangs off the client directly
	must(t, f.s.CreateTokens(f.ctx, cc))
	must(t, f.s.UpsertConsent(f.ctx, &store.Consent{UserID: w.u.ID, ClientID: w.c.ID, Scopes: []string{"openid"}, CreatedAt: f.now, UpdatedAt: f.now}))
	key := f.apiKey(w.c.ID, w.u.ID)

	must(t, f.s.DeleteClient(f.ctx, w.c.ID))

	_, err := f.s.ClientByID(f.ctx, w.c.ID)
	wantErr(t, err, store.ErrNotFound)
	secrets, err := f.s.ClientSecrets(f.ctx, w.c.ID)
	must(t, err)
	if len(secrets) != 0 {
		t.Errorf("%d secrets survived their client", len(secrets))
	}
	_, err = f.s.GrantByID(f.ctx, w.g.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.ConsumeAuthCode(f.ctx, code.Hash, f.now)
	wantErr(t, err, store.ErrNotFound)
	for _, tok := range []*store.Token{access, cc} {
		_, err = f.s.TokenByHash(f.ctx, tok.Hash)
		wantErr(t, err, store.ErrNotFound)
	}
	_, err = f.s.Consent(f.ctx, w.u.ID, w.c.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.APIKeyByHash(f.ctx, key.Hash)
	wantErr(t, err, store.ErrNotFound)

	// The owner and their other client are untouched.
	_, err = f.s.UserByID(f.ctx, w.u.ID)
	must(t, err)
	_, err = f.s.TokenByHash(f.ctx, keepTok.Hash)
	must(t, err)
}

// ---------------------------------------------------------------- consents

func testConsentUpsert(t *testing.T, f *fixture) {
	u := f.user()
	c1, c2 := f.client(u.ID), f.client(u.ID)
	_, err := f.s.Consent(f.ctx, u.ID, c1.ID)
	wantErr(t, err, store.ErrNotFound)

	first := &store.Consent{UserID: u.ID, ClientID: c1.ID, Scopes: []string{"openid"}, CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.s.UpsertConsent(f.ctx, first))
	got, err := f.s.Consent(f.ctx, u.ID, c1.ID)
	must(t, err)
	equal(t, "Consent", got, first)

	again := &store.Consent{UserID: u.ID, ClientID: c1.ID, Scopes: []string{"openid", "email"}, CreatedAt: f.at(time.Hour), UpdatedAt: f.at(time.Hour)}
	must(t, f.s.UpsertConsent(f.ctx, again))
	got, err = f.s.Consent(f.ctx, u.ID, c1.ID)
	must(t, err)
	want := *again
	want.CreatedAt = first.CreatedAt // the first consent's time is kept
	equal(t, "Consent after upsert", got, &want)

	other := &store.Consent{UserID: u.ID, ClientID: c2.ID, Scopes: []string{"profile"}, CreatedAt: f.at(2 * time.Hour), UpdatedAt: f.at(2 * time.Hour)}
	must(t, f.s.UpsertConsent(f.ctx, other))
	list, err := f.s.ListConsents(f.ctx, u.ID)
	must(t, err)
	equal(t, "ListConsents (most recent first)", list, []store.Consent{*other, want})
	wantErr(t, f.s.UpsertConsent(f.ctx, &store.Consent{UserID: u.ID, ClientID: "nope", CreatedAt: f.now, UpdatedAt: f.now}), store.ErrNotFound)
}

// testConsentDelete: DeleteConsent forgets that one consent and does nothing
// else; revoking the grants is the service's (RevokeGrants).
func testConsentDelete(t *testing.T, f *fixture) {
	w := f.world()
	otherClient := f.client(w.u.ID)
	otherUser := f.user()
	for _, c := range []struct{ u, c string }{{w.u.ID, w.c.ID}, {w.u.ID, otherClient.ID}, {otherUser.ID, w.c.ID}} {
		must(t, f.s.UpsertConsent(f.ctx, &store.Consent{UserID: c.u, ClientID: c.c, Scopes: []string{"openid"}, CreatedAt: f.now, UpdatedAt: f.now}))
	}
	must(t, f.s.DeleteConsent(f.ctx, w.u.ID, w.c.ID))
	_, err := f.s.Consent(f.ctx, w.u.ID, w.c.ID)
	wantErr(t, err, store.ErrNotFound)
	for _, c := range []struct{ u, c string }{{w.u.ID, otherClient.ID}, {otherUser.ID, w.c.ID}} {
		_, err := f.s.Consent(f.ctx, c.u, c.c)
		must(t, err)
	}
	g, err := f.s.GrantByID(f.ctx, w.g.ID)
	must(t, err)
	if g.RevokedAt != nil {
		t.Fatal("DeleteConsent revoked a grant; that is the caller's decision")
	}
	// Without a consent left, deleting again is harmless.
	must(t, f.s.DeleteConsent(f.ctx, w.u.ID, w.c.ID))
}

// testRevokeGrants: every grant of one user for one client, earlier
// revocation times kept, nobody else's grants touched.
func testRevokeGrants(t *testing.T, f *fixture) {
	w := f.world()
	g2 := f.grant(w.c.ID, w.u.ID) // a second family, same user and client
	g3 := f.grant(w.c.ID, w.u.ID)
	otherClient := f.client(w.u.ID)
	otherGrant := f.grant(otherClient.ID, w.u.ID)
	otherUser := f.user()
	otherUsersGrant := f.grant(w.c.ID, otherUser.ID)
	access := f.token(store.TokenAccess, w.g)
	must(t, f.s.RevokeGrant(f.ctx, g2.ID, f.at(-time.Hour)))

	n, err := f.s.RevokeGrants(f.ctx, w.u.ID, w.c.ID, f.now)
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeGrants = %d, want 2 (the one revoked before does not count)", n)
	}
	for _, id := range []string{w.g.ID, g3.ID} {
		g, err := f.s.GrantByID(f.ctx, id)
		must(t, err)
		equal(t, "revoked grant", g.RevokedAt, ptr(f.now))
	}
	g, err := f.s.GrantByID(f.ctx, g2.ID)
	must(t, err)
	equal(t, "earlier revocation", g.RevokedAt, ptr(f.at(-time.Hour)))
	info, err := f.s.TokenByHash(f.ctx, access.Hash)
	must(t, err)
	if !info.GrantRevoked {
		t.Error("token of a revoked grant: GrantRevoked = false")
	}
	for _, id := range []string{otherGrant.ID, otherUsersGrant.ID} {
		g, err := f.s.GrantByID(f.ctx, id)
		must(t, err)
		if g.RevokedAt != nil {
			t.Errorf("grant %s of another user or client was revoked", id)
		}
	}
	n, err = f.s.RevokeGrants(f.ctx, w.u.ID, w.c.ID, f.at(time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("RevokeGrants again = %d, want 0", n)
	}
}

// ---------------------------------------------------------------- grants

func testGrants(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	g := &store.Grant{ID: "g1", ClientID: c.ID, UserID: u.ID, Scopes: []string{"openid", "offline_access"}, CreatedAt: f.now}
	must(t, f.s.CreateGrant(f.ctx, g))
	got, err := f.s.GrantByID(f.ctx, g.ID)
	must(t, err)
	equal(t, "GrantByID", got, g)
	wantErr(t, f.s.CreateGrant(f.ctx, g), store.ErrConflict)
	wantErr(t, f.s.CreateGrant(f.ctx, &store.Grant{ID: "g2", ClientID: "nope", UserID: u.ID}), store.ErrNotFound)

	must(t, f.s.RevokeGrant(f.ctx, g.ID, f.at(time.Minute)))
	must(t, f.s.RevokeGrant(f.ctx, g.ID, f.at(time.Hour))) // idempotent…
	got, err = f.s.GrantByID(f.ctx, g.ID)
	must(t, err)
	equal(t, "RevokedAt", got.RevokedAt, ptr(f.at(time.Minute))) // …keeping the first time
	wantErr(t, f.s.RevokeGrant(f.ctx, "nope", f.now), store.ErrNotFound)
	_, err = f.s.GrantByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
}

// ---------------------------------------------------------------- codes

func testCodeConsume(t *testing.T, f *fixture) {
	w := f.world()
	c := f.code(w.g)
	got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, f.at(time.Second))
	must(t, err)
	want := *c
	want.ConsumedAt = ptr(f.at(time.Second))
	equal(t, "consumed code", got, &want)

	// A replay returns the record, so the caller can revoke its grant.
	got, err = f.s.ConsumeAuthCode(f.ctx, c.Hash, f.at(2*time.Second))
	wantErr(t, err, store.ErrAlreadyUsed)
	if got == nil {
		t.Fatal("replayed code: nil record with ErrAlreadyUsed")
	}
	equal(t, "replayed code", got, &want) // first use time kept

	// GrantRevoked reports the grant's state at consumption.
	c2 := f.code(w.g)
	must(t, f.s.RevokeGrant(f.ctx, w.g.ID, f.now))
	got, err = f.s.ConsumeAuthCode(f.ctx, c2.Hash, f.at(time.Second))
	must(t, err)
	if !got.GrantRevoked {
		t.Fatal("code of a revoked grant consumed with GrantRevoked = false")
	}

	got, err = f.s.ConsumeAuthCode(f.ctx, "nope", f.now)
	wantErr(t, err, store.ErrNotFound)
	if got != nil {
		t.Fatalf("unknown code returned %+v", got)
	}
	wantErr(t, f.s.CreateAuthCode(f.ctx, c), store.ErrConflict)
}

// testCodeReadDoesNotConsume: AuthCodeByHash returns the code as stored, any
// number of times, and leaves it consumable; after consumption it shows the
// first use; an unknown hash is ErrNotFound.
func testCodeReadDoesNotConsume(t *testing.T, f *fixture) {
	w := f.world()
	c := f.code(w.g)
	for range 2 {
		got, err := f.s.AuthCodeByHash(f.ctx, c.Hash)
		must(t, err)
		equal(t, "unconsumed code", got, c)
	}
	got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, f.at(time.Second))
	must(t, err)
	want := *c
	want.ConsumedAt = ptr(f.at(time.Second))
	equal(t, "consumed code", got, &want)
	got, err = f.s.AuthCodeByHash(f.ctx, c.Hash)
	must(t, err)
	equal(t, "code read after consumption", got, &want)

	got, err = f.s.AuthCodeByHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	if got != nil {
		t.Fatalf("unknown code returned %+v", got)
	}
}

func testCodeRoundTrip(t *testing.T, f *fixture) {
	w := f.world()
	// No PKCE, no nonce, no redirect_uri: empty strings survive as such.
	c := &store.AuthCode{Hash: "bare", GrantID: w.g.ID, ClientID: w.c.ID, UserID: w.u.ID, Scopes: []string{"a b", "ç"},
		AuthTime: f.now, CreatedAt: f.now, ExpiresAt: f.at(time.Minute)}
	must(t, f.s.CreateAuthCode(f.ctx, c))
	got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, f.now)
	must(t, err)
	want := *c
	want.ConsumedAt = ptr(f.now)
	equal(t, "bare code", got, &want)
	wantErr(t, f.s.CreateAuthCode(f.ctx, &store.AuthCode{Hash: "orphan", GrantID: "nope", ClientID: w.c.ID, UserID: w.u.ID}), store.ErrNotFound)
}

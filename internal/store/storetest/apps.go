package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// testClientAppFields round-trips what app management keeps on a client:
// the developer's links, the app type, the review state with the parts that
// await review, and the environment.
func testClientAppFields(t *testing.T, f *fixture) {
	u := f.user()
	c := &store.Client{
		ID: "app-fields", Name: "App", OwnerID: u.ID, Type: store.ClientConfidential,
		RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, Status: store.ClientPending,
		HomepageURL: "https://app.example/", PrivacyURL: "https://app.example/privacy", TermsURL: "https://app.example/terms",
		AppType: "web", PendingScopes: []string{"admin"}, PendingGrants: []string{"client_credentials"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"}, Environment: "sandbox",
		CreatedAt: f.now, UpdatedAt: f.now,
	}
	must(t, f.s.CreateClient(f.ctx, c, nil))
	got, err := f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "ClientByID", got, c)

	c.Status, c.ReviewReason = store.ClientRejected, "the homepage does not load"
	c.PendingScopes, c.PendingGrants = []string{}, []string{}
	c.UpdatedAt = f.at(time.Minute)
	must(t, f.s.UpdateClient(f.ctx, c))
	got, err = f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "after UpdateClient", got, c)

	list, err := f.s.ListClients(f.ctx, u.ID)
	must(t, err)
	if len(list) != 1 || list[0].ReviewReason != c.ReviewReason || list[0].HomepageURL != c.HomepageURL {
		t.Fatalf("ListClients = %+v", list)
	}
}

// testClientLogo: a logo is stored, replaced, flagged on the client, and
// removed with the client; an unknown client has none and takes none.
func testClientLogo(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	_, err := f.s.ClientLogo(f.ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	if got, err := f.s.ClientByID(f.ctx, c.ID); err != nil || got.HasLogo {
		t.Fatalf("HasLogo before any logo = %v (%v)", got.HasLogo, err)
	}
	png1 := []byte("\x89PNG\r\n\x1a\n\x00\x01\xff binary")
	must(t, f.s.SetClientLogo(f.ctx, c.ID, png1, f.now))
	got, err := f.s.ClientLogo(f.ctx, c.ID)
	must(t, err)
	if !bytes.Equal(got, png1) {
		t.Fatalf("ClientLogo = %q, want %q", got, png1)
	}
	png2 := []byte("second")
	must(t, f.s.SetClientLogo(f.ctx, c.ID, png2, f.at(time.Second)))
	if got, _ = f.s.ClientLogo(f.ctx, c.ID); !bytes.Equal(got, png2) {
		t.Fatalf("ClientLogo after replace = %q", got)
	}
	if cl, err := f.s.ClientByID(f.ctx, c.ID); err != nil || !cl.HasLogo {
		t.Fatalf("HasLogo after SetClientLogo = %v (%v)", cl.HasLogo, err)
	}
	wantErr(t, f.s.SetClientLogo(f.ctx, "nope", png1, f.now), store.ErrNotFound)
	must(t, f.s.DeleteClient(f.ctx, c.ID))
	_, err = f.s.ClientLogo(f.ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
}

// testClientSecretLifecycle: expiry is set and cleared per secret of the
// client, last use only moves forward.
func testClientSecretLifecycle(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	other := f.client(u.ID)
	must(t, f.s.AddClientSecret(f.ctx, &store.ClientSecret{ID: "s-old", ClientID: c.ID, Hash: "h-old", CreatedAt: f.now}))
	exp := f.at(7 * 24 * time.Hour)
	must(t, f.s.SetClientSecretExpiry(f.ctx, c.ID, "s-old", &exp))
	wantErr(t, f.s.SetClientSecretExpiry(f.ctx, other.ID, "s-old", &exp), store.ErrNotFound)

	must(t, f.s.TouchClientSecrets(f.ctx, map[string]time.Time{"s-old": f.at(time.Hour), "unknown": f.now}))
	must(t, f.s.TouchClientSecrets(f.ctx, map[string]time.Time{"s-old": f.at(time.Minute)})) // older: ignored
	secs, err := f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	var found *store.ClientSecret
	for i := range secs {
		if secs[i].ID == "s-old" {
			found = &secs[i]
		}
	}
	if found == nil {
		t.Fatalf("secret s-old missing from %+v", secs)
	}
	equal(t, "ExpiresAt", found.ExpiresAt, &exp)
	lu := f.at(time.Hour)
	equal(t, "LastUsedAt", found.LastUsedAt, &lu)

	must(t, f.s.SetClientSecretExpiry(f.ctx, c.ID, "s-old", nil))
	secs, err = f.s.ClientSecrets(f.ctx, c.ID)
	must(t, err)
	for _, s := range secs {
		if s.ID == "s-old" && s.ExpiresAt != nil {
			t.Fatalf("ExpiresAt after clearing = %v", s.ExpiresAt)
		}
	}
}

// testClientTokenOptions round-trips the per-client token options (access
// token format, OpenID Connect subject type): set at creation, changed by an
// update, and cleared back to inherit; a client created without them reads
// back "" for both.
func testClientTokenOptions(t *testing.T, f *fixture) {
	u := f.user()
	plain := f.client(u.ID)
	got, err := f.s.ClientByID(f.ctx, plain.ID)
	must(t, err)
	if got.AccessTokenFormat != "" || got.SubjectType != "" {
		t.Fatalf("client without token options reads format %q, subject type %q; want both empty", got.AccessTokenFormat, got.SubjectType)
	}

	c := &store.Client{
		ID: "token-options", Name: "App", OwnerID: u.ID, Type: store.ClientConfidential,
		RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, Status: store.ClientActive,
		AccessTokenFormat: "jwt", SubjectType: "pairwise",
		CreatedAt: f.now, UpdatedAt: f.now,
	}
	must(t, f.s.CreateClient(f.ctx, c, nil))
	got, err = f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "ClientByID", got, c)

	c.AccessTokenFormat, c.SubjectType = "opaque", "public"
	c.UpdatedAt = f.at(time.Minute)
	must(t, f.s.UpdateClient(f.ctx, c))
	got, err = f.s.ClientByID(f.ctx, c.ID)
	must(t, err)
	equal(t, "after UpdateClient", got, c)

	c.AccessTokenFormat, c.SubjectType = "", ""
	c.UpdatedAt = f.at(2 * time.Minute)
	must(t, f.s.UpdateClient(f.ctx, c))
	list, err := f.s.ListClients(f.ctx, u.ID)
	must(t, err)
	var found bool
	for _, l := range list {
		if l.ID == c.ID {
			found = true
			if l.AccessTokenFormat != "" || l.SubjectType != "" {
				t.Fatalf("ListClients after clearing: format %q, subject type %q", l.AccessTokenFormat, l.SubjectType)
			}
		}
	}
	if !found {
		t.Fatalf("ListClients lacks %s: %+v", c.ID, list)
	}
}

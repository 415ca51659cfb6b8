package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func testSignIn(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	g := f.grant(c.ID, u.ID)
	if _, err := f.s.SignInByGrant(f.ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SignInByGrant before create: %v, want ErrNotFound", err)
	}
	in := &store.SignIn{GrantID: g.ID, AuthTime: f.at(-time.Minute), AMR: []string{"pwd", "otp", "mfa"}, Nonce: "n-0S6"}
	must(t, f.s.CreateSignIn(f.ctx, in))
	got, err := f.s.SignInByGrant(f.ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AuthTime.Equal(in.AuthTime.Truncate(time.Millisecond)) || !slices.Equal(got.AMR, in.AMR) || got.Nonce != in.Nonce || got.GrantID != g.ID {
		t.Errorf("SignInByGrant = %+v, want %+v", got, in)
	}
	// One sign-in per grant, enforced by the database.
	if err := f.s.CreateSignIn(f.ctx, &store.SignIn{GrantID: g.ID, AuthTime: f.now, AMR: []string{"pwd"}}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateSignIn: %v, want ErrConflict", err)
	}
	// A sign-in belongs to an existing grant.
	if err := f.s.CreateSignIn(f.ctx, &store.SignIn{GrantID: "no-such-grant", AuthTime: f.now, AMR: []string{"pwd"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateSignIn of unknown grant: %v, want ErrNotFound", err)
	}
	// It dies with its client (and so its grant).
	must(t, f.s.DeleteClient(f.ctx, c.ID))
	if _, err := f.s.SignInByGrant(f.ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SignInByGrant after client deletion: %v, want ErrNotFound", err)
	}
}

func testClientOIDC(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	if _, err := f.s.ClientOIDC(f.ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ClientOIDC before put: %v, want ErrNotFound", err)
	}
	in := &store.ClientOIDC{ClientID: c.ID, PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "https://app.example.com/x?y=1"}, IDTokenAlg: "ES256"}
	must(t, f.s.PutClientOIDC(f.ctx, in))
	got, err := f.s.ClientOIDC(f.ctx, c.ID)
	if err != nil || !slices.Equal(got.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs) || got.IDTokenAlg != "ES256" {
		t.Fatalf("ClientOIDC = %+v, %v", got, err)
	}
	// Put replaces.
	must(t, f.s.PutClientOIDC(f.ctx, &store.ClientOIDC{ClientID: c.ID}))
	got, err = f.s.ClientOIDC(f.ctx, c.ID)
	if err != nil || len(got.PostLogoutRedirectURIs) != 0 || got.IDTokenAlg != "" {
		t.Errorf("ClientOIDC after replace = %+v, %v", got, err)
	}
	if err := f.s.PutClientOIDC(f.ctx, &store.ClientOIDC{ClientID: "no-such-client"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutClientOIDC of unknown client: %v, want ErrNotFound", err)
	}
	must(t, f.s.DeleteClient(f.ctx, c.ID))
	if _, err := f.s.ClientOIDC(f.ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClientOIDC after client deletion: %v, want ErrNotFound", err)
	}
}

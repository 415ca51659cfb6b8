package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// The RFC 8707 audience of grants, codes and tokens, and the resource-server
// link of clients, round-trip on every backend; an empty audience reads back
// as nil ("no explicit audience"), never as a one-element list.

func testClientResourceServer(t *testing.T, f *fixture) {
	u := f.user()
	rs := f.client(u.ID, func(c *store.Client) {
		c.ResourceServer = "https://api.example.com/v0"
		c.RedirectURIs, c.GrantTypes, c.Scopes = []string{}, []string{}, []string{}
	})
	got, err := f.s.ClientByID(f.ctx, rs.ID)
	must(t, err)
	equal(t, "resource server client", got.ResourceServer, "https://api.example.com/v0")
	plain := f.client(u.ID)
	got, err = f.s.ClientByID(f.ctx, plain.ID)
	must(t, err)
	equal(t, "plain client", got.ResourceServer, "")

	plain.ResourceServer = "https://ledger.example.com"
	plain.UpdatedAt = f.at(time.Minute)
	must(t, f.s.UpdateClient(f.ctx, plain))
	list, err := f.s.ListClients(f.ctx, u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ResourceServer != rs.ResourceServer || list[1].ResourceServer != plain.ResourceServer {
		t.Fatalf("ListClients lost ResourceServer: %+v", list)
	}
}

func testAudienceRoundTrip(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	aud := []string{"https://api.example.com/v0", "https://ledger.example.com"}

	g := &store.Grant{ID: f.id("grant"), ClientID: c.ID, UserID: u.ID, Scopes: []string{"openid"}, Audience: aud, CreatedAt: f.now}
	must(t, f.s.CreateGrant(f.ctx, g))
	gotG, err := f.s.GrantByID(f.ctx, g.ID)
	must(t, err)
	equal(t, "grant audience", gotG.Audience, aud)
	none := f.grant(c.ID, u.ID)
	gotG, err = f.s.GrantByID(f.ctx, none.ID)
	must(t, err)
	if gotG.Audience != nil {
		t.Fatalf("grant without audience reads back %q, want nil", gotG.Audience)
	}

	code := &store.AuthCode{Hash: f.id("code"), GrantID: g.ID, ClientID: c.ID, UserID: u.ID, Scopes: []string{"openid"},
		Audience: aud[:1], AuthTime: f.now, CreatedAt: f.now, ExpiresAt: f.at(time.Minute)}
	must(t, f.s.CreateAuthCode(f.ctx, code))
	gotC, err := f.s.ConsumeAuthCode(f.ctx, code.Hash, f.now)
	must(t, err)
	equal(t, "code audience", gotC.Audience, aud[:1])

	access, refresh := f.newToken(store.TokenAccess, g), f.newToken(store.TokenRefresh, g)
	access.Audience, refresh.Audience = aud[1:], aud
	plain := f.newToken(store.TokenAccess, none)
	must(t, f.s.CreateTokens(f.ctx, access, refresh, plain))
	for _, want := range []*store.Token{access, refresh, plain} {
		info, err := f.s.TokenByHash(f.ctx, want.Hash)
		must(t, err)
		equal(t, "token audience ("+want.ID+")", info.Audience, want.Audience)
	}
	// Rotation stores the next token's audience and returns the old one's.
	next := f.newToken(store.TokenRefresh, g)
	next.Audience = aud
	old, err := f.s.RotateRefreshToken(f.ctx, refresh.Hash, f.now, next)
	must(t, err)
	equal(t, "rotated token audience", old.Audience, aud)
	info, err := f.s.TokenByHash(f.ctx, next.Hash)
	must(t, err)
	equal(t, "next token audience", info.Audience, aud)
}

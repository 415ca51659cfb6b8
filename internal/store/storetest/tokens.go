package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func testTokenCreateLookup(t *testing.T, f *fixture) {
	w := f.world()
	access, refresh := f.newToken(store.TokenAccess, w.g), f.newToken(store.TokenRefresh, w.g)
	refresh.ExpiresAt = f.at(30 * 24 * time.Hour)
	must(t, f.s.CreateTokens(f.ctx, access, refresh))
	for _, tok := range []*store.Token{access, refresh} {
		info, err := f.s.TokenByHash(f.ctx, tok.Hash)
		must(t, err)
		equal(t, "TokenByHash("+tok.Kind+")", info, &store.TokenInfo{
			Token:                    *tok,
			ClientStatus:             store.ClientActive,
			UserCredentialsChangedAt: w.u.CredentialsChangedAt,
			User:                     profile(w.u),
		})
	}
	_, err := f.s.TokenByHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	must(t, f.s.CreateTokens(f.ctx)) // nothing to do
}

func testTokenNoGrant(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID, func(c *store.Client) { c.GrantTypes = []string{"client_credentials"} })
	tok := &store.Token{Hash: "cc", ID: "cc-id", Kind: store.TokenAccess, ClientID: c.ID, UserID: u.ID,
		Scopes: []string{"api:read"}, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}
	must(t, f.s.CreateTokens(f.ctx, tok))
	info, err := f.s.TokenByHash(f.ctx, tok.Hash)
	must(t, err)
	if info.GrantID != "" || info.GrantRevoked {
		t.Fatalf("grantless token: GrantID %q, GrantRevoked %v", info.GrantID, info.GrantRevoked)
	}
	equal(t, "grantless token", &info.Token, tok)
	// Revoking it touches no grant.
	got, err := f.s.RevokeToken(f.ctx, tok.Hash, f.now)
	must(t, err)
	if got.RevokedAt == nil {
		t.Fatal("RevokeToken returned the token without RevokedAt")
	}
}

func testTokenLookupState(t *testing.T, f *fixture) {
	w := f.world()
	tok := f.token(store.TokenAccess, w.g)
	lookup := func() *store.TokenInfo {
		t.Helper()
		info, err := f.s.TokenByHash(f.ctx, tok.Hash)
		must(t, err)
		return info
	}
	if info := lookup(); info.GrantRevoked || info.UserDisabled || info.ClientStatus != store.ClientActive {
		t.Fatalf("fresh token: %+v", info)
	}
	must(t, f.s.SetClientStatus(f.ctx, w.c.ID, store.ClientDisabled, f.now))
	if info := lookup(); info.ClientStatus != store.ClientDisabled {
		t.Fatalf("ClientStatus = %q after disabling the client", info.ClientStatus)
	}
	must(t, f.s.SetDisabled(f.ctx, w.u.ID, true, f.at(time.Minute)))
	info := lookup()
	if !info.UserDisabled {
		t.Fatal("UserDisabled = false after disabling the user")
	}
	equal(t, "UserCredentialsChangedAt", info.UserCredentialsChangedAt, f.at(time.Minute))
	must(t, f.s.UpdatePassword(f.ctx, w.u.ID, "new", true, f.at(time.Hour)))
	equal(t, "UserCredentialsChangedAt after password change", lookup().UserCredentialsChangedAt, f.at(time.Hour))
	must(t, f.s.RevokeGrant(f.ctx, w.g.ID, f.now))
	if !lookup().GrantRevoked {
		t.Fatal("GrantRevoked = false after RevokeGrant")
	}
	// A token minted into the revoked family after the fact is dead too.
	late := f.token(store.TokenAccess, w.g)
	info, err := f.s.TokenByHash(f.ctx, late.Hash)
	must(t, err)
	if !info.GrantRevoked {
		t.Fatal("token minted after grant revocation: GrantRevoked = false")
	}
}

func testTokenConflict(t *testing.T, f *fixture) {
	w := f.world()
	a := f.token(store.TokenAccess, w.g)
	sameHash := f.newToken(store.TokenAccess, w.g)
	sameHash.Hash = a.Hash
	wantErr(t, f.s.CreateTokens(f.ctx, sameHash), store.ErrConflict)
	sameID := f.newToken(store.TokenAccess, w.g)
	sameID.ID = a.ID
	wantErr(t, f.s.CreateTokens(f.ctx, sameID), store.ErrConflict)

	// All or nothing: the good first token must not survive the bad second.
	good, bad := f.newToken(store.TokenAccess, w.g), f.newToken(store.TokenRefresh, w.g)
	bad.Hash = a.Hash
	wantErr(t, f.s.CreateTokens(f.ctx, good, bad), store.ErrConflict)
	_, err := f.s.TokenByHash(f.ctx, good.Hash)
	wantErr(t, err, store.ErrNotFound)

	orphan := f.newToken(store.TokenAccess, w.g)
	orphan.GrantID = "nope"
	wantErr(t, f.s.CreateTokens(f.ctx, orphan), store.ErrNotFound)
}

func testTokenRotate(t *testing.T, f *fixture) {
	w := f.world()
	old := f.token(store.TokenRefresh, w.g)
	access, next := f.newToken(store.TokenAccess, w.g), f.newToken(store.TokenRefresh, w.g)

	got, err := f.s.RotateRefreshToken(f.ctx, old.Hash, f.at(time.Second), access, next)
	must(t, err)
	want := *old
	want.ConsumedAt = ptr(f.at(time.Second))
	equal(t, "rotated token", got, &want)
	for _, tok := range []*store.Token{access, next} {
		info, err := f.s.TokenByHash(f.ctx, tok.Hash)
		must(t, err)
		equal(t, "minted by rotation", &info.Token, tok)
	}
	info, err := f.s.TokenByHash(f.ctx, old.Hash)
	must(t, err)
	equal(t, "old token ConsumedAt", info.ConsumedAt, ptr(f.at(time.Second)))

	// Replay: the old token comes back with ErrAlreadyUsed; nothing inserted.
	replayNext := f.newToken(store.TokenRefresh, w.g)
	got, err = f.s.RotateRefreshToken(f.ctx, old.Hash, f.at(time.Minute), replayNext)
	wantErr(t, err, store.ErrAlreadyUsed)
	if got == nil {
		t.Fatal("replayed refresh token: nil token with ErrAlreadyUsed")
	}
	equal(t, "replayed token", got, &want)
	_, err = f.s.TokenByHash(f.ctx, replayNext.Hash)
	wantErr(t, err, store.ErrNotFound)

	_, err = f.s.RotateRefreshToken(f.ctx, "nope", f.now)
	wantErr(t, err, store.ErrNotFound)
	// An access token is not a refresh token.
	_, err = f.s.RotateRefreshToken(f.ctx, access.Hash, f.now)
	wantErr(t, err, store.ErrNotFound)
	info, err = f.s.TokenByHash(f.ctx, access.Hash)
	must(t, err)
	if info.ConsumedAt != nil {
		t.Fatal("RotateRefreshToken consumed an access token")
	}
}

func testTokenRotateRollback(t *testing.T, f *fixture) {
	w := f.world()
	existing := f.token(store.TokenAccess, w.g)
	old := f.token(store.TokenRefresh, w.g)
	clash := f.newToken(store.TokenRefresh, w.g)
	clash.Hash = existing.Hash
	_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, f.now, clash)
	wantErr(t, err, store.ErrConflict)
	// The failed insert undid the consumption: the client can retry.
	info, err := f.s.TokenByHash(f.ctx, old.Hash)
	must(t, err)
	if info.ConsumedAt != nil {
		t.Fatal("old refresh token consumed although rotation failed")
	}
	_, err = f.s.RotateRefreshToken(f.ctx, old.Hash, f.now, f.newToken(store.TokenRefresh, w.g))
	must(t, err)
}

func testTokenRevokeAccess(t *testing.T, f *fixture) {
	w := f.world()
	access, sibling := f.token(store.TokenAccess, w.g), f.token(store.TokenAccess, w.g)
	got, err := f.s.RevokeToken(f.ctx, access.Hash, f.at(time.Second))
	must(t, err)
	want := *access
	want.RevokedAt = ptr(f.at(time.Second))
	equal(t, "revoked access token", got, &want)
	got, err = f.s.RevokeToken(f.ctx, access.Hash, f.at(time.Hour)) // idempotent, keeps first time
	must(t, err)
	equal(t, "revoked twice", got, &want)
	// The family lives on.
	g, err := f.s.GrantByID(f.ctx, w.g.ID)
	must(t, err)
	if g.RevokedAt != nil {
		t.Fatal("revoking an access token revoked its grant")
	}
	info, err := f.s.TokenByHash(f.ctx, sibling.Hash)
	must(t, err)
	if info.RevokedAt != nil || info.GrantRevoked {
		t.Fatal("sibling access token affected")
	}
	_, err = f.s.RevokeToken(f.ctx, "nope", f.now)
	wantErr(t, err, store.ErrNotFound)
}

// testTokenRevokeRefresh: the store revokes the refresh token alone; the
// RFC 7009 cascade to its grant is the service's (RevokeGrant in one InTx).
func testTokenRevokeRefresh(t *testing.T, f *fixture) {
	w := f.world()
	access, refresh := f.token(store.TokenAccess, w.g), f.token(store.TokenRefresh, w.g)

	got, err := f.s.RevokeToken(f.ctx, refresh.Hash, f.at(time.Second))
	must(t, err)
	want := *refresh
	want.RevokedAt = ptr(f.at(time.Second))
	equal(t, "revoked refresh token", got, &want)
	g, err := f.s.GrantByID(f.ctx, w.g.ID)
	must(t, err)
	if g.RevokedAt != nil {
		t.Fatal("RevokeToken revoked the grant; that is the caller's decision")
	}
	info, err := f.s.TokenByHash(f.ctx, access.Hash)
	must(t, err)
	if info.RevokedAt != nil || info.GrantRevoked {
		t.Fatal("access token of the same grant affected")
	}
}

func testTokenDeleteExpired(t *testing.T, f *fixture) {
	w := f.world()
	old, live := f.newToken(store.TokenAccess, w.g), f.newToken(store.TokenRefresh, w.g)
	old.ExpiresAt = f.at(-time.Millisecond)
	live.ExpiresAt = f.now
	must(t, f.s.CreateTokens(f.ctx, old, live))
	n, err := f.s.DeleteExpiredTokens(f.ctx, f.now)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredTokens = %d, want 1", n)
	}
	_, err = f.s.TokenByHash(f.ctx, old.Hash)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.TokenByHash(f.ctx, live.Hash)
	must(t, err)
}

func testAuthCodeDeleteExpired(t *testing.T, f *fixture) {
	w := f.world()
	old := f.code(w.g) // expires at f.now + 1 minute
	live := *old
	live.Hash, live.ExpiresAt = "code-"+f.id("code"), f.at(time.Hour)
	must(t, f.s.CreateAuthCode(f.ctx, &live))
	n, err := f.s.DeleteExpiredAuthCodes(f.ctx, f.at(2*time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredAuthCodes = %d, want 1", n)
	}
	_, err = f.s.ConsumeAuthCode(f.ctx, old.Hash, f.now)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.ConsumeAuthCode(f.ctx, live.Hash, f.now)
	must(t, err)
}

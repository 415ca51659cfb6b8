package oauth_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/tokentest"
)

// OnEvent sees a consent, a token revocation and an app revoked by its user,
// each inside its transaction; an error from OnEvent rolls the change back.
func TestOnEvent(t *testing.T) {
	tokentest.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		var (
			mu   sync.Mutex
			seen []oauth.Event
			fail bool
		)
		e := newEnv(t, open, envOpts{onEvent: func(_ context.Context, tx store.Store, ev oauth.Event) error {
			if tx == nil {
				t.Errorf("%s without a transaction", ev.Kind)
			}
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return errors.New("refused")
			}
			seen = append(seen, ev)
			return nil
		}})
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		tok := e.codeFlow(b, a)
		if r := e.postForm(oauth.PathRevoke, url.Values{"token": {tok.RefreshToken}}, basicAuth(a.ID, a.secret)...); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if err := e.svc.RevokeApp(e.ctx, alice.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		var kinds []string
		for _, ev := range seen {
			if ev.ClientID != a.ID || ev.UserID != alice.ID {
				t.Errorf("event %+v", ev)
			}
			kinds = append(kinds, ev.Kind)
		}
		mu.Unlock()
		want := []string{oauth.EventAuthorizationGranted, oauth.EventTokenRevoked, oauth.EventAuthorizationRevoked}
		if !slices.Equal(kinds, want) {
			t.Fatalf("events %v, want %v", kinds, want)
		}
		if !slices.Contains(seen[0].Scopes, "profile:read") || seen[1].TokenKind != store.TokenRefresh {
			t.Fatalf("event details %+v", seen)
		}

		// A failing hook rolls the revocation back: the token still works.
		tok = e.codeFlow(b, a)
		mu.Lock()
		fail = true
		mu.Unlock()
		if r := e.postForm(oauth.PathRevoke, url.Values{"token": {tok.AccessToken}}, basicAuth(a.ID, a.secret)...); r.status < 500 {
			t.Fatalf("revoke with a failing hook: %d %s", r.status, r.body)
		}
		info, err := e.st.TokenByHash(e.ctx, e.hasher.Hash(tok.AccessToken))
		if err != nil || info.RevokedAt != nil {
			t.Fatalf("token after a rolled-back revocation: %+v %v", info, err)
		}
	})
}

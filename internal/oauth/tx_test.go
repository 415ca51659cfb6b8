package oauth_test

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestCodeReplayWithEarlierClock: a replay of a code that has just been
// consumed revokes the grant with a time earlier than the winning
// redemption's (another replica's clock is behind, or the replay read the
// clock first). The winner still gets its tokens, the replay fails, and the
// winner's tokens are dead because the grant is revoked: the outcome does
// not depend on which clock said what.
func TestCodeReplayWithEarlierClock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		code, verifier := e.codeFor(b, a, redirectURI, true)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
		auth := basicAuth(a.ID, a.secret)

		var replay *resp
		hook := func() {
			// The winner has consumed the code at time T. The replay runs now,
			// with a clock one second behind: it revokes the grant at T-1s.
			e.clock.Advance(-time.Second)
			replay = e.postForm(oauth.PathToken, form, auth...)
			e.clock.Advance(time.Second)
		}
		e.st.afterConsume.Store(&hook)
		win := e.postForm(oauth.PathToken, form, auth...)

		if replay == nil {
			t.Fatal("the replay did not run")
		}
		mustError(t, replay, 400, "invalid_grant")
		if win.status != 200 {
			t.Fatalf("the first redemption failed because of a later replay: %d %s", win.status, win.body)
		}
		access := win.json(t)["access_token"].(string)
		if r := e.me(access); r.status != 401 {
			t.Fatalf("winner's access token after the replay revoked its grant: %d", r.status)
		}
		if m := e.introspect(a, access); m["active"] != false {
			t.Fatalf("introspection of the winner's token: %v", m)
		}
	})
}

// TestRevokedGrantBeforeRedemption: an app revoked between authorization and
// redemption cannot redeem the code, even with a clock that runs behind the
// revocation's.
func TestRevokedGrantBeforeRedemption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		code, verifier := e.codeFor(b, a, redirectURI, true)
		e.clock.Advance(time.Second)
		if err := e.svc.RevokeApp(e.ctx, alice.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(-time.Second)
		before := e.st.snapshot()
		mustError(t, e.postForm(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {verifier}}, basicAuth(a.ID, a.secret)...), 400, "invalid_grant")
		if e.st.snapshot().tokens != before.tokens {
			t.Fatal("a revoked authorization's code issued tokens")
		}
	})
}

// TestConcurrentConsentsMerge: approvals of different scopes for one user
// and app at the same moment (tabs, replicas) all end up in the remembered
// consent, none overwritten by another's stale read.
func TestConcurrentConsentsMerge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		const n = 50
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
			want  []string
		)
		for i := range n {
			scope := fmt.Sprintf("test:scope%02d", i)
			want = append(want, scope)
			wg.Go(func() {
				<-start
				az := &oauth.Authorization{Client: a.Client, RedirectURI: redirectURI, ResponseType: "code", Scopes: []string{scope}}
				_, errs[i] = e.svc.Approve(e.ctx, az, alice.ID, e.clock.Now(), true)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		c, err := e.st.Consent(e.ctx, alice.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Sorted(slices.Values(c.Scopes))
		if !slices.Equal(got, want) {
			t.Fatalf("consent after %d concurrent approvals holds %d scopes: %v", n, len(got), got)
		}
		if e.st.snapshot().consents != n {
			t.Fatalf("%d consent writes counted, want %d", e.st.snapshot().consents, n)
		}
	})
}

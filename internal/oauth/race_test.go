package oauth_test

import (
	"net/url"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

const racers = 32

// race sends the same token request from `racers` goroutines released at
// once and returns how many got 200 and the successful bodies.
func (e *env) race(a *app, form url.Values) (ok int, wins []*resp, statuses map[string]int) {
	e.t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	statuses = map[string]int{}
	auth := basicAuth(a.ID, a.secret)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := e.postForm(oauth.PathToken, form, auth...)
			mu.Lock()
			defer mu.Unlock()
			if r.status == 200 {
				ok++
				wins = append(wins, r)
				statuses["200"]++
			} else {
				statuses[r.errCode(e.t)]++
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, wins, statuses
}

func TestRaceCodeRedemption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		for round := range 3 {
			code, verifier := e.codeFor(b, a, redirectURI, true)
			before := e.st.snapshot()
			ok, wins, statuses := e.race(a, url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier},
			})
			if ok != 1 || statuses["invalid_grant"] != racers-1 {
				t.Fatalf("round %d: %d successes, statuses %v", round, ok, statuses)
			}
			if got := e.st.snapshot().tokens - before.tokens; got != 2 {
				t.Fatalf("round %d: %d tokens stored, want 2 (one access, one refresh)", round, got)
			}
			// The losers presented a used code: the family is revoked, so
			// even the winner's tokens are dead (RFC 6749 §4.1.2).
			if r := e.me(wins[0].json(t)["access_token"].(string)); r.status != 401 {
				t.Fatalf("round %d: winner's token after replays: %d", round, r.status)
			}
		}
	})
}

func TestRaceRefreshRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		for round := range 3 {
			tok := e.codeFlow(b, a)
			before := e.st.snapshot()
			ok, wins, statuses := e.race(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			if ok != 1 || statuses["invalid_grant"] != racers-1 {
				t.Fatalf("round %d: %d successes, statuses %v", round, ok, statuses)
			}
			if got := e.st.snapshot().tokens - before.tokens; got != 2 {
				t.Fatalf("round %d: %d tokens stored, want 2", round, got)
			}
			// Reuse was detected: the whole family is revoked.
			m := wins[0].json(t)
			if r := e.me(m["access_token"].(string)); r.status != 401 {
				t.Fatalf("round %d: %d", round, r.status)
			}
			_, err := a.conf.TokenSource(e.octx(), &oauth2.Token{RefreshToken: m["refresh_token"].(string)}).Token()
			assertRetrieveError(t, err, 400, "invalid_grant")
		}
	})
}

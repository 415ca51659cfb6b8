package oauth_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestInterceptedCodeStaysUsable: whoever holds an intercepted code but is
// not its client — another public client's id, no verifier, a wrong
// verifier, another redirect URI — gets invalid_grant and leaves the code
// untouched: the rightful client redeems it afterwards. Once it is used, such
// presentations do not revoke the tokens issued from it either; only a
// replay by the rightful client does (RFC 6749 §4.1.2).
func TestInterceptedCodeStaysUsable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		pub := e.client(owner, oauth.NewClient{Name: "Native", Public: true})
		evil := e.client(owner, oauth.NewClient{Name: "Evil", Public: true})
		b := e.browser()
		b.login(alice.Email)
		code, verifier := e.codeFor(b, pub, redirectURI, true)

		redeem := func(clientID, verifier, redirect string) *resp {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {clientID}, "redirect_uri": {redirect}}
			if verifier != "" {
				f.Set("code_verifier", verifier)
			}
			return e.postForm(oauth.PathToken, f)
		}
		attempts := []struct {
			name                      string
			clientID, verifier, redir string
		}{
			{"another public client, no verifier", evil.ID, "", redirectURI},
			{"another public client, the right verifier", evil.ID, verifier, redirectURI},
			{"its client, no verifier", pub.ID, "", redirectURI},
			{"its client, a wrong verifier", pub.ID, oauth2.GenerateVerifier(), redirectURI},
			{"its client, another redirect_uri", pub.ID, verifier, "https://app.example/other"},
		}
		for _, a := range attempts {
			before := e.st.snapshot()
			mustError(t, redeem(a.clientID, a.verifier, a.redir), http.StatusBadRequest, "invalid_grant")
			if after := e.st.snapshot(); after.tokens != before.tokens {
				t.Fatalf("%s: issued tokens", a.name)
			}
		}
		r := redeem(pub.ID, verifier, redirectURI)
		if r.status != http.StatusOK {
			t.Fatalf("the rightful client after the interceptor's attempts: %d %s", r.status, r.body)
		}
		access := r.json(t)["access_token"].(string)

		// Used now: the interceptor's presentations fail without revoking.
		for _, a := range attempts {
			mustError(t, redeem(a.clientID, a.verifier, a.redir), http.StatusBadRequest, "invalid_grant")
		}
		if r := e.me(access); r.status != http.StatusOK {
			t.Fatalf("an interceptor's presentation of the used code revoked its tokens: %d", r.status)
		}
		// A replay by the rightful client still revokes the family.
		mustError(t, redeem(pub.ID, verifier, redirectURI), http.StatusBadRequest, "invalid_grant")
		if r := e.me(access); r.status != http.StatusUnauthorized {
			t.Fatalf("tokens of a replayed code: %d", r.status)
		}
	})
}

// TestRaceInterceptorsCannotBurnCode: 63 requests presenting the code without
// its verifier or under another client race the rightful one; the rightful
// client still gets the only tokens and they stay valid.
func TestRaceInterceptorsCannotBurnCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		pub := e.client(owner, oauth.NewClient{Name: "Native", Public: true})
		evil := e.client(owner, oauth.NewClient{Name: "Evil", Public: true})
		b := e.browser()
		b.login(alice.Email)
		code, verifier := e.codeFor(b, pub, redirectURI, true)

		const n = 64
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			status [n]int
			access string
		)
		for i := range n {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
			switch {
			case i == n/2: // the rightful client
				f.Set("client_id", pub.ID)
				f.Set("code_verifier", verifier)
			case i%2 == 0:
				f.Set("client_id", pub.ID) // no verifier
			default:
				f.Set("client_id", evil.ID)
				f.Set("code_verifier", verifier)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := e.postForm(oauth.PathToken, f)
				status[i] = r.status
				if i == n/2 && r.status == http.StatusOK {
					access = r.json(t)["access_token"].(string)
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, s := range status {
			want := http.StatusBadRequest
			if i == n/2 {
				want = http.StatusOK
			}
			if s != want {
				t.Fatalf("request %d: status %d, want %d", i, s, want)
			}
		}
		if r := e.me(access); r.status != http.StatusOK {
			t.Fatalf("the rightful client's token: %d", r.status)
		}
	})
}

package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestClientCacheStalenessIsBounded: with the client cache on, a new secret
// works at once, a disabled client keeps authenticating only until the TTL
// runs out, and wrong secrets never pass.
func TestClientCacheStalenessIsBounded(t *testing.T) {
	const ttl = 5 * time.Second
	e := newEnv(t, openSQLite, envOpts{clientCacheTTL: ttl})
	owner := e.user("owner@example.com")
	cc := e.client(owner, oauth.NewClient{Name: "CC", GrantTypes: []string{oauth.GrantClientCredentials}})
	grant := url.Values{"grant_type": {"client_credentials"}}
	status := func(secret string) int {
		t.Helper()
		return e.postForm(oauth.PathToken, grant, basicAuth(cc.ID, secret)...).status
	}

	if got := status(cc.secret); got != http.StatusOK {
		t.Fatalf("first request: %d", got)
	}
	// Cached now. A secret added since is still accepted immediately.
	_, second, err := e.svc.AddClientSecret(e.ctx, cc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(second); got != http.StatusOK {
		t.Fatalf("new secret with a warm cache: %d", got)
	}
	if got := status("gths_wrong"); got != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", got)
	}

	// Disabled behind the cache's back (another process, e.g. the CLI).
	if err := e.st.SetClientStatus(e.ctx, cc.ID, store.ClientDisabled, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := status(cc.secret); got != http.StatusOK {
		t.Fatalf("within the TTL the cached client still authenticates (documented): %d", got)
	}
	e.clock.Advance(ttl)
	if got := status(cc.secret); got != http.StatusUnauthorized {
		t.Fatalf("after the TTL a disabled client must fail: %d", got)
	}
}

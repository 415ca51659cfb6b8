package oauth_test

import (
	"errors"
	"html"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/tokentest"
)

// upholdScopes is an operator's configuration in the manner of Uphold's API.
var upholdScopes = []config.ScopeSpec{
	{Name: "accounts:read", Description: "See your accounts and their balances", Group: "Accounts"},
	{Name: "cards:read", Description: "See your cards and their transactions", Group: "Cards"},
	{Name: "transactions:transfer", Description: "Move money out of your cards", Group: "Money", Sensitive: true},
}

func forEachBackendScopes(t *testing.T, specs []config.ScopeSpec, fn func(t *testing.T, e *env, h *scope.Holder)) {
	tokentest.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		cat, err := scope.New(specs)
		if err != nil {
			t.Fatal(err)
		}
		h := scope.NewHolder(cat)
		fn(t, newEnv(t, open, envOpts{scopes: h}), h)
	})
}

// TestSeed004OperatorScopes: with a configuration declaring accounts:read and
// cards:read and a client registered with them, the Uphold-style URL
// /authorize/<client_id>?state=…&scope=accounts:read%20cards:read goes
// through sign-in, a consent page showing the operator's sentences under
// their group headings, a redirect with a code, and a token whose scope is
// "accounts:read cards:read"; metadata lists the scopes.
func TestSeed004OperatorScopes(t *testing.T) {
	forEachBackendScopes(t, upholdScopes, func(t *testing.T, e *env, h *scope.Holder) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{Scopes: []string{"accounts:read", "cards:read", "transactions:transfer"}, ByAdmin: true})

		md := e.do("GET", "/.well-known/oauth-authorization-server", nil).json(t)
		var supported []string
		for _, s := range md["scopes_supported"].([]any) {
			supported = append(supported, s.(string))
		}
		for _, want := range []string{"profile:read", "accounts:read", "cards:read", "transactions:transfer"} {
			if !slices.Contains(supported, want) {
				t.Errorf("scopes_supported %q misses %q", supported, want)
			}
		}

		b := e.browser()
		// Signed out: the authorization URL sends the browser to sign-in first.
		authURL := "/authorize/" + a.ID + "?state=abc&scope=accounts:read%20cards:read"
		if p := b.get(authURL); p.url.Path != "/login" {
			t.Fatalf("signed out: landed on %s (%d)", p.url, p.status)
		}
		b.login(alice.Email)
		p := b.get(authURL)
		if !isConsentPage(p) {
			t.Fatalf("no consent page: %d %s %.400s", p.status, p.url, p.body)
		}
		body := html.UnescapeString(p.body)
		for _, want := range []string{
			"<h3>Accounts</h3>", "See your accounts and their balances", "<code>accounts:read</code>",
			"<h3>Cards</h3>", "See your cards and their transactions", "<code>cards:read</code>",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("consent page misses %q", want)
			}
		}
		if strings.Index(body, "<h3>Accounts</h3>") > strings.Index(body, "<h3>Cards</h3>") {
			t.Error("groups not in catalog order")
		}
		if strings.Contains(body, "Sensitive") || strings.Contains(body, "Move money") {
			t.Error("consent page shows a scope that was not requested")
		}
		q := redirectParams(t, b.consent(p, "allow"), false)
		if q.Get("code") == "" || q.Get("state") != "abc" {
			t.Fatalf("authorization response %v", q)
		}
		r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}}, basicAuth(a.ID, a.secret)...)
		if r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		tok := r.json(t)
		if tok["scope"] != "accounts:read cards:read" {
			t.Fatalf("token scope %q", tok["scope"])
		}
		access := tok["access_token"].(string)
		if in := e.postForm(oauth.PathIntrospect, url.Values{"token": {access}}, basicAuth(a.ID, a.secret)...).json(t); in["scope"] != "accounts:read cards:read" {
			t.Fatalf("introspection %v", in)
		}

		// A sensitive scope is listed first, in its group, visibly marked.
		p = b.get("/authorize/" + a.ID + "?state=abc&prompt=consent&scope=accounts:read%20transactions:transfer%20cards:read")
		body = html.UnescapeString(p.body)
		mark := strings.Index(body, `<strong class="badge-sensitive">Sensitive</strong> Move money out of your cards`)
		if mark < 0 || !strings.Contains(body, "<h3>Money</h3>") {
			t.Fatalf("sensitive scope not marked: %.2000s", body)
		}
		if mark > strings.Index(body, "<h3>Accounts</h3>") || strings.Index(body, "<h3>Money</h3>") > strings.Index(body, "<h3>Accounts</h3>") {
			t.Error("the sensitive scope is not listed first")
		}

		// Reload without cards:read: metadata and introspection drop it, and
		// authorization requests for it are invalid_scope.
		cat, err := scope.New(upholdScopes[:1])
		if err != nil {
			t.Fatal(err)
		}
		h.Store(cat)
		md = e.do("GET", "/.well-known/oauth-authorization-server", nil).json(t)
		for _, s := range md["scopes_supported"].([]any) {
			if s == "cards:read" {
				t.Error("scopes_supported still lists cards:read after the reload")
			}
		}
		if in := e.postForm(oauth.PathIntrospect, url.Values{"token": {access}}, basicAuth(a.ID, a.secret)...).json(t); in["active"] != true || in["scope"] != "accounts:read" {
			t.Fatalf("introspection after reload %v", in)
		}
		q = redirectParams(t, b.get(authURL), false)
		if q.Get("error") != oauth.CodeInvalidScope {
			t.Fatalf("authorize after reload: %v", q)
		}
	})
}

// TestSensitiveScopeNeedsAdministrator: until app review exists, only an
// administrator's registration may give a client a sensitive scope.
func TestSensitiveScopeNeedsAdministrator(t *testing.T) {
	forEachBackendScopes(t, upholdScopes, func(t *testing.T, e *env, _ *scope.Holder) {
		owner := e.user("owner@example.com")
		nc := oauth.NewClient{Name: "Dev app", OwnerID: owner.ID, RedirectURIs: []string{redirectURI},
			GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"cards:read", "transactions:transfer"}}
		_, _, err := e.svc.CreateClient(e.ctx, nc)
		var ice *oauth.InvalidClientError
		if !errors.As(err, &ice) || !strings.Contains(err.Error(), "transactions:transfer is sensitive") {
			t.Fatalf("non-admin registration with a sensitive scope: %v", err)
		}
		if got := e.st.snapshot(); got != (issued{}) {
			t.Fatalf("a refused registration issued %+v", got)
		}
		nc.ByAdmin = true
		if _, _, err := e.svc.CreateClient(e.ctx, nc); err != nil {
			t.Fatalf("administrator registration: %v", err)
		}
	})
}

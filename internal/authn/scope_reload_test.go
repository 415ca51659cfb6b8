package authn_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// cardsRoute stands for the operator's API: it needs the operator's scope
// cards:read.
const cardsRoute = "/test/v0/me/cards"

// cardsArea mounts cardsRoute. auth is set once the harness exists (the
// areas are built before it), so the handler reads it per request.
type cardsArea struct{ auth *authn.Authenticator }

func (c *cardsArea) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+cardsRoute, func(w http.ResponseWriter, r *http.Request) {
		c.auth.Require("cards:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("cards"))
		})).ServeHTTP(w, r)
	})
}

func operatorCatalog(t testing.TB, specs ...config.ScopeSpec) *scope.Catalog {
	t.Helper()
	cat, err := scope.New(specs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestRemovedScopeStopsBeingCarried: every kind of credential issued with the
// operator's cards:read stops carrying it as soon as a reload removes the
// scope from the catalog — 403 insufficient_scope on a route requiring it,
// the principal and introspection no longer list it — while its other scopes
// keep working; declaring the scope again restores it.
func TestRemovedScopeStopsBeingCarried(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		cards := config.ScopeSpec{Name: "cards:read", Description: "See your cards", Group: "Cards"}
		accounts := config.ScopeSpec{Name: "accounts:read", Description: "See your accounts", Group: "Accounts"}
		withCards := operatorCatalog(t, accounts, cards)
		withoutCards := operatorCatalog(t, accounts)
		holder := scope.NewHolder(withCards)
		area := &cardsArea{}
		e := tt.New(t, open(t), tt.Options{Scopes: holder, ExtraAreas: []server.Area{area}})
		area.auth = e.Auth
		owner := e.CreateUser("owner@example.com", false)
		dev := e.CreateUser("dev@example.com", false)

		third := e.RegisterApp("Third", dev.ID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			"profile:read", "accounts:read", "cards:read")
		own := e.RegisterApp("Own", owner.ID, []string{oauth.GrantClientCredentials}, "profile:read", "cards:read")
		delegated, err := e.CodeFlowToken(third, owner.ID, "profile:read accounts:read cards:read")
		if err != nil {
			t.Fatal(err)
		}
		appToken, err := e.AppToken(own, "profile:read cards:read")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: owner.ID, Description: "cards", Scopes: []string{"profile:read", "cards:read"}})
		if err != nil {
			t.Fatal(err)
		}
		k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, apikey.CreateRequest{ClientID: own.ID, Name: "k", Scopes: []string{"profile:read", "cards:read"}})
		if err != nil {
			t.Fatal(err)
		}
		creds := map[string]string{
			"delegated access token": delegated.AccessToken, "client_credentials token": appToken.AccessToken,
			"personal access token": p.Token, "API key": k.Secret,
		}
		// Each app introspects its own token: a client that is not a resource
		// server learns only about credentials issued to it (RFC 7662 §4).
		introspector := map[string]*tt.App{delegated.AccessToken: third, appToken.AccessToken: own}
		introspected := func(tok string) string {
			t.Helper()
			c := introspector[tok]
			in, err := e.OAuth.Introspect(e.Ctx, oauth.TokenQuery{Token: tok, Client: oauth.ClientCredentials{ID: c.ID, Secret: c.Secret, Method: oauth.AuthMethodBasic}})
			if err != nil || !in.Active {
				t.Fatalf("introspection: %+v %v", in, err)
			}
			return in.Scope
		}
		check := func(phase string, carried bool) {
			t.Helper()
			for kind, tok := range creds {
				r := e.Do("GET", cardsRoute, "", tt.Bearer(tok)...)
				if carried && r.Status != http.StatusOK {
					t.Errorf("%s: %s: GET cards = %d %s", phase, kind, r.Status, r.Body)
				}
				if !carried && (r.Status != http.StatusForbidden || r.Error() != "insufficient_scope") {
					t.Errorf("%s: %s: GET cards = %d %s, want 403 insufficient_scope", phase, kind, r.Status, r.Body)
				}
				// The credential's other scopes keep working.
				who := e.Do("GET", tt.WhoAmI, "", tt.Bearer(tok)...)
				if who.Status != http.StatusOK {
					t.Fatalf("%s: %s: whoami = %d %s", phase, kind, who.Status, who.Body)
				}
				var pr tt.Principal
				who.JSON(t, &pr)
				if slices.Contains(pr.Scopes, "cards:read") != carried {
					t.Errorf("%s: %s: principal scopes %q", phase, kind, pr.Scopes)
				}
			}
			for kind, tok := range map[string]string{"delegated": delegated.AccessToken, "client_credentials": appToken.AccessToken} {
				if got := introspected(tok); strings.Contains(got, "cards:read") != carried || !strings.Contains(got, "profile:read") {
					t.Errorf("%s: %s: introspection scope %q", phase, kind, got)
				}
			}
		}
		check("declared", true)
		holder.Store(withoutCards)
		check("removed", false)
		if got := introspected(delegated.AccessToken); got != "profile:read accounts:read" {
			t.Errorf("introspection after removal: %q", got)
		}
		holder.Store(withCards)
		check("declared again", true)
	})
}

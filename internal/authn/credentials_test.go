package authn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func TestInPerson(t *testing.T) {
	for _, c := range []struct {
		p    *authn.Principal
		want bool
	}{
		{nil, false},
		{&authn.Principal{UserID: "u", Method: authn.MethodPassword}, true},
		{&authn.Principal{UserID: "u", Method: authn.MethodSession}, true},
		{&authn.Principal{Method: authn.MethodPassword}, false}, // no user
		{&authn.Principal{UserID: "u", Method: authn.MethodPAT}, false},
		{&authn.Principal{UserID: "u", Method: authn.MethodAccessToken, ClientID: "c"}, false},
		{&authn.Principal{UserID: "u", Method: authn.MethodAPIKey, ClientID: "c"}, false},
		{&authn.Principal{UserID: "u", Method: "something new"}, false},
	} {
		err := authn.InPerson(c.p)
		if (err == nil) != c.want || (err != nil && !errors.Is(err, authn.ErrNotInPerson)) {
			t.Errorf("InPerson(%+v) = %v, want allowed=%v", c.p, err, c.want)
		}
	}
}

func TestActsForUser(t *testing.T) {
	t0 := time.Unix(1000, 0)
	if authn.ActsForUser(false, t0, t0) != nil || authn.ActsForUser(false, t0, t0.Add(time.Millisecond)) != nil {
		t.Error("a credential created at or after the credential change is dead")
	}
	if authn.ActsForUser(false, t0, t0.Add(-time.Millisecond)) == nil {
		t.Error("a credential created before the credential change is alive")
	}
	if authn.ActsForUser(true, t0, t0.Add(time.Hour)) == nil {
		t.Error("a credential of a disabled user is alive")
	}
}

// allScopes is every scope of the catalog, space-separated.
func allScopes() string { return scope.Format(scope.Builtin().Names()) }

// TestWhoMayManageCredentials runs every kind of credential against every
// credential-management operation and asserts exactly who is allowed: a
// credential never mints a credential (only the owner in person creates PATs
// and API keys), bearer credentials list and revoke within their scopes, and
// a third-party app's token gets no credential-management scope at all.
func TestWhoMayManageCredentials(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		owner := e.CreateUser("owner@example.com", true)
		admin := e.CreateAdmin("admin@example.com")
		dev := e.CreateUser("dev@example.com", false)

		// The owner's own app (client_credentials, every app scope) and a
		// third-party app the owner authorizes through the code flow.
		own := e.RegisterApp("Own", owner.ID, []string{oauth.GrantClientCredentials}, scope.Builtin().NamesFor(scope.App)...)
		third := e.RegisterApp("Third", dev.ID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			scope.ProfileRead, scope.TokensRead)

		ownerPAT, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: owner.ID, Description: "owner's"})
		if err != nil {
			t.Fatal(err)
		}
		adminPAT, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: admin.ID, Description: "admin's"})
		if err != nil {
			t.Fatal(err)
		}
		delegated, err := e.CodeFlowToken(third, owner.ID, "profile:read tokens:read")
		if err != nil {
			t.Fatal(err)
		}
		appToken, err := e.AppToken(own, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(appToken.Scope, scope.KeysRevoke) {
			t.Fatalf("client_credentials scope %q", appToken.Scope)
		}
		key, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: owner.ID}, apikey.CreateRequest{
			ClientID: own.ID, Name: "own", Scopes: scope.Builtin().NamesFor(scope.App),
		})
		if err != nil {
			t.Fatal(err)
		}

		// Fresh victims for each revoke, so every cell revokes something live.
		victimPAT := func() string {
			c, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: owner.ID, Description: "victim"})
			if err != nil {
				t.Fatal(err)
			}
			return c.PAT.ID
		}
		victimKey := func() string {
			c, err := e.APIKeys.Create(e.Ctx, apikey.Actor{System: true}, apikey.CreateRequest{ClientID: own.ID, Name: "victim", Scopes: []string{"profile:read"}})
			if err != nil {
				t.Fatal(err)
			}
			return c.Key.ID
		}

		type op int
		const (
			createPAT op = iota
			createKey
			listPATs
			listKeys
			revokePAT
			revokeKey
		)
		opNames := []string{"create PAT", "create API key", "list PATs", "list API keys", "revoke PAT", "revoke API key"}
		do := func(o op, auth func() []string) *tt.Response {
			switch o {
			case createPAT:
				return e.Do("POST", "/v0/me/tokens", `{"description":"minted"}`, tt.H(auth(), tt.JSONType)...)
			case createKey:
				return e.Do("POST", "/v0/apps/"+own.ID+"/keys", `{"name":"minted","scopes":["profile:read"]}`, tt.H(auth(), tt.JSONType)...)
			case listPATs:
				return e.Do("GET", "/v0/me/tokens", "", auth()...)
			case listKeys:
				return e.Do("GET", "/v0/apps/"+own.ID+"/keys", "", auth()...)
			case revokePAT:
				return e.Do("DELETE", "/v0/me/tokens/"+victimPAT(), "", auth()...)
			default:
				return e.Do("DELETE", "/v0/apps/"+own.ID+"/keys/"+victimKey(), "", auth()...)
			}
		}
		ownerBasic := func() []string { return tt.H(tt.Basic(owner.Email), []string{"OTP-Token", e.OTP(owner)}) }
		fixed := func(h []string) func() []string { return func() []string { return h } }

		// want: expected status per operation, in op order. 401 on a create
		// is password_required (or otp_required for the password without
		// the second factor); 403 is insufficient_scope or access_denied; 404
		// is "not yours".
		cases := []struct {
			name string
			auth func() []string
			want [6]int
		}{
			{"owner's PAT", fixed(tt.Bearer(ownerPAT.Token)), [6]int{401, 401, 200, 200, 204, 204}},
			{"third-party OAuth token (code flow)", fixed(tt.Bearer(delegated.AccessToken)), [6]int{401, 401, 200, 403, 403, 403}},
			{"client_credentials token", fixed(tt.Bearer(appToken.AccessToken)), [6]int{401, 401, 200, 200, 204, 204}},
			{"API key", fixed(tt.Bearer(key.Secret)), [6]int{401, 401, 403, 200, 403, 204}},
			{"admin's PAT", fixed(tt.Bearer(adminPAT.Token)), [6]int{401, 401, 200, 200, 404, 204}},
			{"owner's password + OTP", ownerBasic, [6]int{201, 201, 200, 200, 204, 204}},
			{"owner's password without OTP", fixed(tt.Basic(owner.Email)), [6]int{401, 401, 401, 401, 401, 401}},
			{"admin's password", fixed(tt.Basic(admin.Email)), [6]int{201, 201, 200, 200, 404, 204}},
		}
		for _, c := range cases {
			for o, want := range c.want {
				res := do(op(o), c.auth)
				if res.Status != want {
					t.Errorf("%s × %s: %d %s, want %d", c.name, opNames[o], res.Status, res.Body, want)
					continue
				}
				if want == 401 && (op(o) == createPAT || op(o) == createKey) && !strings.HasPrefix(c.name, "owner's password") {
					if res.Error() != "password_required" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
						t.Errorf("%s × %s: %s %v, want password_required with a Basic challenge", c.name, opNames[o], res.Body, res.Header)
					}
				}
			}
		}

		// Nothing the refused creates asked for exists: only the in-person
		// requests minted anything.
		pats, err := e.PATs.List(e.Ctx, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := countDesc(pats, "minted"); n != 1 {
			t.Errorf("%d PATs minted for the owner, want 1 (the in-person one)", n)
		}
		keys, err := e.APIKeys.List(e.Ctx, apikey.Actor{System: true}, own.ID)
		if err != nil {
			t.Fatal(err)
		}
		minted := 0
		for _, k := range keys {
			if k.Name == "minted" {
				minted++
			}
		}
		if minted != 2 {
			t.Errorf("%d API keys minted, want 2 (owner and admin in person)", minted)
		}
	})
}

func countDesc(list []store.PAT, d string) int {
	n := 0
	for _, p := range list {
		if p.Description == d {
			n++
		}
	}
	return n
}

// TestThirdPartyAppsNeverGetCredentialScopes: no credential-management scope
// reaches a third-party app, whatever the path: registering it on a
// code-flow client is refused, asking for it at the authorization endpoint or
// on refresh is invalid_scope.
func TestThirdPartyAppsNeverGetCredentialScopes(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		owner := e.CreateUser("owner@example.com", false)
		dev := e.CreateUser("dev@example.com", false)
		third := e.RegisterApp("Third", dev.ID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			scope.ProfileRead, scope.TokensRead)
		tok, err := e.CodeFlowToken(third, owner.ID, "profile:read")
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scope.Builtin().All() {
			if sc.Delegate {
				continue
			}
			for _, grants := range [][]string{
				{oauth.GrantAuthorizationCode},
				{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials},
				{oauth.GrantImplicit},
			} {
				_, _, err := e.OAuth.CreateClient(e.Ctx, oauth.NewClient{
					Name: "x", OwnerID: dev.ID, RedirectURIs: []string{tt.RedirectURI}, GrantTypes: grants, Scopes: []string{"profile:read", sc.Name},
				})
				var ice *oauth.InvalidClientError
				if !errors.As(err, &ice) || !strings.Contains(err.Error(), sc.Name) {
					t.Errorf("registering %s on a %v client: %v", sc.Name, grants, err)
				}
			}
			// A client_credentials-only app may carry it (it acts as its
			// owner) — unless only an administrator's PAT may.
			_, _, err := e.OAuth.CreateClient(e.Ctx, oauth.NewClient{
				Name: "x", OwnerID: dev.ID, GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{sc.Name},
			})
			if sc.AdminOnly != (err != nil) {
				t.Errorf("registering %s on a client_credentials app: %v", sc.Name, err)
			}
			// Even if a code-flow client was registered with it before this
			// rule existed, the authorization endpoint refuses it.
			legacy := e.CreateClient("legacy-"+strings.ReplaceAll(sc.Name, ":", "-"), dev.ID, "profile:read", sc.Name)
			legacy.GrantTypes = []string{oauth.GrantAuthorizationCode}
			if err := e.Store.UpdateClient(e.Ctx, legacy); err != nil {
				t.Fatal(err)
			}
			_, err = e.OAuth.ValidateAuthorize(e.Ctx, oauth.AuthorizeRequest{
				ClientID: legacy.ID, RedirectURI: legacy.RedirectURIs[0], ResponseType: "code", Scope: "profile:read " + sc.Name, ScopeSent: true, State: "s",
			})
			if !isOAuthError(err, oauth.CodeInvalidScope) {
				t.Errorf("authorize %s: %v, want invalid_scope", sc.Name, err)
			}
			// The consent page never says a credential-management sentence,
			// even for an authorization that somehow carried the scope.
			view, err := e.OAuth.DescribeConsent(e.Ctx, &oauth.Authorization{Client: legacy, RedirectURI: tt.RedirectURI, Scopes: []string{"profile:read", sc.Name}})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range view.Groups {
				for _, shown := range g.Scopes {
					if !shown.Delegate || shown.Description == sc.Description {
						t.Errorf("consent page shows %q: %q", shown.Name, shown.Description)
					}
				}
			}
			_, err = e.OAuth.Token(e.Ctx, oauth.TokenRequest{
				GrantType: oauth.GrantRefreshToken, RefreshToken: tok.RefreshToken, Scope: sc.Name, ScopeSent: true,
				Client: oauth.ClientCredentials{ID: third.ID, Secret: third.Secret, Method: oauth.AuthMethodBasic},
			})
			if !isOAuthError(err, oauth.CodeInvalidScope) {
				t.Errorf("refresh asking %s: %v, want invalid_scope", sc.Name, err)
			}
		}
	})
}

func isOAuthError(err error, code string) bool {
	var oe *oauth.Error
	return errors.As(err, &oe) && oe.Code == code
}

// TestOneDeathRule: every credential that acts for a user — an access and a
// refresh token from the code flow, a client_credentials token, a PAT, an
// API key — is dead after each event that ends the user's (or the app's)
// authority, and stays dead; a bystander's credentials are untouched.
func TestOneDeathRule(t *testing.T) {
	type event struct {
		name string
		// appless: the event concerns an app, which a PAT has none of.
		appless bool
		do      func(e *tt.Env, owner *tt.User, app *tt.App, kill func(kind string))
	}
	events := []event{
		{name: "owner disabled", do: func(e *tt.Env, owner *tt.User, _ *tt.App, _ func(string)) {
			setDisabled(e, owner, true)
		}},
		{name: "owner disabled then re-enabled", do: func(e *tt.Env, owner *tt.User, _ *tt.App, _ func(string)) {
			setDisabled(e, owner, true)
			e.Clock.Advance(time.Second)
			setDisabled(e, owner, false)
		}},
		{name: "password changed", do: func(e *tt.Env, owner *tt.User, _ *tt.App, _ func(string)) {
			if err := e.Identity.ChangePassword(e.Ctx, owner.ID, tt.Password, "an entirely new passphrase 7", "127.0.0.1"); err != nil {
				e.T.Fatal(err)
			}
		}},
		{name: "app disabled", appless: true, do: func(e *tt.Env, _ *tt.User, app *tt.App, _ func(string)) {
			if err := e.Store.SetClientStatus(e.Ctx, app.ID, store.ClientDisabled, e.Clock.Now()); err != nil {
				e.T.Fatal(err)
			}
		}},
		{name: "app deleted", appless: true, do: func(e *tt.Env, _ *tt.User, app *tt.App, _ func(string)) {
			if err := e.Store.DeleteClient(e.Ctx, app.ID); err != nil {
				e.T.Fatal(err)
			}
		}},
		{name: "credential revoked", do: func(_ *tt.Env, _ *tt.User, _ *tt.App, kill func(string)) {
			for _, k := range []string{"access token", "refresh token", "client_credentials token", "PAT", "API key"} {
				kill(k)
			}
		}},
	}
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		for _, ev := range events {
			t.Run(ev.name, func(t *testing.T) {
				e := tt.New(t, open(t), tt.Options{})
				owner := e.CreateUser("owner@example.com", false)
				bystander := e.CreateUser("bystander@example.com", false)
				// One app both authorizes the owner (code flow) and acts as
				// them (client_credentials, API key): the owner's own app.
				app := e.RegisterApp("App", owner.ID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}, "profile:read")
				other := e.RegisterApp("Other", bystander.ID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}, "profile:read")

				type creds struct {
					access, refresh, app, pat, key string
					patID, keyID                   string
				}
				issue := func(u *tt.User, a *tt.App) creds {
					code, err := e.CodeFlowToken(a, u.ID, "profile:read")
					if err != nil {
						t.Fatal(err)
					}
					cc, err := e.AppToken(a, "")
					if err != nil {
						t.Fatal(err)
					}
					p, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "p"})
					if err != nil {
						t.Fatal(err)
					}
					k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{System: true}, apikey.CreateRequest{ClientID: a.ID, Name: "k", Scopes: []string{"profile:read"}})
					if err != nil {
						t.Fatal(err)
					}
					return creds{code.AccessToken, code.RefreshToken, cc.AccessToken, p.Token, k.Secret, p.PAT.ID, k.Key.ID}
				}
				mine, theirs := issue(owner, app), issue(bystander, other)
				e.Clock.Advance(time.Second)

				kill := func(kind string) {
					var err error
					q := oauth.TokenQuery{Client: oauth.ClientCredentials{ID: app.ID, Secret: app.Secret, Method: oauth.AuthMethodBasic}}
					switch kind {
					case "access token":
						q.Token = mine.access
						err = e.OAuth.Revoke(e.Ctx, q)
					case "refresh token":
						q.Token = mine.refresh
						err = e.OAuth.Revoke(e.Ctx, q)
					case "client_credentials token":
						q.Token = mine.app
						err = e.OAuth.Revoke(e.Ctx, q)
					case "PAT":
						err = e.PATs.Revoke(e.Ctx, owner.ID, mine.patID)
					case "API key":
						err = e.APIKeys.Revoke(e.Ctx, apikey.Actor{System: true}, app.ID, mine.keyID)
					}
					if err != nil {
						t.Fatalf("revoking the %s: %v", kind, err)
					}
				}
				ev.do(e, owner, app, kill)
				e.Clock.Advance(time.Second)

				alive := func(kind string, c creds, a *tt.App) bool {
					switch kind {
					case "refresh token":
						_, err := e.Refresh(a, c.refresh)
						return err == nil
					}
					tok := map[string]string{"access token": c.access, "client_credentials token": c.app, "PAT": c.pat, "API key": c.key}[kind]
					res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(tok)...)
					if res.Status != 200 && res.Status != 401 {
						t.Fatalf("%s: %d %s", kind, res.Status, res.Body)
					}
					return res.Status == 200
				}
				for _, kind := range []string{"access token", "client_credentials token", "PAT", "API key", "refresh token"} {
					if kind == "PAT" && ev.appless {
						continue
					}
					if alive(kind, mine, app) {
						t.Errorf("%s: the owner's %s still works", ev.name, kind)
					}
					if !alive(kind, theirs, other) {
						t.Errorf("%s: the bystander's %s died", ev.name, kind)
					}
				}
			})
		}
	})
}

func setDisabled(e *tt.Env, u *tt.User, disabled bool) {
	e.T.Helper()
	if _, err := e.Identity.SetUserDisabled(e.Ctx, u.Email, disabled); err != nil {
		e.T.Fatal(err)
	}
}

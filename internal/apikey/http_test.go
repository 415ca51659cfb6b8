package apikey_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func createKey(t *testing.T, e *tt.Env, auth []string, client, body string) apikey.CreatedBody {
	t.Helper()
	res := e.Do("POST", "/v0/apps/"+client+"/keys", body, tt.H(auth, tt.JSONType)...)
	if res.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	var c apikey.CreatedBody
	res.JSON(t, &c)
	return c
}

func TestKeyHTTP(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		owner := e.CreateUser("owner@example.com", true)
		stranger := e.CreateUser("stranger@example.com", false)
		admin := e.CreateAdmin("admin@example.com")
		e.CreateClient("app1", owner.ID, "profile:read", "tokens:read", "keys:read", "keys:revoke")
		e.CreateClient("app2", owner.ID, "profile:read")
		ownerBasic := func() []string { return tt.H(tt.Basic(owner.Email), []string{"OTP-Token", e.OTP(owner)}) }

		k := createKey(t, e, ownerBasic(), "app1", `{"name":"deploy","scopes":["profile:read","tokens:read","keys:read"]}`)
		if !strings.HasPrefix(k.Key, "gthk_") || k.ClientID != "app1" || k.Name != "deploy" || k.CreatedBy != owner.ID {
			t.Fatalf("created: %+v", k)
		}
		whoami := func(h ...string) *tt.Response { return e.Do("GET", tt.WhoAmI, "", h...) }

		t.Run("use", func(t *testing.T) {
			for name, h := range map[string][]string{
				"bearer":    tt.Bearer(k.Key),
				"x-api-key": {"X-API-Key", k.Key},
			} {
				res := whoami(h...)
				var p tt.Principal
				if res.Status != 200 {
					t.Fatalf("%s: %d %s", name, res.Status, res.Body)
				}
				res.JSON(t, &p)
				if p.Method != "api_key" || p.ClientID != "app1" || p.UserID != owner.ID || p.CredentialID != k.ID {
					t.Fatalf("%s: principal %+v", name, p)
				}
			}
		})

		t.Run("refused_places", func(t *testing.T) {
			cases := []struct {
				name    string
				path    string
				headers []string
				status  int
				code    string
			}{
				{"query api_key", tt.WhoAmI + "?api_key=" + k.Key, nil, 400, "invalid_request"},
				{"query apikey", tt.WhoAmI + "?apikey=" + k.Key, nil, 400, "invalid_request"},
				{"query access_token", tt.WhoAmI + "?access_token=" + k.Key, nil, 400, "invalid_request"},
				{"both headers", tt.WhoAmI, tt.H(tt.Bearer(k.Key), []string{"X-API-Key", k.Key}), 400, "invalid_request"},
				{"two X-API-Key", tt.WhoAmI, []string{"X-API-Key", k.Key, "X-API-Key", k.Key}, 400, "invalid_request"},
				{"PAT-shaped X-API-Key", tt.WhoAmI, []string{"X-API-Key", "gthp_" + k.Key[5:]}, 401, "invalid_token"},
				{"garbage X-API-Key", tt.WhoAmI, []string{"X-API-Key", "hello"}, 401, "invalid_token"},
			}
			for _, c := range cases {
				res := e.Do("GET", c.path, "", c.headers...)
				if res.Status != c.status || res.Error() != c.code {
					t.Errorf("%s: %d %s", c.name, res.Status, res.Body)
				}
			}
		})

		t.Run("list", func(t *testing.T) {
			// The listing shows last use (in memory until flushed), never the secret.
			res := e.Do("GET", "/v0/apps/app1/keys", "", tt.Bearer(k.Key)...)
			if res.Status != 200 || strings.Contains(string(res.Body), k.Key) {
				t.Fatalf("list by key: %d %s", res.Status, res.Body)
			}
			var items []apikey.Item
			res.JSON(t, &items)
			if len(items) != 1 || items[0].ID != k.ID || items[0].LastUsedAt == nil {
				t.Fatalf("items %s", res.Body)
			}
			// A key cannot see another app of the same owner.
			if res := e.Do("GET", "/v0/apps/app2/keys", "", tt.Bearer(k.Key)...); res.Status != 404 {
				t.Fatalf("key listed another app: %d", res.Status)
			}
			if res := e.Do("GET", "/v0/apps/app1/keys", "", tt.Basic(stranger.Email)...); res.Status != 404 {
				t.Fatalf("stranger listed: %d %s", res.Status, res.Body)
			}
			// An app's key manages no personal access tokens, even with tokens:read.
			if res := e.Do("GET", "/v0/me/tokens", "", tt.Bearer(k.Key)...); res.Status != 403 || res.Error() != "access_denied" {
				t.Fatalf("key listed the owner's PATs: %d %s", res.Status, res.Body)
			}
			if res := e.Do("GET", "/v0/apps/app1/keys", "", tt.Basic(admin.Email)...); res.Status != 200 {
				t.Fatalf("admin list: %d %s", res.Status, res.Body)
			}
		})

		t.Run("create_rules", func(t *testing.T) {
			writer := createKey(t, e, ownerBasic(), "app1", `{"name":"writer","scopes":["keys:revoke"]}`)
			cases := []struct {
				name, client, body string
				auth               []string
				status             int
				code               string
			}{
				{"stranger", "app1", `{"name":"x","scopes":["profile:read"]}`, tt.Basic(stranger.Email), 404, "not_found"},
				{"unknown app", "nope", `{"name":"x","scopes":["profile:read"]}`, tt.Basic(admin.Email), 404, "not_found"},
				{"key mints key", "app1", `{"name":"x","scopes":["profile:read"]}`, tt.Bearer(writer.Key), 401, "password_required"},
				{"no name", "app1", `{"scopes":["profile:read"]}`, tt.Basic(admin.Email), 400, "invalid_request"},
				{"no scopes", "app1", `{"name":"x"}`, tt.Basic(admin.Email), 400, "invalid_scope"},
				{"scope not registered", "app2", `{"name":"x","scopes":["tokens:read"]}`, tt.Basic(admin.Email), 400, "invalid_scope"},
				{"unknown scope", "app1", `{"name":"x","scopes":["root"]}`, tt.Basic(admin.Email), 400, "invalid_scope"},
				{"bad cidr", "app1", `{"name":"x","scopes":["profile:read"],"allowed_cidrs":["10.0.0.0/99"]}`, tt.Basic(admin.Email), 400, "invalid_request"},
				{"bad expiry", "app1", `{"name":"x","scopes":["profile:read"],"expires_in":-1}`, tt.Basic(admin.Email), 400, "invalid_request"},
				{"admin ok", "app1", `{"name":"x","scopes":"profile:read","expires_in":60,"allowed_cidrs":["127.0.0.1"]}`, tt.Basic(admin.Email), 201, ""},
			}
			for _, c := range cases {
				res := e.Do("POST", "/v0/apps/"+c.client+"/keys", c.body, tt.H(c.auth, tt.JSONType)...)
				if res.Status != c.status || (c.code != "" && res.Error() != c.code) {
					t.Errorf("%s: %d %s", c.name, res.Status, res.Body)
				}
			}
			// Without the OTP the owner (who has two-factor) is told so.
			res := e.Do("POST", "/v0/apps/app1/keys", `{"name":"x","scopes":["profile:read"]}`, tt.H(tt.Basic(owner.Email), tt.JSONType)...)
			if res.Status != 401 || res.Header.Get("OTP-Token") != "Required" {
				t.Errorf("owner without OTP: %d %v", res.Status, res.Header)
			}
		})

		t.Run("disallowed_ip", func(t *testing.T) {
			far := createKey(t, e, ownerBasic(), "app1", `{"name":"office","scopes":["profile:read"],"allowed_cidrs":["203.0.113.0/24"]}`)
			res := whoami(tt.Bearer(far.Key)...)
			if res.Status != 401 || res.Error() != "invalid_token" {
				t.Fatalf("from 127.0.0.1: %d %s", res.Status, res.Body)
			}
			near := createKey(t, e, ownerBasic(), "app1", `{"name":"local","scopes":["profile:read"],"allowed_cidrs":["127.0.0.0/8","::1"]}`)
			// Proxy headers are not trusted.
			if res := whoami(tt.H(tt.Bearer(far.Key), []string{"X-Forwarded-For", "203.0.113.9"})...); res.Status != 401 {
				t.Fatalf("X-Forwarded-For trusted: %d", res.Status)
			}
			if res := whoami(tt.Bearer(near.Key)...); res.Status != 200 {
				t.Fatalf("allowed address: %d %s", res.Status, res.Body)
			}
		})

		t.Run("scope", func(t *testing.T) {
			// A key without keys:revoke cannot revoke.
			res := e.Do("DELETE", "/v0/apps/app1/keys/"+k.ID, "", tt.Bearer(k.Key)...)
			if res.Status != 403 || res.Error() != "insufficient_scope" {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
		})

		t.Run("expired", func(t *testing.T) {
			short := createKey(t, e, ownerBasic(), "app1", `{"name":"short","scopes":["profile:read"],"expires_in":30}`)
			if res := whoami(tt.Bearer(short.Key)...); res.Status != 200 {
				t.Fatalf("fresh: %d", res.Status)
			}
			e.Clock.Advance(31 * time.Second)
			res := whoami(tt.Bearer(short.Key)...)
			if res.Status != 401 || res.Error() != "invalid_token" {
				t.Fatalf("expired: %d %s", res.Status, res.Body)
			}
		})

		t.Run("rotate_and_revoke", func(t *testing.T) {
			old := createKey(t, e, ownerBasic(), "app1", `{"name":"v1","scopes":["profile:read"]}`)
			next := createKey(t, e, ownerBasic(), "app1", `{"name":"v2","scopes":["profile:read"]}`)
			if res := e.Do("DELETE", "/v0/apps/app1/keys/"+old.ID, "", tt.Basic(stranger.Email)...); res.Status != 404 {
				t.Fatalf("stranger revoked: %d", res.Status)
			}
			if res := e.Do("DELETE", "/v0/apps/app2/keys/"+old.ID, "", tt.Basic(admin.Email)...); res.Status != 404 {
				t.Fatalf("revoked through another app: %d", res.Status)
			}
			if res := e.Do("DELETE", "/v0/apps/app1/keys/"+old.ID, "", tt.Basic(admin.Email)...); res.Status != 204 {
				t.Fatalf("revoke: %d %s", res.Status, res.Body)
			}
			if res := whoami(tt.Bearer(old.Key)...); res.Status != 401 || res.Error() != "invalid_token" {
				t.Fatalf("revoked key works: %d", res.Status)
			}
			if res := whoami("X-API-Key", old.Key); res.Status != 401 {
				t.Fatalf("revoked key works in X-API-Key: %d", res.Status)
			}
			if res := whoami(tt.Bearer(next.Key)...); res.Status != 200 {
				t.Fatalf("new key: %d", res.Status)
			}
		})

		t.Run("app_disabled", func(t *testing.T) {
			if err := e.Store.SetClientStatus(e.Ctx, "app1", store.ClientDisabled, e.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			if res := whoami(tt.Bearer(k.Key)...); res.Status != 401 {
				t.Fatalf("disabled app's key: %d", res.Status)
			}
		})
	})
}

package leak_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/leak"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// live makes one credential of each revocable kind.
type live struct {
	pat, key, access, refresh string
	grantOfRefresh            string
}

func makeLive(t *testing.T, e *tt.Env, n int) live {
	t.Helper()
	u := e.CreateUser("owner"+string(rune('a'+n))+"@example.com", false)
	clientID := "app-" + u.ID[:8]
	e.CreateClient(clientID, u.ID, "profile:read")
	p, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "leaky"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.APIKeys.Create(e.Ctx, apikey.Actor{UserID: u.ID}, apikey.CreateRequest{ClientID: clientID, Name: "leaky", Scopes: []string{"profile:read"}})
	if err != nil {
		t.Fatal(err)
	}
	l := live{pat: p.Token, key: k.Secret}
	now := e.Clock.Now()
	for i, kind := range []credential.Kind{credential.AccessToken, credential.RefreshToken} {
		g := &store.Grant{ID: clientID + "-grant-" + kind.String(), ClientID: clientID, UserID: u.ID, Scopes: []string{"profile:read"}, CreatedAt: now}
		if err := e.Store.CreateGrant(e.Ctx, g); err != nil {
			t.Fatal(err)
		}
		tok, _ := credential.Generate(rand.Reader, kind, "")
		sk := store.TokenAccess
		if kind == credential.RefreshToken {
			sk = store.TokenRefresh
		}
		if err := e.Store.CreateTokens(e.Ctx, &store.Token{
			Hash: e.Hasher.Hash(tok), ID: g.ID + "-tok", Kind: sk, GrantID: g.ID, ClientID: clientID, UserID: u.ID,
			Scopes: g.Scopes, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			l.access = tok
		} else {
			l.refresh, l.grantOfRefresh = tok, g.ID
		}
	}
	return l
}

func revokeBody(creds ...string) string {
	b, _ := json.Marshal(leak.Request{Credentials: creds})
	return string(b)
}

func TestRevokedByLeakStopsWorking(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		l := makeLive(t, e, 0)
		bystander := makeLive(t, e, 1)
		for _, c := range []string{l.pat, l.key} {
			if res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(c)...); res.Status != 200 {
				t.Fatalf("before: %d %s", res.Status, res.Body)
			}
		}
		fake, _ := credential.Generate(rand.Reader, credential.PAT, "")
		res := e.Do("POST", "/v0/credentials/revoke",
			revokeBody("junk", l.pat, l.key, l.access, l.refresh, fake, l.pat, "found in a gist: "+l.key), tt.JSONType...)
		if res.Status != http.StatusAccepted {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		for name, c := range map[string]string{"pat": l.pat, "api key": l.key} {
			res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(c)...)
			if res.Status != 401 || res.Error() != "invalid_token" {
				t.Errorf("%s after leak report: %d %s", name, res.Status, res.Body)
			}
		}
		for name, c := range map[string]string{"access": l.access, "refresh": l.refresh} {
			info, err := e.Store.TokenByHash(e.Ctx, e.Hasher.Hash(c))
			if err != nil || info.RevokedAt == nil {
				t.Errorf("%s token not revoked: %+v %v", name, info, err)
			}
		}
		if g, err := e.Store.GrantByID(e.Ctx, l.grantOfRefresh); err != nil || g.RevokedAt == nil {
			t.Errorf("refresh token's grant not revoked: %+v %v", g, err)
		}
		// Nobody else's credentials were touched.
		for _, c := range []string{bystander.pat, bystander.key} {
			if res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(c)...); res.Status != 200 {
				t.Errorf("bystander: %d", res.Status)
			}
		}
		if info, _ := e.Store.TokenByHash(e.Ctx, e.Hasher.Hash(bystander.access)); info.RevokedAt != nil {
			t.Error("bystander token revoked")
		}
	})
}

// TestSameAnswer: the endpoint is no oracle — live, dead, unknown and
// malformed credentials get byte-identical answers.
func TestSameAnswer(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		l := makeLive(t, e, 0)
		fake := func(k credential.Kind) string { s, _ := credential.Generate(rand.Reader, k, ""); return s }
		lists := map[string][]string{
			"live":        {l.pat, l.key, l.access, l.refresh},
			"again":       {l.pat, l.key, l.access, l.refresh}, // now already revoked
			"unknown":     {fake(credential.PAT), fake(credential.APIKey), fake(credential.AccessToken), fake(credential.RefreshToken)},
			"other kinds": {fake(credential.ClientSecret), fake(credential.AuthCode)},
			"malformed":   {"gthp_notreallyatoken", "hello", strings.Repeat("x", 500)},
		}
		var first *tt.Response
		for _, name := range []string{"live", "again", "unknown", "other kinds", "malformed"} {
			res := e.Do("POST", "/v0/credentials/revoke", revokeBody(lists[name]...), tt.JSONType...)
			res.Header.Del("X-Request-Id")
			res.Header.Del("Date")
			if first == nil {
				first = res
				if res.Status != http.StatusAccepted {
					t.Fatalf("%s: %d %s", name, res.Status, res.Body)
				}
				continue
			}
			if res.Status != first.Status || string(res.Body) != string(first.Body) || !sameHeader(res.Header, first.Header) {
				t.Errorf("%s: %d %v %s; first: %d %v %s", name, res.Status, res.Header, res.Body, first.Status, first.Header, first.Body)
			}
		}
	})
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if strings.Join(a[k], ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

func TestRequestLimits(t *testing.T) {
	e := tt.New(t, tt.OpenSQLite(t), tt.Options{})
	tooMany := make([]string, leak.MaxCredentials+1)
	for i := range tooMany {
		tooMany[i] = "x"
	}
	cases := []struct {
		name, body, ctype string
		status            int
	}{
		{"ok", revokeBody("x"), "application/json", 202},
		{"max", revokeBody(tooMany[1:]...), "application/json", 202},
		{"too many", revokeBody(tooMany...), "application/json", 400},
		{"empty list", `{"credentials":[]}`, "application/json", 400},
		{"no list", `{}`, "application/json", 400},
		{"not json", `credentials=x`, "application/json", 400},
		{"wrong type", `{"credentials":"gthp_x"}`, "application/json", 400},
		{"two objects", `{"credentials":["x"]}{}`, "application/json", 400},
		{"form", `credentials=x`, "application/x-www-form-urlencoded", 415},
		{"huge", `{"credentials":["` + strings.Repeat("a", 32<<10) + `"]}`, "application/json", 413},
	}
	for _, c := range cases {
		res := e.Do("POST", "/v0/credentials/revoke", c.body, "Content-Type", c.ctype)
		if res.Status != c.status {
			t.Errorf("%s: %d %s", c.name, res.Status, res.Body)
		}
	}
	if res := e.Do("GET", "/v0/credentials/revoke", ""); res.Status != 405 {
		t.Errorf("GET: %d", res.Status)
	}
}

func TestRateLimited(t *testing.T) {
	e := tt.New(t, tt.OpenSQLite(t), tt.Options{LeakLimit: leak.LimitConfig{Every: time.Minute, Burst: 3}})
	for i := 0; i < 3; i++ {
		if res := e.Do("POST", "/v0/credentials/revoke", revokeBody("x"), tt.JSONType...); res.Status != 202 {
			t.Fatalf("request %d: %d", i, res.Status)
		}
	}
	res := e.Do("POST", "/v0/credentials/revoke", revokeBody("x"), tt.JSONType...)
	if res.Status != 429 || res.Header.Get("Retry-After") != "60" {
		t.Fatalf("over the limit: %d %v %s", res.Status, res.Header, res.Body)
	}
	e.Clock.Advance(time.Minute)
	if res := e.Do("POST", "/v0/credentials/revoke", revokeBody("x"), tt.JSONType...); res.Status != 202 {
		t.Fatalf("after refill: %d", res.Status)
	}
}

// TestLeakedClientSecretAndCode: a reported client secret is deleted (the
// app's other secret keeps working) and a reported authorization code is
// burnt with its grant revoked.
func TestLeakedClientSecretAndCode(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("app-owner@example.com", false)
		e.CreateClient("leaky-app", u.ID, "profile:read")
		now := e.Clock.Now()
		leaked, _ := credential.Generate(rand.Reader, credential.ClientSecret, "")
		kept, _ := credential.Generate(rand.Reader, credential.ClientSecret, "")
		for i, sec := range []string{leaked, kept} {
			if err := e.Store.AddClientSecret(e.Ctx, &store.ClientSecret{ID: "sec-" + string(rune('a'+i)), ClientID: "leaky-app", Hash: e.Hasher.Hash(sec), CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		g := &store.Grant{ID: "leaky-grant", ClientID: "leaky-app", UserID: u.ID, Scopes: []string{"profile:read"}, CreatedAt: now}
		if err := e.Store.CreateGrant(e.Ctx, g); err != nil {
			t.Fatal(err)
		}
		code, _ := credential.Generate(rand.Reader, credential.AuthCode, "")
		if err := e.Store.CreateAuthCode(e.Ctx, &store.AuthCode{Hash: e.Hasher.Hash(code), GrantID: g.ID, ClientID: "leaky-app", UserID: u.ID,
			RedirectURI: "https://app.example/cb", Scopes: g.Scopes, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}

		res := e.Do("POST", "/v0/credentials/revoke", revokeBody(leaked, code), tt.JSONType...)
		if res.Status != http.StatusAccepted {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		secrets, err := e.Store.ClientSecrets(e.Ctx, "leaky-app")
		if err != nil {
			t.Fatal(err)
		}
		if len(secrets) != 1 || secrets[0].Hash != e.Hasher.Hash(kept) {
			t.Fatalf("secrets after leak report = %+v; want only the kept one", secrets)
		}
		if _, err := e.Store.ConsumeAuthCode(e.Ctx, e.Hasher.Hash(code), now); !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("leaked code still redeemable: %v", err)
		}
		if got, err := e.Store.GrantByID(e.Ctx, g.ID); err != nil || got.RevokedAt == nil {
			t.Fatalf("leaked code's grant not revoked: %+v %v", got, err)
		}
	})
}

package pat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

type created struct {
	AccessToken string     `json:"accessToken"`
	Description string     `json:"description"`
	ID          string     `json:"id"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// createPAT creates a PAT over HTTP with Basic (+ OTP when the user has it).
func createPAT(t *testing.T, e *tt.Env, u *tt.User, body string) created {
	t.Helper()
	h := tt.H(tt.Basic(u.Email), tt.JSONType)
	if u.TOTPSecret != "" {
		h = append(h, "OTP-Token", e.OTP(u))
	}
	res := e.Do("POST", "/v0/me/tokens", body, h...)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var c created
	res.JSON(t, &c)
	return c
}

// curl runs the curl command line args (as a shell would split it) and
// returns the HTTP status, headers and body.
func curl(t *testing.T, args ...string) (int, http.Header, []byte) {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed: CI must install it (apt-get install curl)")
		}
		t.Skip("curl not installed (apt-get install curl); the personal-access-token curl examples did not run")
	}
	args = append([]string{"-sS", "-i"}, args...)
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("curl %q: %v", args, err)
	}
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	var status int
	fmt.Sscanf(lines[0], "HTTP/1.1 %d", &status)
	h := http.Header{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return status, h, body
}

// TestSeedCurlExamples runs seed 004's curl commands verbatim (placeholders
// filled in) against a running server.
func TestSeedCurlExamples(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("script@example.com", true)
		base := e.URL

		// Create without OTP-Token → 401 and OTP-Token: Required.
		status, h, body := curl(t, base+"/v0/me/tokens",
			"-X", "POST",
			"-H", "Content-Type: application/json",
			"-u", u.Email+":"+tt.Password,
			"-d", `{ "description": "My command line script" }`)
		if status != 401 || h.Get("OTP-Token") != "Required" {
			t.Fatalf("create without OTP: %d %v %s", status, h, body)
		}

		// Create with OTP-Token (the seed's command).
		status, _, body = curl(t, base+"/v0/me/tokens",
			"-X", "POST",
			"-H", "Content-Type: application/json",
			"-H", "OTP-Token: "+e.OTP(u),
			"-u", u.Email+":"+tt.Password,
			"-d", `{ "description": "My command line script" }`)
		if status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
		var c map[string]any
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		token, _ := c["accessToken"].(string)
		if c["description"] != "My command line script" || !regexp.MustCompile(`^gthp_[0-9A-Za-z]{49}$`).MatchString(token) ||
			!regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(fmt.Sprint(c["id"])) {
			t.Fatalf("create answer: %s", body)
		}
		second := createPAT(t, e, u, `{"description":"token 2"}`)

		// List.
		status, _, body = curl(t, base+"/v0/me/tokens",
			"-H", "Authorization: Bearer "+token)
		if status != 200 {
			t.Fatalf("list: %d %s", status, body)
		}
		var list []map[string]any
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0]["id"] != second.ID || list[1]["id"] != c["id"] || list[1]["description"] != "My command line script" {
			t.Fatalf("list: %s", body)
		}
		for _, k := range []string{"description", "id", "created_at", "last_used_at", "expires_at", "scopes"} {
			if _, ok := list[0][k]; !ok {
				t.Errorf("list item lacks %q: %s", k, body)
			}
		}
		if bytes.Contains(body, []byte("gthp_")) || bytes.Contains(body, []byte("hash")) {
			t.Fatalf("list leaks a secret: %s", body)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(body), []byte(`[{"description":`)) {
			t.Errorf("items should start with description as in the seed: %s", body)
		}

		// Example request with the PAT.
		status, _, body = curl(t, base+tt.WhoAmI, "-H", "Authorization: Bearer "+token)
		if status != 200 || !bytes.Contains(body, []byte(`"method":"pat"`)) {
			t.Fatalf("use: %d %s", status, body)
		}

		// Revoke by id, and by the token itself (`:token`).
		status, _, body = curl(t, base+"/v0/me/tokens/"+second.ID,
			"-X", "DELETE",
			"-H", "Authorization: Bearer "+token)
		if status != 204 {
			t.Fatalf("revoke by id: %d %s", status, body)
		}
		status, _, body = curl(t, base+"/v0/me/tokens/"+token,
			"-X", "DELETE",
			"-H", "Authorization: Bearer "+token)
		if status != 204 {
			t.Fatalf("revoke by token: %d %s", status, body)
		}
		status, h, _ = curl(t, base+"/v0/me/tokens", "-H", "Authorization: Bearer "+token)
		if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("revoked token still works: %d %v", status, h)
		}
		status, _, _ = curl(t, base+"/v0/me/tokens", "-H", "Authorization: Bearer "+second.AccessToken)
		if status != 401 {
			t.Fatalf("revoked token still works: %d", status)
		}

		// Basic without two-factor needs no OTP-Token.
		plain := e.CreateUser("plain@example.com", false)
		status, _, body = curl(t, base+"/v0/me/tokens",
			"-X", "POST",
			"-H", "Content-Type: application/json",
			"-u", plain.Email+":"+tt.Password,
			"-d", `{ "description": "My command line script" }`)
		if status != 201 {
			t.Fatalf("create without 2FA: %d %s", status, body)
		}
	})
}

func TestPATValidity(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("alice@example.com", false)
		other := e.CreateUser("bob@example.com", false)
		ok := func(tok string) bool { return e.Do("GET", "/v0/me/tokens", "", tt.Bearer(tok)...).Status == 200 }
		want401 := func(name, tok string) {
			t.Helper()
			res := e.Do("GET", "/v0/me/tokens", "", tt.Bearer(tok)...)
			if res.Status != 401 || res.Error() != "invalid_token" || !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s: %d %s", name, res.Status, res.Body)
			}
		}

		t.Run("scope", func(t *testing.T) {
			c := createPAT(t, e, u, `{"description":"profile only","scopes":["profile:read"]}`)
			res := e.Do("GET", "/v0/me/tokens", "", tt.Bearer(c.AccessToken)...)
			if res.Status != 403 || res.Error() != "insufficient_scope" || !strings.Contains(res.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Fatalf("PAT without tokens:read: %d %s", res.Status, res.Body)
			}
			if res := e.Do("DELETE", "/v0/me/tokens/"+c.ID, "", tt.Bearer(c.AccessToken)...); res.Status != 403 {
				t.Fatalf("PAT without tokens:revoke revoked: %d", res.Status)
			}
			if res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(c.AccessToken)...); res.Status != 200 {
				t.Fatalf("PAT with profile:read: %d %s", res.Status, res.Body)
			}
			// Default scopes: every PAT-allowed scope; space-separated accepted.
			d := createPAT(t, e, u, `{"description":"default"}`)
			if strings.Join(d.Scopes, " ") != strings.Join(pat.AllowedScopes(scope.Builtin()), " ") {
				t.Fatalf("default scopes %q", d.Scopes)
			}
			s := createPAT(t, e, u, `{"description":"string","scopes":"tokens:read profile:read"}`)
			if strings.Join(s.Scopes, " ") != "tokens:read profile:read" {
				t.Fatalf("scopes %q", s.Scopes)
			}
		})

		t.Run("expired", func(t *testing.T) {
			c := createPAT(t, e, u, `{"description":"short","expires_in":60}`)
			if c.ExpiresAt == nil || !ok(c.AccessToken) {
				t.Fatalf("fresh expiring PAT: %+v", c)
			}
			e.Clock.Advance(61 * time.Second)
			want401("expired", c.AccessToken)
		})

		t.Run("revoked", func(t *testing.T) {
			c := createPAT(t, e, u, `{"description":"to revoke"}`)
			if !ok(c.AccessToken) {
				t.Fatal("fresh PAT refused")
			}
			// Someone else cannot revoke it (404, as for no PAT at all).
			oc := createPAT(t, e, other, `{"description":"bob's"}`)
			if res := e.Do("DELETE", "/v0/me/tokens/"+c.ID, "", tt.Bearer(oc.AccessToken)...); res.Status != 404 {
				t.Fatalf("other user revoked: %d %s", res.Status, res.Body)
			}
			if res := e.Do("DELETE", "/v0/me/tokens/"+c.ID, "", tt.Basic(u.Email)...); res.Status != 204 {
				t.Fatalf("revoke with Basic: %d %s", res.Status, res.Body)
			}
			want401("revoked", c.AccessToken)
			// Another user's secret in the path: killed (it is in the access
			// log now), but answered like an unknown token.
			leaked := createPAT(t, e, u, `{"description":"pasted in a URL"}`)
			if res := e.Do("DELETE", "/v0/me/tokens/"+leaked.AccessToken, "", tt.Bearer(oc.AccessToken)...); res.Status != 404 {
				t.Fatalf("other user revoked by token: %d %s", res.Status, res.Body)
			}
			want401("leaked in a path", leaked.AccessToken)
			if res := e.Do("DELETE", "/v0/me/tokens/"+c.ID, "", tt.Basic(u.Email)...); res.Status != 204 {
				t.Fatalf("revoke twice (idempotent): %d", res.Status)
			}
			for _, id := range []string{"00000000-0000-4000-8000-000000000000", "nope", "gthp_x"} {
				if res := e.Do("DELETE", "/v0/me/tokens/"+id, "", tt.Basic(u.Email)...); res.Status != 404 {
					t.Fatalf("revoke unknown %q: %d", id, res.Status)
				}
			}
		})

		t.Run("malformed", func(t *testing.T) {
			c := createPAT(t, e, u, `{"description":"x"}`)
			bad := c.AccessToken[:len(c.AccessToken)-1] + "0"
			if bad == c.AccessToken {
				bad = c.AccessToken[:len(c.AccessToken)-1] + "1"
			}
			want401("bad checksum", bad)
			want401("garbage", "not-a-token")
		})

		t.Run("password_change", func(t *testing.T) {
			carol := e.CreateUser("carol@example.com", false)
			c := createPAT(t, e, carol, `{"description":"before"}`)
			e.Clock.Advance(time.Second)
			if err := e.Identity.ChangePassword(e.Ctx, carol.ID, tt.Password, "a different long passphrase 7", "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			want401("after password change", c.AccessToken)
		})

		t.Run("disabled", func(t *testing.T) {
			dave := e.CreateUser("dave@example.com", false)
			c := createPAT(t, e, dave, `{"description":"before"}`)
			e.Clock.Advance(time.Second)
			if _, err := e.Identity.SetUserDisabled(e.Ctx, dave.Email, true); err != nil {
				t.Fatal(err)
			}
			want401("disabled", c.AccessToken)
			e.Clock.Advance(time.Second)
			if _, err := e.Identity.SetUserDisabled(e.Ctx, dave.Email, false); err != nil {
				t.Fatal(err)
			}
			want401("re-enabled: still dead", c.AccessToken)
		})

		t.Run("token_cannot_create_token", func(t *testing.T) {
			c := createPAT(t, e, u, `{"description":"parent"}`)
			res := e.Do("POST", "/v0/me/tokens", `{"description":"child"}`, tt.H(tt.Bearer(c.AccessToken), tt.JSONType)...)
			if res.Status != 401 || res.Error() != "password_required" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("PAT minted a PAT: %d %s", res.Status, res.Body)
			}
		})

		t.Run("no_credentials", func(t *testing.T) {
			res := e.Do("GET", "/v0/me/tokens", "")
			if res.Status != 401 {
				t.Fatalf("anonymous list: %d", res.Status)
			}
			res = e.Do("POST", "/v0/me/tokens", `{"description":"x"}`, tt.JSONType...)
			if res.Status != 401 {
				t.Fatalf("anonymous create: %d", res.Status)
			}
		})
	})
}

func TestCreateValidation(t *testing.T) {
	e := tt.New(t, tt.OpenSQLite(t), tt.Options{})
	u := e.CreateUser("val@example.com", false)
	long := strings.Repeat("é", pat.MaxDescriptionLen+1)
	cases := []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"ok", `{"description":"fine"}`, "application/json", 201, ""},
		{"ok charset", `{"description":"fine"}`, "application/json; charset=utf-8", 201, ""},
		{"max length", `{"description":"` + strings.Repeat("é", pat.MaxDescriptionLen) + `"}`, "application/json", 201, ""},
		{"missing description", `{}`, "application/json", 400, "invalid_request"},
		{"blank description", `{"description":"   "}`, "application/json", 400, "invalid_request"},
		{"long description", `{"description":"` + long + `"}`, "application/json", 400, "invalid_request"},
		{"control chars", `{"description":"a\u0000b"}`, "application/json", 400, "invalid_request"},
		{"unknown scope", `{"description":"x","scopes":["admin"]}`, "application/json", 400, "invalid_scope"},
		{"empty scopes", `{"description":"x","scopes":[]}`, "application/json", 400, "invalid_scope"},
		{"scope alias", `{"description":"x","scope":"profile:read"}`, "application/json", 201, ""},
		{"both scope fields", `{"description":"x","scope":"profile:read","scopes":["profile:read"]}`, "application/json", 400, "invalid_request"},
		{"negative expiry", `{"description":"x","expires_in":-5}`, "application/json", 400, "invalid_request"},
		{"zero expiry", `{"description":"x","expires_in":0}`, "application/json", 400, "invalid_request"},
		{"fractional expiry", `{"description":"x","expires_in":1.5}`, "application/json", 400, "invalid_request"},
		{"expiry over a year", `{"description":"x","expires_in":31536001}`, "application/json", 400, "invalid_request"},
		{"expiry a year", `{"description":"x","expires_in":31536000}`, "application/json", 201, ""},
		{"unknown field", `{"description":"x","expiresIn":60}`, "application/json", 400, "invalid_request"},
		{"not json", `description=x`, "application/json", 400, "invalid_request"},
		{"trailing data", `{"description":"x"}{}`, "application/json", 400, "invalid_request"},
		{"form content type", `{"description":"x"}`, "application/x-www-form-urlencoded", 415, "invalid_request"},
		{"text/plain (cross-site form)", `{"description":"x"}`, "text/plain", 415, "invalid_request"},
		{"too large", `{"description":"` + strings.Repeat("a", 20<<10) + `"}`, "application/json", 413, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.Do("POST", "/v0/me/tokens", c.body, tt.H(tt.Basic(u.Email), []string{"Content-Type", c.ctype})...)
			if res.Status != c.status || (c.code != "" && res.Error() != c.code) {
				t.Fatalf("%d %s; want %d %s", res.Status, res.Body, c.status, c.code)
			}
			if res.Status == 201 && res.Header.Get("Cache-Control") != "no-store" {
				t.Error("token answer without Cache-Control: no-store")
			}
		})
	}
}

func TestTooManyPATs(t *testing.T) {
	e := tt.New(t, tt.OpenSQLite(t), tt.Options{PATConfig: pat.Config{MaxPerUser: 2}})
	u := e.CreateUser("many@example.com", false)
	createPAT(t, e, u, `{"description":"1"}`)
	createPAT(t, e, u, `{"description":"2"}`)
	res := e.Do("POST", "/v0/me/tokens", `{"description":"3"}`, tt.H(tt.Basic(u.Email), tt.JSONType)...)
	if res.Status != 409 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
}

func TestLastUsedShownAndFlushed(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("lu@example.com", false)
		c := createPAT(t, e, u, `{"description":"x"}`)
		e.Clock.Advance(time.Minute)
		usedAt := e.Clock.Now()
		if res := e.Do("GET", tt.WhoAmI, "", tt.Bearer(c.AccessToken)...); res.Status != 200 {
			t.Fatal(res.Status)
		}
		// Not in the database yet…
		list, err := e.Store.ListPATs(e.Ctx, u.ID)
		if err != nil || len(list) != 1 || list[0].LastUsedAt != nil {
			t.Fatalf("written on the request path: %+v %v", list, err)
		}
		// …but the listing shows it.
		res := e.Do("GET", "/v0/me/tokens", "", tt.Basic(u.Email)...)
		var items []pat.Item
		res.JSON(t, &items)
		if len(items) != 1 || items[0].LastUsedAt == nil || !items[0].LastUsedAt.Equal(usedAt) {
			t.Fatalf("listing: %s", res.Body)
		}
		if err := e.PATs.FlushLastUsed(context.Background()); err != nil {
			t.Fatal(err)
		}
		list, _ = e.Store.ListPATs(e.Ctx, u.ID)
		if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(usedAt) {
			t.Fatalf("flushed %v, want %v", list[0].LastUsedAt, usedAt)
		}
	})
}

package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestAuditEveryEventType drives each recorded security event through the
// real services (and the token endpoint over HTTP, for the request
// metadata) and checks the entry that lands: type, actor, subject,
// outcome and the details that matter. The chain verifies at the end.
func TestAuditEveryEventType(t *testing.T) {
	e := openEdge(t, "sqlite")
	a := e.app
	ctx := context.Background()
	u, c := e.user, e.client

	postForm := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "audit-test/1.0")
		req.Header.Set("X-Request-Id", "req-audit-1")
		req.SetBasicAuth(c.ID, e.secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var accessToken, code string
	var patID, keyID, patToken, keySecret string

	cases := []struct {
		name    string
		do      func(t *testing.T)
		want    store.AuditEntry // Type, ActorKind, ActorID, Subject, Outcome; ClientAddr/UserAgent/RequestID when set
		details map[string]any   // keys that must be there with these values
		absent  []string         // detail keys that must not be there
	}{
		{"sign-in ok", func(t *testing.T) {
			if _, err := a.Identity.CheckPassword(ctx, u.Email, edgePassword, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.SignIn, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, map[string]any{"factor": "password"}, nil},
		{"sign-in wrong password", func(t *testing.T) {
			if _, err := a.Identity.CheckPassword(ctx, u.Email, "wrong password entirely", "192.0.2.1"); err == nil {
				t.Fatal("accepted")
			}
		}, store.AuditEntry{Type: audit.SignIn, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "failure"}, map[string]any{"reason": "wrong_password"}, []string{"password"}},
		{"sign-in unknown account", func(t *testing.T) {
			a.Identity.CheckPassword(ctx, "nobody@example.com", "whatever it is", "192.0.2.1")
		}, store.AuditEntry{Type: audit.SignIn, ActorKind: "user", Outcome: "failure"}, map[string]any{"reason": "unknown_account", "email": "nobody@example.com"}, nil},
		{"second factor enabled", func(t *testing.T) {
			k, err := a.Identity.BeginTOTP(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			code, err := identity.TOTPCode(k.Secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Identity.ConfirmTOTP(ctx, u.ID, code, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.SecondFactorEnabled, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, nil, nil},
		{"second factor failed", func(t *testing.T) {
			a.Identity.VerifySecondFactor(ctx, u.ID, "000000", "192.0.2.1")
		}, store.AuditEntry{Type: audit.SecondFactorFailed, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "failure"}, nil, nil},
		{"recovery code refused", func(t *testing.T) {
			a.Identity.VerifySecondFactor(ctx, u.ID, "aaaa-bbbb-cccc", "192.0.2.1")
		}, store.AuditEntry{Type: audit.SecondFactorFailed, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "failure"}, map[string]any{"reason": "wrong_recovery_code"}, nil},
		{"second factor disabled", func(t *testing.T) {
			if err := a.Identity.DisableTOTP(ctx, u.ID, edgePassword, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.SecondFactorDisabled, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, nil, nil},
		{"PAT created", func(t *testing.T) {
			p, err := a.PATs.Create(ctx, pat.CreateRequest{UserID: u.ID, Description: "ci", Scopes: []string{"profile:read"}})
			if err != nil {
				t.Fatal(err)
			}
			patID, patToken = p.PAT.ID, p.Token
		}, store.AuditEntry{Type: audit.PATCreated, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, nil, nil},
		{"security alert to the owner", func(t *testing.T) {
			if _, err := a.PATs.Create(ctx, pat.CreateRequest{UserID: u.ID, Description: "second", Scopes: []string{"profile:read"}}); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.SecurityAlert, ActorKind: "system", Subject: u.ID, Outcome: "success"}, map[string]any{"kind": "pat_created", "description": "second"}, nil},
		{"PAT revoked", func(t *testing.T) {
			if err := a.PATs.Revoke(ctx, u.ID, patID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.PATRevoked, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, nil, nil},
		{"revoked PAT used", func(t *testing.T) {
			if code := bearerGet(t, e.srv.URL+"/v0/me", patToken); code != http.StatusUnauthorized {
				t.Fatalf("revoked PAT: %d", code)
			}
		}, store.AuditEntry{Type: audit.PATUsedAfterRevocation, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "failure",
			ClientAddr: "127.0.0.1", UserAgent: "audit-test/1.0"}, nil, nil},
		{"API key created", func(t *testing.T) {
			k, err := a.APIKeys.Create(ctx, apikey.Actor{UserID: u.ID}, apikey.CreateRequest{ClientID: c.ID, Name: "k", Scopes: []string{"profile:read"}})
			if err != nil {
				t.Fatal(err)
			}
			keyID, keySecret = k.Key.ID, k.Secret
		}, store.AuditEntry{Type: audit.APIKeyCreated, ActorKind: "user", ActorID: u.ID, Subject: c.ID, Outcome: "success"}, nil, nil},
		{"API key revoked", func(t *testing.T) {
			if err := a.APIKeys.Revoke(ctx, apikey.Actor{System: true}, c.ID, keyID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.APIKeyRevoked, ActorKind: "system", Subject: c.ID, Outcome: "success"}, nil, nil},
		{"revoked API key used", func(t *testing.T) {
			if code := bearerGet(t, e.srv.URL+"/v0/me", keySecret); code != http.StatusUnauthorized {
				t.Fatalf("revoked key: %d", code)
			}
		}, store.AuditEntry{Type: audit.APIKeyUsedAfterRevocation, ActorKind: "app", ActorID: c.ID, Subject: c.ID, Outcome: "failure",
			ClientAddr: "127.0.0.1"}, map[string]any{"owner_id": u.ID}, nil},
		{"token issued over HTTP", func(t *testing.T) {
			resp := postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
			defer resp.Body.Close()
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
				t.Fatalf("token: %d", resp.StatusCode)
			}
			accessToken = body.AccessToken
		}, store.AuditEntry{Type: audit.TokenIssued, ActorKind: "app", ActorID: c.ID, Subject: c.ID, Outcome: "success",
			ClientAddr: "127.0.0.1", UserAgent: "audit-test/1.0", RequestID: "req-audit-1"}, map[string]any{"grant_type": "client_credentials"}, []string{"access_token"}},
		{"authorization granted", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/oauth2/authorize?response_type=code&client_id="+c.ID+
				"&redirect_uri="+url.QueryEscape("https://app.example/cb")+"&scope=profile:read&state=s1", nil)
			req.AddCookie(&http.Cookie{Name: "gh_session", Value: e.cookie})
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if code = loc.Query().Get("code"); code == "" {
				t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		}, store.AuditEntry{Type: audit.AuthorizationGranted, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, map[string]any{"client_id": c.ID}, nil},
		{"code redeemed", func(t *testing.T) {
			resp := postForm("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}})
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("redeem: %d", resp.StatusCode)
			}
		}, store.AuditEntry{Type: audit.TokenIssued, ActorKind: "app", ActorID: c.ID, Subject: u.ID, Outcome: "success"}, map[string]any{"grant_type": "authorization_code"}, nil},
		{"code replayed", func(t *testing.T) {
			resp := postForm("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}})
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("replay: %d", resp.StatusCode)
			}
		}, store.AuditEntry{Type: audit.ReplayDetected, ActorKind: "app", ActorID: c.ID, Subject: u.ID, Outcome: "failure"}, map[string]any{"credential": "authorization_code"}, nil},
		{"token revoked", func(t *testing.T) {
			resp := postForm("/oauth2/revoke", url.Values{"token": {accessToken}})
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("revoke: %d", resp.StatusCode)
			}
		}, store.AuditEntry{Type: audit.TokenRevoked, ActorKind: "app", ActorID: c.ID, Subject: u.ID, Outcome: "success", RequestID: "req-audit-1"}, nil, nil},
		{"authorization revoked", func(t *testing.T) {
			if err := a.OAuth.RevokeApp(ctx, u.ID, c.ID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.AuthorizationRevoked, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, map[string]any{"client_id": c.ID}, nil},
		{"app disabled by the operator", func(t *testing.T) {
			if _, err := a.Apps.Disable(ctx, apps.SystemActor(), c.ID, "abuse"); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: apps.EventDisabled, ActorKind: "system", Subject: c.ID, Outcome: "success"}, nil, nil},
		{"app enabled by an admin", func(t *testing.T) {
			admin, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "root@example.com", Name: "Root", Password: edgePassword, Admin: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Apps.Enable(ctx, apps.AdminActor(admin.ID, true), c.ID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: apps.EventEnabled, ActorKind: "admin", Subject: c.ID, Outcome: "success"}, nil, nil},
		{"signed out", func(t *testing.T) {
			cookie, _, err := a.Identity.StartSession(ctx, u.ID, false, "test", "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			b := newBrowser(t, e.srv.URL)
			su, _ := url.Parse(e.srv.URL)
			b.c.Jar.SetCookies(su, []*http.Cookie{{Name: "gh_session", Value: cookie}})
			if code, _, loc := b.post("/logout", "/logout", url.Values{}); code != http.StatusSeeOther || loc != "/login?msg=signed_out" {
				t.Fatalf("sign out: %d → %s", code, loc)
			}
			if _, _, err := a.Identity.Session(ctx, cookie); err == nil {
				t.Fatal("the session outlived the sign-out")
			}
		}, store.AuditEntry{Type: audit.SignOut, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success", ClientAddr: "127.0.0.1"}, map[string]any{"sessions": "this"}, nil},
		{"other sessions ended", func(t *testing.T) {
			if err := a.Identity.EndOtherSessions(ctx, u.ID, ""); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.SignOut, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, map[string]any{"sessions": "all_others"}, nil},
		{"password changed", func(t *testing.T) {
			if err := a.Identity.ChangePassword(ctx, u.ID, edgePassword, edgePassword+" and more", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: audit.PasswordChanged, ActorKind: "user", ActorID: u.ID, Subject: u.ID, Outcome: "success"}, nil, nil},
		{"admin disables the user", func(t *testing.T) {
			if _, err := a.Identity.Admin().Disable(ctx, "admin:root-id", u.ID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: "admin.user_disabled", ActorKind: "admin", ActorID: "root-id", Subject: u.ID, Outcome: "success"}, nil, nil},
		{"operator resets the second factor", func(t *testing.T) {
			if _, err := a.Identity.Admin().ResetSecondFactor(ctx, "cli", u.ID); err != nil {
				t.Fatal(err)
			}
		}, store.AuditEntry{Type: "admin.second_factor_reset", ActorKind: "system", Subject: u.ID, Outcome: "success"}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := a.Store.AuditCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tc.do(t)
			// Entries recorded after a change commit on their own; read
			// what this step added.
			got, err := a.Store.WalkAudit(ctx, before.HeadSeq, 100)
			if err != nil {
				t.Fatal(err)
			}
			var found *store.AuditEntry
			for i := range got {
				if got[i].Type == tc.want.Type {
					found = &got[i]
				}
			}
			if found == nil {
				t.Fatalf("no %s entry among %d new ones", tc.want.Type, len(got))
			}
			w := tc.want
			check := func(field, got, want string) {
				t.Helper()
				if want != "" && got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("actor_kind", found.ActorKind, w.ActorKind)
			check("actor_id", found.ActorID, w.ActorID)
			check("subject", found.Subject, w.Subject)
			check("outcome", found.Outcome, w.Outcome)
			check("client_addr", found.ClientAddr, w.ClientAddr)
			check("user_agent", found.UserAgent, w.UserAgent)
			check("request_id", found.RequestID, w.RequestID)
			if w.ActorKind == "system" && found.ActorID != "" {
				t.Errorf("system actor with id %q", found.ActorID)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(found.Details), &d); err != nil {
				t.Fatalf("details %q: %v", found.Details, err)
			}
			for k, v := range tc.details {
				if d[k] != v {
					t.Errorf("details[%s] = %v, want %v (details %s)", k, d[k], v, found.Details)
				}
			}
			for _, k := range tc.absent {
				if _, ok := d[k]; ok {
					t.Errorf("details carry %s", k)
				}
			}
			if accessToken != "" && strings.Contains(found.Details, accessToken) {
				t.Error("details carry the token")
			}
		})
	}
	b, n, err := a.Audit.Verify(ctx)
	if err != nil || b != nil {
		t.Fatalf("verify: %v %v", b, err)
	}
	if n < len(cases) {
		t.Fatalf("verified %d entries, want at least %d", n, len(cases))
	}
}

// TestAuditPages: a user sees their own security history; the console's
// audit page is for administrators only and filters and pages.
func TestAuditPages(t *testing.T) {
	e := openEdge(t, "sqlite")
	ctx := context.Background()
	mctx := audit.WithMeta(ctx, audit.Meta{ClientAddr: "198.51.100.4", UserAgent: "curl/8"})
	for range 3 {
		e.app.Identity.CheckPassword(mctx, e.user.Email, "not the password at all", "198.51.100.4")
	}
	get := func(path, cookie string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "gh_session", Value: cookie})
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/account/activity", e.cookie)
	if code != 200 || strings.Count(body, "198.51.100.4") != 3 || !strings.Contains(body, "failure") {
		t.Fatalf("activity: %d %s", code, body)
	}
	if code, _ := get("/console/audit", e.cookie); code != 404 {
		t.Fatalf("console audit for a non-admin: %d", code)
	}
	admin, err := e.app.Identity.CreateUser(ctx, identity.NewUser{Email: "root@example.com", Name: "Root", Password: edgePassword, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	cookie, _, err := e.app.Identity.StartSession(ctx, admin.ID, false, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		e.app.Audit.RecordAfter(ctx, audit.Entry{Type: "filler", ActorKind: store.ActorSystem, Details: map[string]any{"i": i}})
	}
	code, body = get("/console/audit?type=sign_in", cookie)
	if code != 200 || strings.Count(body, "198.51.100.4") != 3 || strings.Contains(body, "filler") {
		t.Fatalf("console audit filtered: %d %s", code, body)
	}
	code, body = get("/console/audit", cookie)
	if code != 200 || !strings.Contains(body, `rel="next"`) || strings.Contains(body, "198.51.100.4") {
		t.Fatalf("console audit page 1: %d", code)
	}
	i := strings.Index(body, `href="/console/audit?before=`)
	next := body[i+len(`href="`):]
	next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
	code, body = get(next, cookie)
	if code != 200 || strings.Count(body, "198.51.100.4") != 3 || strings.Contains(body, `rel="next"`) {
		t.Fatalf("console audit page 2 (%s): %d", next, code)
	}
	if code, _ := get("/console/audit?since=yesterday", cookie); code != 400 {
		t.Fatalf("bad date: %d", code)
	}
}

// bearerGet sends GET url with the credential as a bearer token and
// answers the status.
func bearerGet(t *testing.T, url, credential string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("User-Agent", "audit-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

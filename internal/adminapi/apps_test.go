package adminapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// pendingM2M registers, as the user, a machine-to-machine app: pending, with
// client_credentials awaiting its own approval.
func (f *fixture) pendingM2M(t *testing.T, owner string) *tt.App {
	t.Helper()
	a, secret, err := f.apps.Register(f.e.Ctx, apps.UserActor(owner, true), apps.RegisterInput{
		Name: "Nightly Sync", Type: apps.TypeM2M, Scopes: []string{scope.ProfileRead}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != apps.StatusPending {
		t.Fatalf("a user's new production app is %s, want pending", a.Status)
	}
	c, err := f.e.Store.ClientByID(f.e.Ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &tt.App{Client: c, Secret: secret}
}

func unauthorizedClient(err error) bool {
	var oe *oauth.Error
	return errors.As(err, &oe) && oe.Code == "unauthorized_client"
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s %s → %d %s: %v", r.req.Method, r.req.URL.Path, r.status, r.body, err)
	}
	return v
}

func TestPendingAppApprovedThroughAPIObtainsTokens(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open(t))
		app := f.pendingM2M(t, f.userID)
		if _, err := f.e.AppToken(app, ""); !unauthorizedClient(err) {
			t.Fatalf("pending app's token: %v, want unauthorized_client", err)
		}
		list := decode[adminapi.Page[adminapi.App]](t, f.do(t, "GET", "/admin/apps?status=pending&q=nightly", f.adminPAT))
		if len(list.Items) != 1 || list.Items[0].ID != app.ID || len(list.Items[0].PendingGrants) != 1 {
			t.Fatalf("pending list: %+v", list)
		}
		if q := decode[adminapi.ReviewQueue](t, f.do(t, "GET", "/admin/review-queue", f.adminPAT)); q.PendingApps != 1 {
			t.Fatalf("review queue %+v, want one pending app", q)
		}
		// Approving only the (already approved) scopes activates the app
		// but leaves client_credentials awaiting review.
		r := f.send(t, "POST", "/admin/apps/"+app.ID+"/approve", `{"scopes":[]}`, tt.Bearer(f.adminPAT)...)
		got := decode[adminapi.App](t, r)
		if r.status != 200 || got.Status != apps.StatusActive || len(got.PendingGrants) != 1 {
			t.Fatalf("partial approval: %d %s", r.status, r.body)
		}
		if _, err := f.e.AppToken(app, ""); err == nil {
			t.Fatal("client_credentials worked before it was approved")
		}
		r = f.send(t, "POST", "/admin/apps/"+app.ID+"/approve", `{"grant_types":["client_credentials"]}`, tt.Bearer(f.adminPAT)...)
		if got := decode[adminapi.App](t, r); r.status != 200 || len(got.PendingGrants) != 0 {
			t.Fatalf("grant approval: %d %s", r.status, r.body)
		}
		if _, err := f.e.AppToken(app, ""); err != nil {
			t.Fatalf("approved app's token: %v", err)
		}
		// Disabled through the API, the app obtains nothing.
		if r := f.do(t, "POST", "/admin/apps/"+app.ID+"/disable", f.adminPAT); r.status != 200 {
			t.Fatalf("disable: %d %s", r.status, r.body)
		}
		if _, err := f.e.AppToken(app, ""); err == nil {
			t.Fatal("a disabled app obtained a token")
		}
	})
}

func TestRejectReasonVisible(t *testing.T) {
	f := newFixture(t, tt.OpenSQLite(t))
	app := f.pendingM2M(t, f.userID)
	if r := f.send(t, "POST", "/admin/apps/"+app.ID+"/reject", `{"reason":"   "}`, tt.Bearer(f.adminPAT)...); r.status != 400 {
		t.Fatalf("reject without a reason: %d %s, want 400", r.status, r.body)
	}
	if r := f.send(t, "POST", "/admin/apps/"+app.ID+"/reject", `{"reason":"no privacy policy"}`, tt.Bearer(f.adminPAT)...); r.status != 200 {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	d := decode[adminapi.AppDetail](t, f.do(t, "GET", "/admin/apps/"+app.ID, f.adminPAT))
	if d.Status != apps.StatusRejected || d.ReviewReason != "no privacy policy" || len(d.Secrets) != 1 {
		t.Fatalf("rejected app: %+v", d)
	}
	if _, err := f.e.AppToken(app, ""); !unauthorizedClient(err) {
		t.Fatalf("rejected app's token: %v, want unauthorized_client", err)
	}
	// The developer sees the same reason through the service.
	if a, err := f.apps.Get(f.e.Ctx, apps.UserActor(f.userID, false), app.ID); err != nil || a.ReviewReason != "no privacy policy" {
		t.Fatalf("developer's view: %+v %v", a, err)
	}
}

func TestMintingNeedsPasswordAndSecondFactor(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open(t))
		admin := f.e.CreateUser("otp-admin@example.com", true)
		if err := f.e.Store.SetAdmin(f.e.Ctx, admin.ID, true, f.e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		c, err := f.e.PATs.Create(f.e.Ctx, pat.CreateRequest{UserID: admin.ID, Description: "t", Scopes: []string{scope.Admin}})
		if err != nil {
			t.Fatal(err)
		}
		app := f.pendingM2M(t, f.userID)
		if _, err := f.apps.Approve(f.e.Ctx, apps.AdminActor(admin.ID, false), app.ID, apps.ApproveInput{}); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/rotate-secret", "/keys"} {
			r := f.send(t, "POST", "/admin/apps/"+app.ID+path, "", tt.Bearer(c.Token)...)
			if r.status != 401 || errorCode(r) != "password_required" {
				t.Errorf("%s with the admin PAT alone: %d %s, want 401 password_required", path, r.status, r.body)
			}
			r = f.send(t, "POST", "/admin/apps/"+app.ID+path, "", tt.Basic(admin.Email)...)
			if r.status != 401 || r.header.Get("OTP-Token") != "Required" {
				t.Errorf("%s with the password but no OTP: %d %v %s, want 401 OTP-Token: Required", path, r.status, r.header, r.body)
			}
			// An ordinary user's password is not an administrator's.
			r = f.send(t, "POST", "/admin/apps/"+app.ID+path, "", tt.Basic("user@example.com")...)
			if r.status != 403 || errorCode(r) != "admin_required" {
				t.Errorf("%s with a user's password: %d %s, want 403 admin_required", path, r.status, r.body)
			}
		}
		r := f.send(t, "POST", "/admin/apps/"+app.ID+"/rotate-secret", "", tt.H(tt.Basic(admin.Email), []string{"OTP-Token", f.e.OTP(admin)})...)
		rot := decode[adminapi.RotatedSecret](t, r)
		if r.status != 201 || rot.ClientSecret == "" || rot.SecretID == "" {
			t.Fatalf("rotate with password and OTP: %d %s", r.status, r.body)
		}
		// Both secrets work until the old one is retired.
		old := app.Secret
		for _, s := range []string{old, rot.ClientSecret} {
			app.Secret = s
			if _, err := f.e.AppToken(app, ""); err != nil {
				t.Fatalf("secret after rotation: %v", err)
			}
		}
		d := decode[adminapi.AppDetail](t, f.do(t, "GET", "/admin/apps/"+app.ID, c.Token))
		if len(d.Secrets) != 2 {
			t.Fatalf("secrets after rotation: %+v", d.Secrets)
		}
		var oldID string
		for _, s := range d.Secrets {
			if s.ID != rot.SecretID {
				oldID = s.ID
			}
		}
		if r := f.send(t, "POST", "/admin/apps/"+app.ID+"/retire-secret", `{"secret_id":"`+oldID+`"}`, tt.Bearer(c.Token)...); r.status != 200 {
			t.Fatalf("retire: %d %s", r.status, r.body)
		}
		app.Secret = old
		if _, err := f.e.AppToken(app, ""); err == nil {
			t.Fatal("the retired secret still works")
		}
		r = f.send(t, "POST", "/admin/apps/"+app.ID+"/keys", `{"name":"deploy","scopes":["profile:read"]}`, tt.H(tt.Basic(admin.Email), []string{"OTP-Token", f.e.OTP(admin)})...)
		if k := decode[adminapi.CreatedKey](t, r); r.status != 201 || k.Key == "" || k.Name != "deploy" {
			t.Fatalf("API key with password and OTP: %d %s", r.status, r.body)
		}
		if d := decode[adminapi.AppDetail](t, f.do(t, "GET", "/admin/apps/"+app.ID, c.Token)); len(d.APIKeys) != 1 {
			t.Fatalf("keys in the detail: %+v", d.APIKeys)
		}
	})
}

// checkAppRoutes exercises every app route, success and error, through
// check (TestEveryRouteAnswersAsDocumented).
func checkAppRoutes(t *testing.T, f *fixture, check func(result)) {
	t.Helper()
	app := f.pendingM2M(t, f.e.CreateUser("dev@example.com", false).ID)
	id := "/admin/apps/" + app.ID
	bearer, basic := tt.Bearer(f.adminPAT), tt.Basic("admin@example.com")
	check(f.do(t, "GET", "/admin/apps", f.adminPAT))
	check(f.do(t, "GET", "/admin/apps?status=bogus", f.adminPAT))
	check(f.do(t, "GET", "/admin/apps", ""))
	check(f.do(t, "GET", "/admin/apps", f.userPAT))
	check(f.do(t, "GET", "/admin/review-queue", f.adminPAT))
	check(f.do(t, "GET", "/admin/review-queue", f.userPAT))
	check(f.do(t, "GET", id, f.adminPAT))
	check(f.do(t, "GET", "/admin/apps/nope", f.adminPAT))
	// Token options: a machine-to-machine app has no redirect URI, so no
	// pairwise sector; its format may change.
	if r := f.send(t, "PATCH", id, `{"subject_type":"pairwise"}`, bearer...); r.status != 400 || !strings.Contains(string(r.body), "redirect URI") {
		t.Errorf("pairwise without a redirect URI: %d %s", r.status, r.body)
	} else {
		check(r)
	}
	if r := f.send(t, "PATCH", id, `{"access_token_format":"opaque"}`, bearer...); r.status != 200 || decode[adminapi.App](t, r).AccessTokenFormat != "opaque" {
		t.Errorf("set format: %d %s", r.status, r.body)
	} else {
		check(r)
	}
	if d := decode[adminapi.AppDetail](t, f.do(t, "GET", id, f.adminPAT)); d.AccessTokenFormat != "opaque" || d.SubjectType != "public" {
		t.Errorf("detail after PATCH: format %q subject type %q", d.AccessTokenFormat, d.SubjectType)
	}
	check(f.send(t, "PATCH", id, `{"access_token_format":"paseto"}`, bearer...))
	check(f.send(t, "PATCH", "/admin/apps/nope", `{}`, bearer...))
	check(f.send(t, "POST", id+"/reject", `{}`, bearer...))
	check(f.send(t, "POST", "/admin/apps/nope/reject", `{"reason":"x"}`, bearer...))
	check(f.send(t, "POST", id+"/reject", `{"reason":"incomplete"}`, bearer...))
	check(f.send(t, "POST", id+"/approve", `{"bogus":1}`, bearer...))
	check(f.send(t, "POST", "/admin/apps/nope/approve", "", bearer...))
	check(f.send(t, "POST", id+"/approve", "", bearer...))
	check(f.send(t, "POST", id+"/disable", `{"reason":"abuse"}`, bearer...))
	check(f.send(t, "POST", "/admin/apps/nope/disable", "", bearer...))
	check(f.send(t, "POST", id+"/disable", `[]`, bearer...))
	check(f.send(t, "POST", id+"/enable", "", bearer...))
	check(f.send(t, "POST", "/admin/apps/nope/enable", "", bearer...))
	check(f.send(t, "POST", id+"/rotate-secret", "", bearer...))
	check(f.send(t, "POST", id+"/rotate-secret", "", basic...))
	check(f.send(t, "POST", id+"/rotate-secret", "", basic...)) // two live secrets: 409
	check(f.send(t, "POST", "/admin/apps/nope/rotate-secret", "", basic...))
	check(f.send(t, "POST", id+"/retire-secret", `{}`, bearer...))
	check(f.send(t, "POST", "/admin/apps/nope/retire-secret", `{"secret_id":"x"}`, bearer...))
	d := decode[adminapi.AppDetail](t, f.do(t, "GET", id, f.adminPAT))
	check(f.send(t, "POST", id+"/retire-secret", `{"secret_id":"`+d.Secrets[0].ID+`"}`, bearer...))
	check(f.send(t, "POST", id+"/keys", `{"name":"k"}`, bearer...))
	check(f.send(t, "POST", id+"/keys", `{"name":"k","expires_in":-1}`, basic...))
	check(f.send(t, "POST", id+"/keys", `{"name":"k","scopes":["profile:read"]}`, basic...))
	check(f.send(t, "POST", "/admin/apps/nope/keys", `{"name":"k"}`, basic...))
	check(f.do(t, "DELETE", "/admin/apps/nope", f.adminPAT))
	check(f.do(t, "DELETE", id, f.adminPAT))
	check(f.do(t, "DELETE", id, ""))
}

// TestConcurrentRotationsKeepTwoLiveSecrets: administrators rotating the
// same app's secret at once (through the service the minting route calls;
// over HTTP the password check throttles parallel attempts) never leave it
// with more than two live secrets.
func TestConcurrentRotationsKeepTwoLiveSecrets(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open(t))
		app := f.pendingM2M(t, f.userID)
		const n = 6
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := f.apps.RotateSecret(f.e.Ctx, apps.AdminActor(f.adminID, true), app.ID)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		created := 0
		for err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, apps.ErrTooManySecrets):
			default:
				t.Errorf("concurrent rotation: %v", err)
			}
		}
		d := decode[adminapi.AppDetail](t, f.do(t, "GET", "/admin/apps/"+app.ID, f.adminPAT))
		if created != 1 || len(d.Secrets) != 2 {
			t.Fatalf("%d rotations succeeded, %d secrets stored; want 1 and 2", created, len(d.Secrets))
		}
	})
}

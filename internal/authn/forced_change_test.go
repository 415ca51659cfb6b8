package authn_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// An administrator's forced password change stops HTTP Basic until the user
// picks a new password; a wrong password still gets the usual 401.
func TestForcedPasswordChangeRefusesBasic(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("forced@example.com", false)
		if res := e.Do("GET", "/v0/me/tokens", "", tt.Basic(u.Email)...); res.Status != 200 {
			t.Fatalf("before: %d %s", res.Status, res.Body)
		}
		if _, err := e.Identity.Admin().ForcePasswordChange(e.Ctx, "test", u.ID); err != nil {
			t.Fatal(err)
		}
		res := e.Do("GET", "/v0/me/tokens", "", tt.Basic(u.Email)...)
		if res.Status != 403 || res.Error() != "password_change_required" {
			t.Fatalf("forced: %d %s, want 403 password_change_required", res.Status, res.Body)
		}
		if res := e.Do("GET", "/v0/me/tokens", "", "Authorization", "Basic Zm9yY2VkQGV4YW1wbGUuY29tOndyb25n"); res.Status != 401 {
			t.Fatalf("wrong password while forced: %d %s, want 401", res.Status, res.Body)
		}
		// Changing the password lifts the requirement.
		const next = "a brand new quiet harbour at dawn"
		if err := e.Identity.ChangePassword(e.Ctx, u.ID, tt.Password, next, "203.0.113.9"); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u.Email, next)
		if res := e.Do("GET", "/v0/me/tokens", "", "Authorization", req.Header.Get("Authorization")); res.Status != 200 {
			t.Fatalf("after change: %d %s", res.Status, res.Body)
		}
	})
}

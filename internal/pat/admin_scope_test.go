package pat_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// Only an administrator's PAT may carry the admin scope, and it is never in
// the default set.
func TestAdminScopeOnlyForAdministrators(t *testing.T) {
	if slices.Contains(pat.AllowedScopes(scope.Builtin()), scope.Admin) {
		t.Fatal("the default PAT scopes include admin")
	}
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		user := e.CreateUser("user@example.com", false)
		admin := e.CreateAdmin("admin@example.com")
		for _, c := range []struct {
			name   string
			userID string
			scopes []string
			ok     bool
		}{
			{"user asks admin", user.ID, []string{scope.Admin}, false},
			{"user asks admin among others", user.ID, []string{scope.ProfileRead, scope.Admin}, false},
			{"administrator asks admin", admin.ID, []string{scope.Admin}, true},
			{"administrator default set", admin.ID, nil, true},
		} {
			got, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: c.userID, Description: c.name, Scopes: c.scopes})
			var ie *pat.InvalidError
			switch {
			case c.ok && err != nil:
				t.Errorf("%s: %v", c.name, err)
			case !c.ok && (!errors.As(err, &ie) || ie.Field != "scopes"):
				t.Errorf("%s: err = %v, want a scopes InvalidError", c.name, err)
			case c.ok && c.scopes == nil && slices.Contains(got.PAT.Scopes, scope.Admin):
				t.Errorf("%s: default set carries admin", c.name)
			}
		}
	})
}

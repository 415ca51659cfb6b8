package oauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/scope"
)

func TestCheckScopes(t *testing.T) {
	cat := scope.Builtin()
	allowed := []string{scope.ProfileRead, scope.TokensRead}
	if err := checkScopes(cat, []string{scope.ProfileRead}, allowed); err != nil {
		t.Errorf("allowed scope: %v", err)
	}
	if err := checkScopes(cat, nil, allowed); err != nil {
		t.Errorf("no scope: %v", err)
	}
	for _, bad := range [][]string{{"admin"}, {scope.TokensRevoke}, {"tokens:write"}, {scope.ProfileRead, "Profile:Read"}} {
		err := checkScopes(cat, bad, allowed)
		if err == nil || err.Code != CodeInvalidScope {
			t.Errorf("checkScopes(%q) = %v, want invalid_scope", bad, err)
		}
	}
}

// TestCheckDelegable: every scope the catalog keeps from delegation is refused
// with invalid_scope, built-in or the operator's.
func TestCheckDelegable(t *testing.T) {
	cat := testCatalog(t)
	for _, s := range cat.All() {
		err := checkDelegable(cat, []string{scope.ProfileRead, s.Name})
		if s.Delegate && err != nil {
			t.Errorf("checkDelegable(%q) = %v", s.Name, err)
		}
		if !s.Delegate && (err == nil || err.Code != CodeInvalidScope) {
			t.Errorf("checkDelegable(%q) = %v, want invalid_scope", s.Name, err)
		}
	}
}

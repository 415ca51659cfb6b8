package oauth

import (
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"profile:read", []string{"profile:read"}, true},
		{"profile:read tokens:read", []string{"profile:read", "tokens:read"}, true},
		{"  profile:read   tokens:read ", []string{"profile:read", "tokens:read"}, true},
		{"profile:read profile:read", []string{"profile:read"}, true},
		{"tokens:read profile:read", []string{"tokens:read", "profile:read"}, true},
		{"Profile:Read", []string{"Profile:Read"}, true}, // case-sensitive: parsed, then unknown
		{"a\"b", nil, false}, // %x22 is outside scope-token
		{"a\\b", nil, false}, // %x5C too
		{"a\tb", nil, false},
		{"a\nb", nil, false},
		{"é", nil, false},
		{"a,b", []string{"a,b"}, true},
		{strings.Repeat("a ", maxScopeTokens+1), []string{"a"}, true},
		{strings.Repeat("x", maxScopeParam+1), nil, false},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseScope(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !slices.Equal(got, tt.want) {
			t.Errorf("ParseScope(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var many []string
	for i := range maxScopeTokens + 1 {
		many = append(many, "s"+strings.Repeat("x", i))
	}
	if _, err := ParseScope(strings.Join(many, " ")); err == nil {
		t.Error("too many distinct scopes accepted")
	}
}

func TestCheckScopes(t *testing.T) {
	allowed := []string{ScopeProfileRead, ScopeTokensRead}
	if err := CheckScopes([]string{ScopeProfileRead}, allowed); err != nil {
		t.Errorf("allowed scope: %v", err)
	}
	if err := CheckScopes(nil, allowed); err != nil {
		t.Errorf("no scope: %v", err)
	}
	for _, bad := range [][]string{{"admin"}, {ScopeTokensRevoke}, {"tokens:write"}, {ScopeProfileRead, "Profile:Read"}} {
		err := CheckScopes(bad, allowed)
		if err == nil || err.Code != CodeInvalidScope {
			t.Errorf("CheckScopes(%q) = %v, want invalid_scope", bad, err)
		}
	}
}

func TestScopeCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scopes() {
		if seen[s.Name] {
			t.Errorf("duplicate scope %q", s.Name)
		}
		seen[s.Name] = true
		if s.Description == "" {
			t.Errorf("scope %q has no description for the consent page", s.Name)
		}
		if got, err := ParseScope(s.Name); err != nil || len(got) != 1 {
			t.Errorf("catalog scope %q is not a valid scope-token", s.Name)
		}
	}
	for _, s := range []string{ScopeProfileRead, ScopeTokensRead, ScopeTokensRevoke, ScopeKeysRead, ScopeKeysRevoke} {
		if !seen[s] {
			t.Errorf("catalog misses %q", s)
		}
	}
	if !ScopeSubset([]string{"a"}, []string{"b", "a"}) || ScopeSubset([]string{"a", "c"}, []string{"a"}) {
		t.Error("ScopeSubset")
	}
	if got := ScopeUnion([]string{"a", "b"}, []string{"b", "c"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("ScopeUnion = %q", got)
	}
	if d := DescribeScopes([]string{ScopeTokensRead, "nope", ScopeProfileRead}); len(d) != 2 || d[0].Name != ScopeProfileRead {
		t.Errorf("DescribeScopes = %+v", d)
	}
}

// TestCredentialScopesNeverDelegated: a scope that manages credentials (any
// scope but the read-only profile and token-list ones) is never delegable, and
// CheckDelegable refuses it with invalid_scope; the old tokens:write is gone.
func TestCredentialScopesNeverDelegated(t *testing.T) {
	delegated := map[string]bool{ScopeProfileRead: true, ScopeTokensRead: true}
	for _, s := range Scopes() {
		if s.Delegate != delegated[s.Name] {
			t.Errorf("scope %q: Delegate = %v, want %v", s.Name, s.Delegate, delegated[s.Name])
		}
		err := CheckDelegable([]string{ScopeProfileRead, s.Name})
		if s.Delegate && err != nil {
			t.Errorf("CheckDelegable(%q) = %v", s.Name, err)
		}
		if !s.Delegate && (err == nil || err.Code != CodeInvalidScope) {
			t.Errorf("CheckDelegable(%q) = %v, want invalid_scope", s.Name, err)
		}
		if !s.PAT && !s.App && !s.Delegate {
			t.Errorf("scope %q can be carried by no credential", s.Name)
		}
	}
	if _, ok := LookupScope("tokens:write"); ok {
		t.Error("tokens:write is still in the catalog")
	}
	if got := delegable([]string{ScopeKeysRevoke, ScopeTokensRead, "nope", ScopeTokensRevoke}); !slices.Equal(got, []string{ScopeTokensRead}) {
		t.Errorf("delegable = %q", got)
	}
}

func FuzzParseScope(f *testing.F) {
	f.Add("profile:read tokens:read")
	f.Add("  a  b ")
	f.Add("a\"b")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseScope(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tok := range got {
			if tok == "" || strings.ContainsAny(tok, " \"\\") || seen[tok] {
				t.Fatalf("ParseScope(%q) produced bad token %q", s, tok)
			}
			seen[tok] = true
		}
		again, err := ParseScope(FormatScope(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %q, %v", s, again, err)
		}
	})
}

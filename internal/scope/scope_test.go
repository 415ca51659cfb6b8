package scope

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
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
		{strings.Repeat("a ", maxTokens+1), []string{"a"}, true},
		{strings.Repeat("x", maxParam+1), nil, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("Parse(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var many []string
	for i := range maxTokens + 1 {
		many = append(many, "s"+strings.Repeat("x", i))
	}
	if _, err := Parse(strings.Join(many, " ")); err == nil {
		t.Error("too many distinct scopes accepted")
	}
}

func TestScopeCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Builtin().All() {
		if seen[s.Name] {
			t.Errorf("duplicate scope %q", s.Name)
		}
		seen[s.Name] = true
		if s.Description == "" {
			t.Errorf("scope %q has no description for the consent page", s.Name)
		}
		if got, err := Parse(s.Name); err != nil || len(got) != 1 {
			t.Errorf("catalog scope %q is not a valid scope-token", s.Name)
		}
	}
	for _, s := range []string{ProfileRead, TokensRead, TokensRevoke, KeysRead, KeysRevoke} {
		if !seen[s] {
			t.Errorf("catalog misses %q", s)
		}
	}
	if !Subset([]string{"a"}, []string{"b", "a"}) || Subset([]string{"a", "c"}, []string{"a"}) {
		t.Error("ScopeSubset")
	}
	if got := Union([]string{"a", "b"}, []string{"b", "c"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("ScopeUnion = %q", got)
	}
	if d := Builtin().Describe([]string{TokensRead, "nope", ProfileRead}); len(d) != 2 || d[0].Name != ProfileRead {
		t.Errorf("DescribeScopes = %+v", d)
	}
}

// TestCredentialScopesNeverDelegated: a scope that manages credentials (any
// scope but the read-only profile and token-list ones, and the OpenID Connect
// scopes) is never delegable;
// the old tokens:write is gone.
func TestCredentialScopesNeverDelegated(t *testing.T) {
	delegated := map[string]bool{ProfileRead: true, TokensRead: true, OpenID: true, Profile: true, Email: true, OfflineAccess: true}
	for _, s := range Builtin().All() {
		if s.Delegate != delegated[s.Name] {
			t.Errorf("scope %q: Delegate = %v, want %v", s.Name, s.Delegate, delegated[s.Name])
		}
		if !s.PAT && !s.App && !s.Delegate {
			t.Errorf("scope %q can be carried by no credential", s.Name)
		}
	}
	if _, ok := Builtin().Lookup("tokens:write"); ok {
		t.Error("tokens:write is still in the catalog")
	}
	if got := Builtin().Delegable([]string{KeysRevoke, TokensRead, "nope", TokensRevoke}); !slices.Equal(got, []string{TokensRead}) {
		t.Errorf("delegable = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("profile:read tokens:read")
	f.Add("  a  b ")
	f.Add("a\"b")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tok := range got {
			if tok == "" || strings.ContainsAny(tok, " \"\\") || seen[tok] {
				t.Fatalf("Parse(%q) produced bad token %q", s, tok)
			}
			seen[tok] = true
		}
		again, err := Parse(Format(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %q, %v", s, again, err)
		}
	})
}

package oauth

import (
	"errors"
	"fmt"
	"strings"
)

// Scope is one entry of Gatehouse's scope catalog: the name clients request,
// the words the consent page shows, and which kinds of credential may carry it.
type Scope struct {
	Name string
	// Description says in plain words exactly what the scope allows. It
	// completes "<App> wants to …" on the consent page (delegable scopes
	// only), labels the scope on the personal-access-token form and lists
	// the permission on the authorized-apps page.
	Description string
	// PAT: a personal access token may carry this scope.
	PAT bool
	// App: an app-level credential (client_credentials token, API key), which
	// acts as the client's owner, may carry this scope.
	App bool
	// Delegate: a third-party app may be granted this scope by a user
	// through the authorization endpoint (authorization code or implicit
	// flow), and so on the consent page. False for every scope that manages
	// credentials: a third-party app never manages a user's credentials, and
	// the authorization and token endpoints answer invalid_scope.
	Delegate bool
}

// The platform API scopes.
const (
	ScopeProfileRead  = "profile:read"
	ScopeTokensRead   = "tokens:read"
	ScopeTokensRevoke = "tokens:revoke"
	ScopeKeysRead     = "keys:read"
	ScopeKeysRevoke   = "keys:revoke"
)

// scopeCatalog is THE scope catalog: every scope any Gatehouse credential can
// carry is listed here, once. It is never modified at run time. Add a scope
// here (and nowhere else) when the platform API grows.
//
// No scope lets a credential create a credential: creating a personal access
// token or an API key needs the account owner in person (authn.InPerson), so
// there is nothing to grant.
var scopeCatalog = [...]Scope{
	{Name: ScopeProfileRead, Description: "See your name, email address and account details", PAT: true, App: true, Delegate: true},
	{Name: ScopeTokensRead, Description: "See the list of your personal access tokens (never the tokens themselves)", PAT: true, App: true, Delegate: true},
	{Name: ScopeTokensRevoke, Description: "Revoke your personal access tokens", PAT: true, App: true},
	{Name: ScopeKeysRead, Description: "See the list of your apps' API keys (never the keys themselves)", PAT: true, App: true},
	{Name: ScopeKeysRevoke, Description: "Revoke your apps' API keys", PAT: true, App: true},
}

// Scopes returns the catalog in display order.
func Scopes() []Scope {
	out := make([]Scope, len(scopeCatalog))
	copy(out, scopeCatalog[:])
	return out
}

// LookupScope returns the catalog entry for name.
func LookupScope(name string) (Scope, bool) {
	for _, s := range scopeCatalog {
		if s.Name == name {
			return s, true
		}
	}
	return Scope{}, false
}

// ScopeNames returns the names of the whole catalog (metadata's
// scopes_supported).
func ScopeNames() []string {
	out := make([]string, len(scopeCatalog))
	for i, s := range scopeCatalog {
		out[i] = s.Name
	}
	return out
}

// Limits on a scope parameter, so a hostile request cannot make us allocate.
const (
	maxScopeParam  = 2048
	maxScopeTokens = 64
)

// ParseScope splits a scope parameter into its tokens, in order and without
// duplicates. RFC 6749 §3.3: "The value of the scope parameter is expressed as
// a list of space-delimited, case-sensitive strings. ... If the value contains
// multiple space-delimited strings, their order does not matter", with the
// grammar scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). Runs of spaces are
// tolerated; any other character outside the grammar is refused.
func ParseScope(s string) ([]string, error) {
	if len(s) > maxScopeParam {
		return nil, errors.New("scope parameter is too long")
	}
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
				return nil, fmt.Errorf("scope %q contains a character not allowed by RFC 6749 §3.3", sanitizeDescription(tok))
			}
		}
		if !containsString(out, tok) {
			if len(out) == maxScopeTokens {
				return nil, errors.New("too many scopes")
			}
			out = append(out, tok)
		}
	}
	return out, nil
}

// FormatScope joins scopes for a scope parameter or response field.
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }

// CheckScopes verifies that every requested scope is in the catalog and
// allowed for the client; the error is invalid_scope: "The requested scope is
// invalid, unknown, malformed, or exceeds the scope granted by the resource
// owner." (RFC 6749 §5.2).
func CheckScopes(requested, clientAllowed []string) *Error {
	for _, s := range requested {
		if _, ok := LookupScope(s); !ok {
			return ErrInvalidScope("unknown scope %q", s)
		}
		if !containsString(clientAllowed, s) {
			return ErrInvalidScope("scope %q is not allowed for this client", s)
		}
	}
	return nil
}

// CheckDelegable refuses scopes that a third-party app may never be granted
// (Scope.Delegate false) with invalid_scope — RFC 6749 §5.2: "The requested
// scope is invalid, unknown, malformed, or exceeds the scope granted by the
// resource owner." Unknown scopes are CheckScopes' to report.
func CheckDelegable(requested []string) *Error {
	for _, s := range requested {
		if sc, ok := LookupScope(s); ok && !sc.Delegate {
			return ErrInvalidScope("scope %q manages credentials and can never be granted to an app by a user; use a personal access token", s)
		}
	}
	return nil
}

// delegable returns the scopes of names that a third-party app may hold, in
// the order given.
func delegable(names []string) []string {
	var out []string
	for _, n := range names {
		if sc, ok := LookupScope(n); ok && sc.Delegate {
			out = append(out, n)
		}
	}
	return out
}

// ValidateClientScopes checks the scopes a client is registered with.
func ValidateClientScopes(scopes []string) error {
	for _, s := range scopes {
		if _, ok := LookupScope(s); !ok {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(ScopeNames(), ", "))
		}
	}
	return nil
}

// ScopeSubset reports whether every scope of sub is in super.
func ScopeSubset(sub, super []string) bool {
	for _, s := range sub {
		if !containsString(super, s) {
			return false
		}
	}
	return true
}

// ScopeUnion returns a's scopes followed by those of b not in a.
func ScopeUnion(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if !containsString(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// DescribeScopes returns the catalog entries of names, in catalog order
// (unknown names are skipped).
func DescribeScopes(names []string) []Scope {
	var out []Scope
	for _, s := range scopeCatalog {
		if containsString(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

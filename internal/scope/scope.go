// Package scope owns THE scope catalog — Gatehouse's built-in scopes plus the
// scopes the operator's API declares in the configuration file — and every
// view of it: lookup, the names metadata advertises, the grouped list the
// consent page shows, which credential kinds may carry a scope, and parsing
// of scope parameters. No other package keeps a list of scopes.
//
// A Catalog is immutable once built. The running one is held by a Holder
// behind an atomic pointer, so a reload (SIGHUP) swaps it for every service
// at once without locks on the hot path.
package scope

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Gatehouse's own (built-in) scopes: its platform API.
const (
	ProfileRead  = "profile:read"
	TokensRead   = "tokens:read"
	TokensRevoke = "tokens:revoke"
	KeysRead     = "keys:read"
	KeysRevoke   = "keys:revoke"
	// Admin lets a personal access token use the admin API (/admin). Only
	// an administrator's PAT may carry it, and it is re-checked on every
	// use: the token stops working for /admin when its owner stops being an
	// administrator. No app, delegated or not, can ever hold it.
	Admin = "admin"
)

// OpenID Connect scopes (OpenID Connect Core 1.0 §3.1.2.1, §5.4, §11).
const (
	OpenID        = "openid"
	Profile       = "profile"
	Email         = "email"
	OfflineAccess = "offline_access"
)

// Carrier is a kind of credential that may carry a scope.
type Carrier string

// The carriers, as named in the configuration file's `carriers:` lists.
const (
	// Delegated: a third-party app acting for a user who consented
	// (authorization code or implicit flow, and their refresh tokens).
	Delegated Carrier = "delegated"
	// PAT: a personal access token.
	PAT Carrier = "pat"
	// App: an app-level credential (client_credentials token, API key),
	// which acts as the client's owner.
	App Carrier = "app"
)

// Carriers lists every carrier.
func Carriers() []Carrier { return []Carrier{Delegated, PAT, App} }

// BuiltinGroup heads Gatehouse's own scopes on the consent page.
const BuiltinGroup = "Your account"

// DefaultGroup heads operator scopes declared without a group.
const DefaultGroup = "Other"

// Scope is one entry of the catalog.
type Scope struct {
	Name string
	// Description says in plain words exactly what the scope allows. It
	// completes "<App> will be able to: …" on the consent page, labels the
	// scope on the personal-access-token form and lists the permission on
	// the authorized-apps page.
	Description string
	// Group heads the scope's section on the consent page.
	Group string
	// PAT: a personal access token may carry this scope.
	PAT bool
	// App: an app-level credential (client_credentials token, API key) may
	// carry this scope.
	App bool
	// Delegate: a third-party app may be granted this scope by a user
	// through the authorization endpoint, and so on the consent page. False
	// for every scope that manages credentials: a third-party app never
	// manages a user's credentials.
	Delegate bool
	// Sensitive scopes are shown first and marked on the consent page, and
	// until app review exists only an administrator may register a client
	// with one.
	Sensitive bool
	// AdminOnly scopes may be carried only by an administrator's
	// credential, and are never part of a default set.
	AdminOnly bool
	// BuiltIn marks Gatehouse's own scopes, which configuration cannot
	// redefine.
	BuiltIn bool
}

// Carries reports whether credentials of kind c may carry the scope.
func (s Scope) Carries(c Carrier) bool {
	switch c {
	case Delegated:
		return s.Delegate
	case PAT:
		return s.PAT
	case App:
		return s.App
	}
	return false
}

// builtins returns Gatehouse's own scopes, in display order. No scope lets a
// credential create a credential: creating a personal access token or an API
// key needs the account owner in person (authn.InPerson), so there is nothing
// to grant.
func builtins() []Scope {
	b := func(name, desc string, delegate bool) Scope {
		return Scope{Name: name, Description: desc, Group: BuiltinGroup, PAT: true, App: true, Delegate: delegate, BuiltIn: true}
	}
	oidc := func(name, desc string) Scope {
		return Scope{Name: name, Description: desc, Group: BuiltinGroup, Delegate: true, BuiltIn: true}
	}
	return []Scope{
		b(ProfileRead, "See your name, email address and account details", true),
		b(TokensRead, "See the list of your personal access tokens (never the tokens themselves)", true),
		b(TokensRevoke, "Revoke your personal access tokens", false),
		b(KeysRead, "See the list of your apps' API keys (never the keys themselves)", false),
		b(KeysRevoke, "Revoke your apps' API keys", false),
		// OpenID Connect scopes only make sense in a user's sign-in with a
		// third-party app: no PAT or app credential carries them.
		oidc(OpenID, "Sign you in with your account (know who you are)"),
		oidc(Profile, "See your name"),
		oidc(Email, "See your email address"),
		oidc(OfflineAccess, "Keep access while you are not using it (stay signed in)"),
		// Not delegable and not an app scope: a third-party app can never
		// request it (the authorization and token endpoints only grant
		// delegable scopes), and no app credential carries it.
		{Name: Admin, Description: "Administer Gatehouse: review apps and manage every user's account", Group: BuiltinGroup,
			PAT: true, AdminOnly: true, Sensitive: true, BuiltIn: true},
	}
}

// Limits on operator-declared scopes.
const (
	MaxNameLen        = 128
	MaxDescriptionLen = 200
	MaxGroupLen       = 60
	MaxOperatorScopes = 500
)

// Catalog is an immutable scope catalog: the built-in scopes followed by the
// operator's, in declaration order.
type Catalog struct {
	list  []Scope
	index map[string]int
}

func build(list []Scope) *Catalog {
	c := &Catalog{list: list, index: make(map[string]int, len(list))}
	for i, s := range list {
		c.index[s.Name] = i
	}
	return c
}

// Builtin returns the catalog of Gatehouse's own scopes only (no
// configuration).
func Builtin() *Catalog { return build(builtins()) }

// New builds the catalog from the operator's declarations. It checks every
// entry and returns every problem at once (joined), so `serve` can refuse to
// start with the whole list.
func New(specs []config.ScopeSpec) (*Catalog, error) {
	list := builtins()
	builtin := map[string]bool{}
	for _, s := range list {
		builtin[s.Name] = true
	}
	var errs []error
	if len(specs) > MaxOperatorScopes {
		errs = append(errs, fmt.Errorf("scopes: at most %d scopes may be declared", MaxOperatorScopes))
	}
	seen := map[string]bool{}
	for i, sp := range specs {
		where := fmt.Sprintf("scopes[%d]", i)
		if sp.Name != "" {
			where += fmt.Sprintf(" (%q)", printable(sp.Name))
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		ok := true
		switch {
		case sp.Name == "":
			bad("a name is required")
			ok = false
		case len(sp.Name) > MaxNameLen:
			bad("the name is longer than %d bytes", MaxNameLen)
			ok = false
		case !validToken(sp.Name):
			// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			bad("the name is not an RFC 6749 §3.3 scope-token (printable ASCII without space, '\"' or '\\')")
			ok = false
		case builtin[sp.Name]:
			bad("%q is one of Gatehouse's built-in scopes and cannot be redefined", sp.Name)
			ok = false
		case seen[sp.Name]:
			bad("%q is declared twice", sp.Name)
			ok = false
		}
		if sp.Name != "" {
			seen[sp.Name] = true
		}
		desc := strings.TrimSpace(sp.Description)
		if msg := textProblem(desc, MaxDescriptionLen); desc == "" {
			bad("a description is required: it is the sentence the consent page shows")
			ok = false
		} else if msg != "" {
			bad("description %s", msg)
			ok = false
		}
		group := strings.TrimSpace(sp.Group)
		if msg := textProblem(group, MaxGroupLen); msg != "" {
			bad("group %s", msg)
			ok = false
		}
		if group == "" {
			group = DefaultGroup
		}
		sc := Scope{Name: sp.Name, Description: desc, Group: group, Sensitive: sp.Sensitive}
		carriers := sp.Carriers
		if len(carriers) == 0 {
			carriers = []string{string(Delegated), string(PAT), string(App)}
		}
		seenCarrier := map[string]bool{}
		for _, c := range carriers {
			if seenCarrier[c] {
				bad("carrier %q is listed twice", c)
				ok = false
			}
			seenCarrier[c] = true
			switch Carrier(c) {
			case Delegated:
				sc.Delegate = true
			case PAT:
				sc.PAT = true
			case App:
				sc.App = true
			default:
				bad("unknown carrier %q (known: delegated, pat, app)", c)
				ok = false
			}
		}
		if ok {
			list = append(list, sc)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return build(list), nil
}

// textProblem says what is wrong with a display text ("" when nothing).
func textProblem(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// Lookup returns the catalog entry for name.
func (c *Catalog) Lookup(name string) (Scope, bool) {
	i, ok := c.index[name]
	if !ok {
		return Scope{}, false
	}
	return c.list[i], true
}

// All returns the catalog in display order.
func (c *Catalog) All() []Scope { return slices.Clone(c.list) }

// Names returns the name of every scope (RFC 8414 scopes_supported).
func (c *Catalog) Names() []string {
	out := make([]string, len(c.list))
	for i, s := range c.list {
		out[i] = s.Name
	}
	return out
}

// For returns the scopes credentials of kind k may carry, in catalog order.
func (c *Catalog) For(k Carrier) []Scope {
	var out []Scope
	for _, s := range c.list {
		if s.Carries(k) {
			out = append(out, s)
		}
	}
	return out
}

// NamesFor returns the names of For(k).
func (c *Catalog) NamesFor(k Carrier) []string {
	var out []string
	for _, s := range c.list {
		if s.Carries(k) {
			out = append(out, s.Name)
		}
	}
	return out
}

// AppScopes returns the scopes an app-level credential of a client
// registered with the given scopes may carry, in catalog order.
func (c *Catalog) AppScopes(registered []string) []string {
	var out []string
	for _, s := range c.list {
		if s.App && slices.Contains(registered, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// Carried returns the names a credential of kind k holding names carries now:
// those still in the catalog that k may carry, in the given order. A scope
// the operator removed (or no longer lets k carry) is dropped, so a
// credential issued with it stops carrying it without being reissued. The
// result is never nil.
func (c *Catalog) Carried(k Carrier, names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if i, ok := c.index[n]; ok && c.list[i].Carries(k) {
			out = append(out, n)
		}
	}
	return out
}

// Delegable returns the names a third-party app may hold, in the order
// given.
func (c *Catalog) Delegable(names []string) []string { return c.Carried(Delegated, names) }

// Describe returns the catalog entries of names, in catalog order (unknown
// names are skipped).
func (c *Catalog) Describe(names []string) []Scope {
	var out []Scope
	for _, s := range c.list {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// Group is one heading of the consent page and the scopes under it.
type Group struct {
	Name   string
	Scopes []Scope
	// Sensitive: at least one scope of the group is sensitive.
	Sensitive bool
}

// Groups arranges the entries of names for the consent page: by group, in
// the order groups first appear in the catalog, except that groups holding a
// sensitive scope come first; within a group, sensitive scopes come first.
// What a user is most at risk of granting is what they read first.
func (c *Catalog) Groups(names []string) []Group {
	var groups []Group
	at := map[string]int{}
	for _, s := range c.Describe(names) {
		i, ok := at[s.Group]
		if !ok {
			i = len(groups)
			at[s.Group] = i
			groups = append(groups, Group{Name: s.Group})
		}
		groups[i].Scopes = append(groups[i].Scopes, s)
		groups[i].Sensitive = groups[i].Sensitive || s.Sensitive
	}
	for i := range groups {
		slices.SortStableFunc(groups[i].Scopes, func(a, b Scope) int { return sensitiveFirst(a.Sensitive, b.Sensitive) })
	}
	slices.SortStableFunc(groups, func(a, b Group) int { return sensitiveFirst(a.Sensitive, b.Sensitive) })
	return groups
}

func sensitiveFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// Sensitive returns the names among names that are sensitive.
func (c *Catalog) Sensitive(names []string) []string {
	var out []string
	for _, n := range names {
		if s, ok := c.Lookup(n); ok && s.Sensitive {
			out = append(out, n)
		}
	}
	return out
}

// Holder holds the running catalog. Services keep the Holder and read the
// catalog per request, so a reload reaches all of them at once.
type Holder struct{ p atomic.Pointer[Catalog] }

// NewHolder holds c (nil: the built-in catalog).
func NewHolder(c *Catalog) *Holder {
	h := &Holder{}
	h.Store(c)
	return h
}

// Load returns the current catalog. A nil Holder holds the built-in catalog,
// so tests and tools that never configure scopes need not build one.
func (h *Holder) Load() *Catalog {
	if h == nil {
		return Builtin()
	}
	return h.p.Load()
}

// Store swaps in c (nil: the built-in catalog).
func (h *Holder) Store(c *Catalog) {
	if c == nil {
		c = Builtin()
	}
	h.p.Store(c)
}

// Limits on a scope parameter, so a hostile request cannot make us allocate.
const (
	maxParam  = 2048
	maxTokens = 64
)

// Parse splits a scope parameter into its tokens, in order and without
// duplicates. RFC 6749 §3.3: "The value of the scope parameter is expressed as
// a list of space-delimited, case-sensitive strings. ... If the value contains
// multiple space-delimited strings, their order does not matter", with the
// grammar scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). Runs of spaces are
// tolerated; any other character outside the grammar is refused.
func Parse(s string) ([]string, error) {
	if len(s) > maxParam {
		return nil, errors.New("scope parameter is too long")
	}
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if !validToken(tok) {
			return nil, fmt.Errorf("scope %q contains a character not allowed by RFC 6749 §3.3", printable(tok))
		}
		if !slices.Contains(out, tok) {
			if len(out) == maxTokens {
				return nil, errors.New("too many scopes")
			}
			out = append(out, tok)
		}
	}
	return out, nil
}

// validToken reports whether tok is an RFC 6749 §3.3 scope-token.
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
			return false
		}
	}
	return true
}

// printable makes attacker-chosen text safe to put in an error description
// (RFC 6749 §5.2 limits error_description to %x20-21 / %x23-5B / %x5D-7E).
func printable(s string) string {
	const max = 64
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Format joins scopes for a scope parameter or response field.
func Format(scopes []string) string { return strings.Join(scopes, " ") }

// Subset reports whether every scope of sub is in super.
func Subset(sub, super []string) bool {
	for _, s := range sub {
		if !slices.Contains(super, s) {
			return false
		}
	}
	return true
}

// Union returns a's scopes followed by those of b not in a.
func Union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Rule is one compiled route rule.
type Rule struct {
	// Index is the rule's position in gateway_routes (0-based).
	Index int
	// Method is the HTTP method, "" for any. A GET rule also matches HEAD,
	// as http.ServeMux does.
	Method string
	// Path is the ServeMux path pattern.
	Path string
	// Scopes must all be carried by the credential; none means any
	// authenticated principal.
	Scopes []string
	// ScopeParam is Scopes space-separated, as RFC 6750's scope attribute
	// wants it; computed once.
	ScopeParam string
	// Public routes need no credential at all.
	Public bool

	mux *http.ServeMux // holds only this rule's pattern
}

// ruleHandler is registered in each rule's mux. Matching asks the mux which
// handler it would run: only this type means "the rule matches". The mux's
// other answers — a redirect to the cleaned path or to the path with a
// trailing slash, 404, 405 — are no match, so a path the upstream might
// read differently (/a/../b, //b, /dir without its slash) never matches a
// rule and falls to the default deny.
type ruleHandler struct{}

func (ruleHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Rules are the gateway's route rules, in order: the first that matches
// decides.
type Rules struct {
	rules []Rule
}

// Compile validates every rule and reports every problem at once, so an
// operator fixes the file in one go. knownScope says whether a scope name
// exists in the catalog; knownAPI whether an API identifier is declared (a
// rule's api field is checked against it when set).
func Compile(specs []config.RouteSpec, knownScope func(string) bool, knownAPI func(string) bool) (*Rules, error) {
	var errs []error
	rs := &Rules{}
	seen := map[string]int{}
	for i, s := range specs {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("gateway_routes[%d] (%s %s): %s", i, displayMethod(s.Method), s.Path, fmt.Sprintf(format, args...)))
		}
		method := strings.TrimSpace(s.Method)
		if method == "*" {
			method = ""
		}
		if method != "" && !isToken(method) {
			bad("method %q is not an HTTP method (use GET, POST, …, or * for any)", s.Method)
			continue
		}
		if method != strings.ToUpper(method) {
			bad("method %q must be upper case (HTTP methods are case-sensitive)", s.Method)
			continue
		}
		if !strings.HasPrefix(s.Path, "/") {
			bad("path must start with /")
			continue
		}
		if strings.ContainsAny(s.Path, " \t?#") {
			bad("path must not contain spaces, ? or #: it is matched against the path only")
			continue
		}
		if s.Public && len(s.Scopes) > 0 {
			bad("a public route cannot require scopes: remove public or scopes")
		}
		for _, sc := range s.Scopes {
			if !knownScope(sc) {
				bad("unknown scope %q", sc)
			}
		}
		if s.API != "" && (knownAPI == nil || !knownAPI(s.API)) {
			bad("api %q is not declared under apis", s.API)
		}
		pattern := s.Path
		if method != "" {
			pattern = method + " " + s.Path
		}
		mux, err := muxFor(pattern)
		if err != nil {
			bad("invalid path pattern: %v", err)
			continue
		}
		if j, dup := seen[pattern]; dup {
			bad("same method and path as gateway_routes[%d], which always matches first", j)
			continue
		}
		seen[pattern] = i
		rs.rules = append(rs.rules, Rule{
			Index: i, Method: method, Path: s.Path, Public: s.Public,
			Scopes: s.Scopes, ScopeParam: strings.Join(s.Scopes, " "), mux: mux,
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// muxFor builds a ServeMux holding only pattern. ServeMux panics on a bad
// pattern; that becomes an error here.
func muxFor(pattern string) (mux *http.ServeMux, err error) {
	defer func() {
		if r := recover(); r != nil {
			mux, err = nil, fmt.Errorf("%v", r)
		}
	}()
	mux = http.NewServeMux()
	mux.Handle(pattern, ruleHandler{})
	return mux, nil
}

// Match returns the first rule matching method and the request's path, or
// nil. r must carry the original request's method and URL.
func (rs *Rules) Match(r *http.Request) *Rule {
	for i := range rs.rules {
		if h, _ := rs.rules[i].mux.Handler(r); h == (ruleHandler{}) {
			return &rs.rules[i]
		}
	}
	return nil
}

// Len is the number of rules.
func (rs *Rules) Len() int { return len(rs.rules) }

func displayMethod(m string) string {
	if m == "" || m == "*" {
		return "*"
	}
	return m
}

// isToken reports whether s is an RFC 9110 token (what a method is).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

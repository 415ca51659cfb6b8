// Package authn decides who an API request acts for. It reads the
// Authorization header — HTTP Basic email:password (with the OTP-Token header
// for accounts with two-factor, seed 004) or a Bearer token dispatched by its
// credential kind to a registered validator (OAuth access tokens, personal
// access tokens, API keys) — and puts a Principal in the request context.
// Failures are answered per RFC 6750 §3 (Bearer) and RFC 7617 (Basic).
package authn

import (
	"github.com/gatehouse/gatehouse/internal/store"

	"context"
	"slices"
	"time"
)

// Authentication methods (Principal.Method).
const (
	MethodPassword    = "password"     // HTTP Basic email:password (+ OTP-Token)
	MethodAccessToken = "access_token" // OAuth 2.0 access token
	MethodPAT         = "pat"          // personal access token
	MethodAPIKey      = "api_key"      // an application's API key
	// MethodSession is a signed-in browser session on a state-changing form
	// whose CSRF token was verified. Only the web pages build such a
	// principal; the API never does.
	MethodSession = "session"
)

// Principal is who a request acts for.
type Principal struct {
	// UserID is the user the request acts for ("" for an API key that acts
	// for no user).
	UserID string
	// ClientID is the OAuth client / application, when there is one.
	ClientID string
	// Scopes the credential carries. nil means ALL scopes: password
	// authentication (Basic email:password, with the second factor when the
	// account has one) is the account owner in person and may do anything
	// the account may. An empty non-nil slice means no scope at all.
	Scopes []string
	// Method is one of the Method* constants.
	Method string
	// CredentialID identifies the token, PAT or key used (for audit logs;
	// never the secret). "" for password authentication.
	CredentialID string
	// Audience lists the API identifiers (RFC 8707 resource) the credential
	// is meant for. nil means no explicit audience: the credential is meant
	// for every API whose scopes it carries (PATs, API keys, and tokens
	// issued without a resource parameter).
	Audience []string
	// IssuedAt is when the credential was created; ExpiresAt when it stops
	// working (zero: it does not expire). Zero for password authentication.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// User is the profile of UserID when the credential lookup already read
	// it (every built-in credential does), so handlers need no second query;
	// nil otherwise.
	User *store.Profile
}

// HasScope reports whether the principal carries scope. A nil Scopes (password
// authentication) carries every scope.
func (p *Principal) HasScope(scope string) bool {
	if p == nil {
		return false
	}
	if p.Scopes == nil || scope == "" {
		return true
	}
	return slices.Contains(p.Scopes, scope)
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal put in ctx by Require.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

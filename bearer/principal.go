package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// ErrInvalidToken is what a Validator returns for a credential that is
// unknown, expired, revoked or otherwise unusable. The middleware answers it
// with 401 invalid_token; any other error means the credential could not be
// checked and is answered with 503, never treated as valid.
var ErrInvalidToken = errors.New("bearer: the credential is invalid, expired or revoked")

// Validator checks a credential and says whom it acts for. The introspection
// Introspector is one implementation; local validation of signed tokens can
// be another, without changing the middleware.
//
// Validate returns ErrInvalidToken (possibly wrapped) for a credential that
// must be refused, and another error when it cannot decide (the
// authorization server is unreachable, answers garbage, …). Errors are
// logged, so they must never contain the credential itself.
type Validator interface {
	Validate(ctx context.Context, token string) (*Principal, error)
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, token string) (*Principal, error)

// Validate implements Validator.
func (f ValidatorFunc) Validate(ctx context.Context, token string) (*Principal, error) {
	return f(ctx, token)
}

// Credential kinds Gatehouse reports in the credential_kind member of an
// introspection response.
const (
	KindAccessToken = "access_token" // OAuth 2.0 access token (gtha_…)
	KindPAT         = "pat"          // personal access token (gthp_…)
	KindAPIKey      = "api_key"      // API key (gthk_…)
)

// Principal is who a request acts for, as the authorization server described
// the credential. The middleware puts it in the request context
// (FromContext). Treat it as read-only.
type Principal struct {
	// Subject is the account the credential acts for (introspection "sub").
	Subject string
	// ClientID is the application the credential was issued to ("client_id").
	ClientID string
	// Scopes are the scopes granted ("scope", split on spaces).
	Scopes []string
	// Kind is the credential kind (KindAccessToken, KindPAT, KindAPIKey), or
	// "" when the server does not say.
	Kind string
	// Audience lists the intended audiences ("aud"; a string or an array).
	Audience []string
	// Issuer is the authorization server that issued the credential ("iss").
	Issuer string
	// TokenType is "token_type", e.g. "Bearer".
	TokenType string
	// ExpiresAt is "exp"; zero when the credential does not expire.
	ExpiresAt time.Time
	// IssuedAt is "iat"; zero when unknown.
	IssuedAt time.Time
	// Extra holds every other member of the introspection response (for
	// example "jti", "username", "token_use"), undecoded.
	Extra map[string]json.RawMessage
}

// HasScope reports whether the principal was granted scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// hasAll reports whether every scope in want was granted.
func (p *Principal) hasAll(want []string) bool {
	for _, s := range want {
		if !p.HasScope(s) {
			return false
		}
	}
	return true
}

// clone copies p deeply, so a handler that modifies its principal cannot
// change what the cache hands to the next request.
func (p *Principal) clone() *Principal {
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	c.Audience = slices.Clone(p.Audience)
	if p.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(p.Extra))
		for k, v := range p.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return &c
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p. The middleware calls it; it is
// exported so a provider can unit-test its handlers without a token.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal the middleware authenticated, and false
// outside a protected route.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

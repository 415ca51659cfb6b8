package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// API is a resource server the operator declared (config section `apis`):
// an API that accepts Gatehouse credentials. Its Identifier is the RFC 8707
// resource indicator clients name in `resource` and the audience ("aud") of
// tokens issued for it.
type API struct {
	Identifier string
	Name       string
	// Scopes are the scopes that belong to this API.
	Scopes []string
	// TokenFormat is the format of access tokens meant for this API:
	// FormatOpaque, FormatJWT, or "" for the server's default.
	TokenFormat string
}

// CredentialValidator validates a credential of any kind — OAuth access
// token, personal access token, API key — with the same rules the API
// applies. *authn.Authenticator implements it; introspection uses it so that
// what a resource server is told can never differ from what Gatehouse's own
// API would decide.
type CredentialValidator interface {
	Validate(ctx context.Context, token string, r *http.Request) (*authn.Principal, error)
}

// maxResources bounds the resource parameters of one request.
const maxResources = 10

// CheckResourceURI checks the shape of a resource indicator. RFC 8707 §2:
// "Its value MUST be an absolute URI, as specified by Section 4.3 of
// [RFC3986]. The URI MUST NOT include a fragment component."
func CheckResourceURI(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > 2048 {
		return errors.New("is longer than 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a URI")
	}
	if !u.IsAbs() || (u.Host == "" && u.Opaque == "") {
		return errors.New("is not an absolute URI")
	}
	if strings.Contains(s, "#") {
		return errors.New("has a fragment (RFC 8707 §2: the URI MUST NOT include a fragment component)")
	}
	return nil
}

// validateAPIs checks the declared APIs and indexes them by identifier.
func validateAPIs(apis []API) (map[string]API, error) {
	out := make(map[string]API, len(apis))
	var errs []error
	for i, a := range apis {
		if err := CheckResourceURI(a.Identifier); err != nil {
			errs = append(errs, fmt.Errorf("apis[%d]: identifier %q %v", i, a.Identifier, err))
			continue
		}
		if _, dup := out[a.Identifier]; dup {
			errs = append(errs, fmt.Errorf("apis[%d]: identifier %q is declared twice", i, a.Identifier))
			continue
		}
		for _, sc := range a.Scopes {
			if toks, err := scope.Parse(sc); err != nil || len(toks) != 1 || toks[0] != sc {
				errs = append(errs, fmt.Errorf("apis[%d]: %q is not a scope name", i, sc))
			}
		}
		if a.TokenFormat != "" && a.TokenFormat != FormatOpaque && a.TokenFormat != FormatJWT {
			errs = append(errs, fmt.Errorf("apis[%d]: token_format %q: want opaque or jwt", i, a.TokenFormat))
		}
		a.Scopes = slices.Clone(a.Scopes)
		out[a.Identifier] = a
	}
	return out, errors.Join(errs...)
}

// LookupAPI returns the declared API with this identifier.
func (s *Service) LookupAPI(identifier string) (API, bool) {
	a, ok := s.apis[identifier]
	return a, ok
}

// resolveResources checks the resource parameters of a request and returns
// the audience they ask for (nil when none was sent). authorized, when not
// empty, is what the user (or an earlier request) already authorized: the
// token endpoint may narrow it, never widen it. RFC 8707 §2:
// "invalid_target: The requested resource is invalid, missing, unknown, or
// malformed."
func (s *Service) resolveResources(resources, authorized []string) ([]string, *Error) {
	if len(resources) > maxResources {
		return nil, ErrInvalidTarget("at most %d resource parameters", maxResources)
	}
	var aud []string
	for _, r := range resources {
		if err := CheckResourceURI(r); err != nil {
			return nil, ErrInvalidTarget("resource %q %v", sanitizeDescription(r), err)
		}
		if _, ok := s.apis[r]; !ok {
			return nil, ErrInvalidTarget("resource %q is not an API this server issues tokens for", sanitizeDescription(r))
		}
		if len(authorized) > 0 && !slices.Contains(authorized, r) {
			return nil, ErrInvalidTarget("resource %q was not part of the authorization", sanitizeDescription(r))
		}
		if !slices.Contains(aud, r) {
			aud = append(aud, r)
		}
	}
	if len(aud) == 0 {
		return slices.Clone(authorized), nil
	}
	return aud, nil
}

// checkAudienceScopes refuses a scope that belongs to none of the APIs of
// the audience, unless it belongs to Gatehouse's own API. A token meant for
// the cards API cannot carry the ledger API's scopes.
func (s *Service) checkAudienceScopes(scopes, aud []string) *Error {
	if len(aud) == 0 {
		return nil
	}
	for _, sc := range scopes {
		if s.gatehouseScope(sc) {
			continue
		}
		found := false
		for _, id := range aud {
			if slices.Contains(s.apis[id].Scopes, sc) {
				found = true
				break
			}
		}
		if !found {
			return ErrInvalidScope("scope %q does not belong to the requested resource", sc)
		}
	}
	return nil
}

// audienceScopes returns the scopes that checkAudienceScopes admits for aud.
func (s *Service) audienceScopes(scopes, aud []string) []string {
	var out []string
	for _, sc := range scopes {
		if s.checkAudienceScopes([]string{sc}, aud) == nil {
			out = append(out, sc)
		}
	}
	return out
}

// gatehouseScope reports whether name belongs to Gatehouse's own API (its
// account and token-management endpoints), which any audience may carry: a
// built-in scope that no declared API claims as its own.
func (s *Service) gatehouseScope(name string) bool {
	if sc, ok := s.catalog().Lookup(name); !ok || !sc.BuiltIn {
		return false
	}
	for _, a := range s.apis {
		if slices.Contains(a.Scopes, name) {
			return false
		}
	}
	return true
}

// mayIntrospect decides whether client c may learn about the credential p.
// RFC 7662 §4: "the authorization server … MAY respond differently to
// different protected resources making the same request", and §2.2 makes
// the answer {"active":false} when "the protected resource is not allowed
// to introspect this particular token".
//
//   - A resource server learns about a credential only when it is meant for
//     its API: the credential's audience names the API's identifier, or the
//     credential has no explicit audience (PATs, API keys, tokens issued
//     without `resource`) and carries at least one of the API's scopes.
//   - Any other client learns only about credentials issued to itself.
func (s *Service) mayIntrospect(c *store.Client, p *authn.Principal) bool {
	if c.ResourceServer == "" {
		return p.ClientID != "" && p.ClientID == c.ID
	}
	if len(p.Audience) > 0 {
		return slices.Contains(p.Audience, c.ResourceServer)
	}
	api, ok := s.apis[c.ResourceServer]
	if !ok {
		return false
	}
	for _, sc := range p.Scopes {
		if slices.Contains(api.Scopes, sc) {
			return true
		}
	}
	return false
}

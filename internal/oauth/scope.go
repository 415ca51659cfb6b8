package oauth

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The scope catalog lives in package scope; oauth only turns its answers into
// RFC 6749 errors.

// catalog is the scope catalog in force for this request.
func (s *Service) catalog() *scope.Catalog { return s.scopes.Load() }

// checkScopes verifies that every requested scope is in the catalog and
// allowed for the client; the error is invalid_scope: "The requested scope is
// invalid, unknown, malformed, or exceeds the scope granted by the resource
// owner." (RFC 6749 §5.2).
func checkScopes(cat *scope.Catalog, requested, clientAllowed []string) *Error {
	for _, s := range requested {
		if _, ok := cat.Lookup(s); !ok {
			return ErrInvalidScope("unknown scope %q", s)
		}
		if !containsString(clientAllowed, s) {
			return ErrInvalidScope("scope %q is not allowed for this client", s)
		}
	}
	return nil
}

// checkDelegable refuses scopes that a third-party app may never be granted
// by a user with invalid_scope — RFC 6749 §5.2: "The requested scope is
// invalid, unknown, malformed, or exceeds the scope granted by the resource
// owner." Unknown scopes are checkScopes' to report.
func checkDelegable(cat *scope.Catalog, requested []string) *Error {
	for _, s := range requested {
		sc, ok := cat.Lookup(s)
		switch {
		case !ok || sc.Delegate:
		case sc.BuiltIn:
			return ErrInvalidScope("scope %q manages credentials and can never be granted to an app by a user; use a personal access token", s)
		default:
			return ErrInvalidScope("scope %q cannot be granted to an app by a user", s)
		}
	}
	return nil
}

// validateClientScopes checks the scopes a client is registered with.
func validateClientScopes(cat *scope.Catalog, scopes []string) error {
	for _, s := range scopes {
		if _, ok := cat.Lookup(s); !ok {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(cat.Names(), ", "))
		}
	}
	return nil
}

// carrierOf says which kind of credential a stored token is, for the
// catalog's carrier rules: a token outside any user-authorized grant is a
// client_credentials token (app-level); the others were delegated by a user.
func carrierOf(info *store.TokenInfo) scope.Carrier {
	if info.GrantID == "" {
		return scope.App
	}
	return scope.Delegated
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ValidateAccessToken checks an opaque access token presented as a bearer
// token (RFC 6750) with one indexed lookup and no write. See the package
// documentation for the rules.
func (s *Service) ValidateAccessToken(ctx context.Context, raw string) (*store.TokenInfo, error) {
	// A JWT access token is checked offline first (signature, typ, issuer,
	// expiry), then its record like an opaque one: a revoked JWT is refused
	// here even though it still verifies.
	key, e := s.accessRecordKey(ctx, raw)
	if e != nil {
		return nil, e
	}
	info, err := s.st.TokenByHash(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken("the access token is invalid, expired or revoked")
	}
	if err != nil {
		return nil, err
	}
	if info.Kind != store.TokenAccess {
		return nil, ErrInvalidToken("the access token is invalid, expired or revoked")
	}
	if problem := s.tokenProblem(info); problem != "" {
		return nil, ErrInvalidToken("%s", problem)
	}
	return info, nil
}

// ValidateBearer implements authn.BearerValidator for OAuth access tokens
// (register it for credential.AccessToken). The principal carries the
// token's scopes still in the catalog, so authn's Require(scope) answers 403 insufficient_scope
// when one is missing.
func (s *Service) ValidateBearer(ctx context.Context, token string, _ *http.Request) (*authn.Principal, error) {
	info, err := s.ValidateAccessToken(ctx, token)
	if err != nil {
		var oe *Error
		if errors.As(err, &oe) {
			return nil, authn.InvalidToken(oe.Description)
		}
		return nil, err
	}
	// A scope the operator has since removed from the catalog (or no
	// longer lets this kind of token carry) is no longer carried.
	scopes := s.catalog().Carried(carrierOf(info), info.Scopes)
	return &authn.Principal{
		UserID: info.UserID, ClientID: info.ClientID, Scopes: scopes,
		Method: authn.MethodAccessToken, CredentialID: info.ID,
		Audience: info.Audience, IssuedAt: info.CreatedAt, ExpiresAt: info.ExpiresAt,
		User: &info.User,
	}, nil
}

var _ authn.BearerValidator = (*Service)(nil)

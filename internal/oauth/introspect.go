package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TokenQuery is a request to the introspection or revocation endpoint.
type TokenQuery struct {
	Token         string
	TokenTypeHint string
	Client        ClientCredentials
	Repeated      []string
}

// ParseTokenQuery reads an introspection or revocation request from the form
// body and the Authorization header.
func ParseTokenQuery(authorization string, body url.Values) (TokenQuery, *Error) {
	q := TokenQuery{Token: body.Get("token"), TokenTypeHint: body.Get("token_type_hint")}
	for _, p := range []string{"token", "token_type_hint", "client_id", "client_secret"} {
		if len(body[p]) > 1 {
			q.Repeated = append(q.Repeated, p)
		}
	}
	creds, err := ParseClientCredentials(authorization, body)
	if err != nil {
		return q, err
	}
	q.Client = creds
	return q, nil
}

// Introspection is an RFC 7662 §2.2 response. An inactive token is only
// {"active":false}: "If the introspection call is properly authorized but
// the token is not active, does not exist on this server, or the protected
// resource is not allowed to introspect this particular token, then the
// authorization server MUST return an introspection response with the
// "active" field set to "false"", and §2.2 "the authorization server SHOULD
// NOT include any additional information about an inactive token".
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// TokenUse says "access_token" or "refresh_token" (an extension, so a
	// resource server never mistakes a refresh token for an access token).
	TokenUse string `json:"token_use,omitempty"`
	Exp      int64  `json:"exp,omitempty"`
	Iat      int64  `json:"iat,omitempty"`
	Sub      string `json:"sub,omitempty"`
	Iss      string `json:"iss,omitempty"`
	Jti      string `json:"jti,omitempty"`
}

// Introspect answers an RFC 7662 request. RFC 7662 §2.1: "To prevent token
// scanning attacks, the endpoint MUST also require some form of
// authorization to access this endpoint" — only confidential clients, which
// hold a secret, may introspect. Any such client (typically a resource
// server) may introspect any token; the token_type_hint is only a hint: our
// tokens say their own type.
func (s *Service) Introspect(ctx context.Context, q TokenQuery) (*Introspection, error) {
	if len(q.Repeated) > 0 {
		return nil, ErrInvalidRequest("%s is included more than once", strings.Join(q.Repeated, ", "))
	}
	c, err := s.AuthenticateClient(ctx, q.Client)
	if err != nil {
		return nil, err
	}
	if c.Type != store.ClientConfidential {
		return nil, ErrInvalidClient("introspection requires a confidential client (RFC 7662 §2.1)")
	}
	if q.Token == "" {
		return nil, ErrInvalidRequest("token is missing")
	}
	inactive := &Introspection{Active: false}
	p, perr := credential.Parse(q.Token)
	if perr != nil || p.Env != s.env || (p.Kind != credential.AccessToken && p.Kind != credential.RefreshToken) {
		return inactive, nil
	}
	info, err := s.st.TokenByHash(ctx, s.hasher.Hash(q.Token))
	if errors.Is(err, store.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, ErrServerError(err)
	}
	if s.tokenProblem(info) != "" {
		return inactive, nil
	}
	out := &Introspection{
		Active: true, Scope: scope.Format(s.catalog().Carried(carrierOf(info), info.Scopes)), ClientID: info.ClientID,
		Exp: info.ExpiresAt.Unix(), Iat: info.CreatedAt.Unix(), Sub: info.UserID, Iss: s.issuer, Jti: info.ID,
	}
	if info.Kind == store.TokenAccess {
		out.TokenType, out.TokenUse = "Bearer", "access_token"
	} else {
		out.TokenUse = "refresh_token"
	}
	return out, nil
}

// tokenProblem says why a stored token is not usable ("" when it is).
func (s *Service) tokenProblem(info *store.TokenInfo) string {
	now := s.time()
	switch {
	case info.RevokedAt != nil || info.GrantRevoked:
		return "the token was revoked"
	case info.Kind == store.TokenRefresh && info.ConsumedAt != nil:
		return "the refresh token was already used"
	case !now.Before(info.ExpiresAt):
		return "the token has expired"
	case info.ClientStatus != store.ClientActive:
		return "the application that obtained the token is " + info.ClientStatus
	case authn.ActsForUser(info.UserDisabled, info.UserCredentialsChangedAt, info.CreatedAt) != nil:
		return "the account was disabled or its password changed after the token was issued"
	}
	return ""
}

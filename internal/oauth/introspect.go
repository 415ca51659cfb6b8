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

var tokenQueryParams = []string{"token", "token_type_hint", "client_id", "client_secret"}

// ParseTokenQuery reads an introspection or revocation request from the form
// body and the Authorization header.
func ParseTokenQuery(authorization string, body url.Values) (TokenQuery, *Error) {
	q := TokenQuery{Token: body.Get("token"), TokenTypeHint: body.Get("token_type_hint")}
	for _, p := range tokenQueryParams {
		if len(body[p]) > 1 {
			q.Repeated = append(q.Repeated, p)
		}
	}
	if err := checkText(body, tokenQueryParams); err != nil {
		return q, err
	}
	creds, err := ParseClientCredentials(authorization, body)
	if err != nil {
		return q, err
	}
	q.Client = creds
	return q, nil
}

// Credential kinds in the credential_kind member of an introspection
// response (an extension: RFC 7662 §2.2 "Specific implementations MAY
// extend this structure with their own service-specific response names").
// The names are the authentication methods of authn (which the gateway
// check sends as X-Gatehouse-Credential-Kind), so a resource server sees one
// vocabulary whichever way it asks, and the public bearer package's Kind*
// constants.
const (
	KindAccessToken  = authn.MethodAccessToken
	KindRefreshToken = "refresh_token"
	KindPAT          = authn.MethodPAT
	KindAPIKey       = authn.MethodAPIKey
)

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
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// TokenUse says "access_token" or "refresh_token" for OAuth tokens (an
	// extension, so a resource server never mistakes a refresh token for an
	// access token).
	TokenUse string   `json:"token_use,omitempty"`
	Exp      int64    `json:"exp,omitempty"`
	Iat      int64    `json:"iat,omitempty"`
	Sub      string   `json:"sub,omitempty"`
	Aud      []string `json:"aud,omitempty"`
	Iss      string   `json:"iss,omitempty"`
	Jti      string   `json:"jti,omitempty"`
	// CredentialKind is one of the Kind* constants.
	CredentialKind string `json:"credential_kind,omitempty"`
}

// Introspect answers an RFC 7662 request. RFC 7662 §2.1: "To prevent token
// scanning attacks, the endpoint MUST also require some form of
// authorization to access this endpoint" — only confidential clients, which
// hold a secret, may introspect.
//
// Access tokens, personal access tokens and API keys are validated by the
// same validators the API uses (Options.Credentials), so introspection and
// the API never disagree. Refresh tokens are never presented to an API; one
// introspects as active only for the client it was issued to. Who may learn
// about which credential is mayIntrospect's rule; anything else is
// {"active":false}. The token_type_hint is only a hint: our credentials say
// their own kind.
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
	// A JWT access token is introspected like an opaque one (the
	// validator checks its signature, then its record).
	if !looksLikeJWT(q.Token) {
		p, perr := credential.Parse(q.Token)
		if perr != nil || p.Env != s.env {
			return inactive, nil
		}
		switch p.Kind {
		case credential.RefreshToken:
			return s.introspectRefresh(ctx, c, q.Token)
		case credential.AccessToken, credential.PAT, credential.APIKey:
		default:
			return inactive, nil
		}
	}
	if s.creds == nil {
		return inactive, nil
	}
	// No request: the caller here is the resource server, not whoever
	// presented the credential to it, so an API key limited to address
	// ranges cannot be vouched for and is inactive.
	pr, err := s.creds.Validate(ctx, q.Token, nil)
	if errors.Is(err, authn.ErrInvalidToken) {
		return inactive, nil
	}
	if err != nil {
		return nil, ErrServerError(err)
	}
	if !s.mayIntrospect(c, pr) {
		return inactive, nil
	}
	out := &Introspection{
		Active: true, Scope: scope.Format(pr.Scopes), ClientID: pr.ClientID, TokenType: "Bearer",
		Sub: pr.UserID, Aud: pr.Audience, Iss: s.issuer, Jti: pr.CredentialID,
	}
	if pr.Method == authn.MethodAccessToken {
		// An access token names its user as the client that obtained it
		// knows them (pairwise for a pairwise client), as a JWT access
		// token's sub does.
		if out.Sub, err = s.subjectForClient(ctx, pr.ClientID, pr.UserID); err != nil {
			return nil, ErrServerError(err)
		}
	}
	if pr.User != nil {
		out.Username = pr.User.Email
	}
	if !pr.IssuedAt.IsZero() {
		out.Iat = pr.IssuedAt.Unix()
	}
	if !pr.ExpiresAt.IsZero() {
		out.Exp = pr.ExpiresAt.Unix()
	}
	switch pr.Method {
	case authn.MethodAccessToken:
		out.CredentialKind, out.TokenUse = KindAccessToken, "access_token"
	case authn.MethodPAT:
		out.CredentialKind = KindPAT
	case authn.MethodAPIKey:
		out.CredentialKind = KindAPIKey
	default:
		return inactive, nil
	}
	return out, nil
}

// introspectRefresh answers for a refresh token: active only for the client
// it was issued to (a resource server never holds one).
func (s *Service) introspectRefresh(ctx context.Context, c *store.Client, token string) (*Introspection, error) {
	inactive := &Introspection{Active: false}
	info, err := s.st.TokenByHash(ctx, s.hasher.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, ErrServerError(err)
	}
	if info.Kind != store.TokenRefresh || info.ClientID != c.ID || s.tokenProblem(info) != "" {
		return inactive, nil
	}
	// c obtained the token: the sub it is shown is its own view of the user.
	sub, err := s.subjectFor(c, info.UserID)
	if err != nil {
		return nil, ErrServerError(err)
	}
	return &Introspection{
		Active: true, Scope: scope.Format(s.catalog().Carried(carrierOf(info), info.Scopes)), ClientID: info.ClientID, Username: info.User.Email,
		TokenUse: "refresh_token", Exp: info.ExpiresAt.Unix(), Iat: info.CreatedAt.Unix(), Sub: sub,
		Aud: info.Audience, Iss: s.issuer, Jti: info.ID, CredentialKind: KindRefreshToken,
	}, nil
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

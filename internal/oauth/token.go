package oauth

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TokenRequest is a token endpoint request (RFC 6749 §4.1.3, §4.4.2, §6),
// parsed from the form body.
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	ScopeSent    bool
	Client       ClientCredentials
	// Resources are the RFC 8707 resource parameters (they may repeat).
	Resources []string
	// Repeated lists parameters sent more than once (RFC 6749 §3.2:
	// "Request and response parameters MUST NOT be included more than once").
	Repeated []string
}

var tokenParams = []string{"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret"}

// ParseTokenRequest reads a token request from the form body and the
// Authorization header. A client authentication error is returned as is.
func ParseTokenRequest(authorization string, body url.Values) (TokenRequest, *Error) {
	r := TokenRequest{
		GrantType: body.Get("grant_type"), Code: body.Get("code"), RedirectURI: body.Get("redirect_uri"),
		CodeVerifier: body.Get("code_verifier"), RefreshToken: body.Get("refresh_token"), Scope: body.Get("scope"),
	}
	_, r.ScopeSent = body["scope"]
	r.Resources = body["resource"]
	for _, p := range tokenParams {
		if len(body[p]) > 1 {
			r.Repeated = append(r.Repeated, p)
		}
	}
	if err := checkText(body, tokenParams); err != nil {
		return r, err
	}
	creds, err := ParseClientCredentials(authorization, body)
	if err != nil {
		return r, err
	}
	r.Client = creds
	return r, nil
}

// checkText refuses a request whose recognised parameters are not acceptable
// text, before any of them is looked up: RFC 6749 §5.2 "invalid_request: The
// request ... includes an invalid parameter value". Unrecognised parameters
// are ignored, as RFC 6749 §3.2 requires.
func checkText(body url.Values, params []string) *Error {
	if err := safetext.Params(body, MaxParamLen, params...); err != nil {
		return ErrInvalidRequest("%v", err)
	}
	return nil
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Scope is always sent: RFC 6749 §5.1 makes it "OPTIONAL, if identical
	// to the scope requested by the client; otherwise, REQUIRED", and always
	// sending it spares clients the comparison.
	Scope string `json:"scope,omitempty"`
	// IDToken is the OpenID Connect ID token (scope openid).
	IDToken string `json:"id_token,omitempty"`
}

// Token handles a token request: client authentication first, then the
// grant.
func (s *Service) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	if len(req.Repeated) > 0 {
		return nil, ErrInvalidRequest("%s is included more than once (RFC 6749 §3.2)", strings.Join(req.Repeated, ", "))
	}
	c, err := s.AuthenticateClient(ctx, req.Client)
	if err != nil {
		return nil, err
	}
	if c.ResourceServer != "" {
		return nil, ErrUnauthorizedClient("this client holds a resource server's credentials: it can only introspect, never obtain tokens")
	}
	switch req.GrantType {
	case "":
		return nil, ErrInvalidRequest("grant_type is missing")
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
	default:
		return nil, ErrUnsupportedGrantType("grant_type %q is not supported (authorization_code, refresh_token, client_credentials)", req.GrantType)
	}
	if !hasGrantType(c, req.GrantType) {
		if slices.Contains(c.PendingGrants, req.GrantType) {
			// The grant was requested and is approved separately from the
			// app: the approved grants keep working meanwhile.
			return nil, ErrUnauthorizedClient("the %s grant of this application awaits review by the operator", req.GrantType)
		}
		return nil, ErrUnauthorizedClient("this client is not allowed the %s grant", req.GrantType)
	}
	switch req.GrantType {
	case GrantAuthorizationCode:
		return s.redeemCode(ctx, c, req)
	case GrantRefreshToken:
		return s.refresh(ctx, c, req)
	default:
		return s.clientCredentials(ctx, c, req)
	}
}

// minted is a new token: the secret for the response, the record to store,
// and its lifetime (a JWT access token's may be capped shorter).
type minted struct {
	secret string
	record *store.Token
	ttl    time.Duration
}

// mint makes a token of kind k. Access tokens go through the strategy the
// audience calls for (opaque or JWT), which also keys the record. A JWT is signed here, before any
// transaction: signing never holds the database.
func (s *Service) mint(k credential.Kind, c *store.Client, userID, grantID string, scopes, aud []string, now time.Time, ttl time.Duration) (minted, error) {
	id, err := s.newID()
	if err != nil {
		return minted{}, err
	}
	kind := store.TokenAccess
	if k == credential.RefreshToken {
		kind = store.TokenRefresh
	}
	rec := &store.Token{
		ID: id, Kind: kind, GrantID: grantID, ClientID: c.ID, UserID: userID,
		Scopes: slices.Clone(scopes), Audience: slices.Clone(aud), CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if k == credential.AccessToken {
		// The signer's context only bounds a key reload; minting has no
		// request context of its own here.
		tok, ttl, err := s.strategyFor(c, aud).Mint(context.Background(), c, rec)
		if err != nil {
			return minted{}, err
		}
		// Every access token, of every grant and response type, is minted
		// here; one that is then not stored fails its request with a
		// server error, rare enough not to skew the count.
		s.activity.Add(activity.TokenIssued, now)
		return minted{secret: tok, record: rec, ttl: ttl}, nil
	}
	secret, hash, err := s.newSecret(k)
	if err != nil {
		return minted{}, err
	}
	rec.Hash = hash
	return minted{secret: secret, record: rec, ttl: ttl}, nil
}

// issuePair mints an access token and, when the client may refresh, a
// refresh token of the same family. The refresh token keeps the whole
// authorized audience; the access token may be narrowed to part of it.
func (s *Service) issuePair(c *store.Client, userID, grantID string, accessScopes, refreshScopes, accessAud, refreshAud []string, now time.Time) (*TokenResponse, []*store.Token, error) {
	ttl := s.accessTTLFor(c)
	access, err := s.mint(credential.AccessToken, c, userID, grantID, accessScopes, accessAud, now, ttl)
	if err != nil {
		return nil, nil, err
	}
	resp := &TokenResponse{
		AccessToken: access.secret, TokenType: "Bearer", ExpiresIn: int64(access.ttl / time.Second),
		Scope: scope.Format(accessScopes),
	}
	records := []*store.Token{access.record}
	if mayRefresh(c, refreshScopes) {
		refresh, err := s.mint(credential.RefreshToken, c, userID, grantID, refreshScopes, refreshAud, now, s.refreshTTLFor(c))
		if err != nil {
			return nil, nil, err
		}
		resp.RefreshToken = refresh.secret
		records = append(records, refresh.record)
	}
	return resp, records, nil
}

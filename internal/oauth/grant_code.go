package oauth

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// redeemCode is the authorization_code grant (RFC 6749 §4.1.3).
func (s *Service) redeemCode(ctx context.Context, c *store.Client, req TokenRequest) (*TokenResponse, error) {
	if req.Code == "" {
		return nil, ErrInvalidRequest("code is missing")
	}
	if !s.parseSecret(req.Code, credential.AuthCode) {
		return nil, ErrInvalidGrant("the authorization code is invalid")
	}
	now := s.time()
	// Single use, enforced by the database: the code is consumed with one
	// conditional UPDATE before anything is minted.
	ac, err := s.st.ConsumeAuthCode(ctx, s.hasher.Hash(req.Code), now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		// RFC 6749 §4.1.2: "If an authorization code is used more than once,
		// the authorization server MUST deny the request and SHOULD revoke
		// (when possible) all tokens previously issued based on that
		// authorization code." Revoking the grant kills the whole family.
		if rerr := s.st.RevokeGrant(ctx, ac.GrantID, now); rerr != nil {
			return nil, ErrServerError(rerr)
		}
		s.log.WarnContext(ctx, "oauth: authorization code replayed; grant revoked",
			"client_id", c.ID, "code_client_id", ac.ClientID, "grant_id", ac.GrantID, "user_id", ac.UserID)
		return nil, ErrInvalidGrant("the authorization code was already used; every token issued from it is now revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant("the authorization code is invalid")
	case err != nil:
		return nil, ErrServerError(err)
	}
	// RFC 6749 §4.1.3: "ensure that the authorization code was issued to the
	// authenticated confidential client, or if the client is public, ensure
	// that the code was issued to "client_id" in the request".
	if ac.ClientID != c.ID {
		return nil, ErrInvalidGrant("the authorization code was issued to another client")
	}
	if !now.Before(ac.ExpiresAt) {
		return nil, ErrInvalidGrant("the authorization code has expired (codes are valid for %v)", s.codeTTL)
	}
	// RFC 6749 §4.1.3: "ensure that the "redirect_uri" parameter is present
	// if the "redirect_uri" parameter was included in the initial
	// authorization request as described in Section 4.1.1, and if included
	// ensure that their values are identical."
	if ac.RedirectURI != "" && req.RedirectURI != ac.RedirectURI {
		if req.RedirectURI == "" {
			return nil, ErrInvalidGrant("redirect_uri is required: the authorization request included one")
		}
		return nil, ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	if ac.RedirectURI == "" && req.RedirectURI != "" && !MatchRedirectURI(c.RedirectURIs, req.RedirectURI) {
		return nil, ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	if c.Type == store.ClientPublic && ac.CodeChallenge == "" {
		return nil, ErrInvalidGrant("public clients must use PKCE")
	}
	if err := VerifyPKCE(req.CodeVerifier, ac.CodeChallenge, ac.CodeChallengeMethod); err != nil {
		return nil, ErrInvalidGrant("PKCE verification failed: %v", err)
	}
	// The user may have revoked the app between authorization and
	// redemption. Only a revocation from before this redemption counts: a
	// concurrent replay of the same code revokes the grant a moment later
	// (see above), which must not turn this — the one successful —
	// redemption into a failure; its tokens die with the grant anyway.
	g, err := s.st.GrantByID(ctx, ac.GrantID)
	if err != nil {
		return nil, ErrServerError(err)
	}
	if g.RevokedAt != nil && g.RevokedAt.Before(now) {
		return nil, ErrInvalidGrant("the authorization was revoked")
	}
	// A scope the operator removed since the authorization is not issued;
	// the refresh token keeps the grant's scopes (RFC 6749 §6 ties a
	// refresh's scope to the original grant), and refresh filters again.
	scopes := s.catalog().Delegable(ac.Scopes)
	if len(scopes) == 0 {
		return nil, ErrInvalidScope("none of the authorized scopes exists any more")
	}
	resp, records, err := s.issuePair(c, ac.UserID, ac.GrantID, scopes, ac.Scopes, now)
	if err != nil {
		return nil, ErrServerError(err)
	}
	if err := s.st.CreateTokens(ctx, records...); err != nil {
		return nil, ErrServerError(err)
	}
	return resp, nil
}

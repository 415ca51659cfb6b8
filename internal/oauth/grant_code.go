package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// redeemCode is the authorization_code grant (RFC 6749 §4.1.3). c is the
// client the token endpoint already authenticated.
//
// The code is read first and consumed only once the request has proved it
// comes from the code's rightful client (client id, redirect URI, PKCE
// verifier) and the code is live. Whoever merely holds an intercepted code
// therefore cannot burn it — nor, when it was used already, revoke the
// tokens issued from it — by presenting it with another client's id or
// without the verifier; the rightful client can still redeem it.
func (s *Service) redeemCode(ctx context.Context, c *store.Client, req TokenRequest) (*TokenResponse, error) {
	if req.Code == "" {
		return nil, ErrInvalidRequest("code is missing")
	}
	if !s.parseSecret(req.Code, credential.AuthCode) {
		return nil, ErrInvalidGrant("the authorization code is invalid")
	}
	now := s.time()
	hash := s.hasher.Hash(req.Code)
	ac, err := s.st.AuthCodeByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant("the authorization code is invalid")
	case err != nil:
		return nil, ErrServerError(err)
	}
	if e := s.checkCodeBinding(c, ac, req); e != nil {
		return nil, e
	}
	if ac.ConsumedAt != nil {
		return nil, s.codeReplayed(ctx, c, ac, now)
	}
	if !now.Before(ac.ExpiresAt) {
		return nil, ErrInvalidGrant("the authorization code has expired (codes are valid for %v)", s.codeTTL)
	}
	// Single use, enforced by the database: of concurrent redemptions that
	// all passed the checks above, exactly one conditional UPDATE wins.
	ac, err = s.st.ConsumeAuthCode(ctx, hash, now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		return nil, s.codeReplayed(ctx, c, ac, now)
	case errors.Is(err, store.ErrNotFound):
		// Deleted since it was read (housekeeping removes long-expired codes).
		return nil, ErrInvalidGrant("the authorization code is invalid")
	case err != nil:
		return nil, ErrServerError(err)
	}
	// The user may have revoked the app between authorization and
	// redemption. Only a revocation from before this redemption counts, and
	// that is decided by state, not by comparing times: GrantRevoked was
	// read in the transaction that consumed the code, and a concurrent
	// replay can revoke the grant only after that (it must see the code
	// consumed first). So the one successful redemption succeeds whatever
	// the replay's clock says, and its tokens still die with the grant the
	// replay revokes (validation treats any revoked grant as dead).
	if ac.GrantRevoked {
		return nil, ErrInvalidGrant("the authorization was revoked")
	}
	// A scope the operator removed since the authorization is not issued;
	// the refresh token keeps the grant's scopes (RFC 6749 §6 ties a
	// refresh's scope to the original grant), and refresh filters again.
	scopes := s.catalog().Delegable(ac.Scopes)
	if len(scopes) == 0 {
		return nil, ErrInvalidScope("none of the authorized scopes exists any more")
	}
	// RFC 8707 §2.2: a resource named here selects the audience of this
	// access token, within what the user authorized.
	aud, e := s.resolveResources(req.Resources, ac.Audience)
	if e != nil {
		return nil, e
	}
	if e := s.checkAudienceScopes(scopes, aud); e != nil {
		return nil, e
	}
	resp, records, err := s.issuePair(c, ac.UserID, ac.GrantID, scopes, ac.Scopes, aud, ac.Audience, now)
	if err != nil {
		return nil, ErrServerError(err)
	}
	if isOIDC(scopes) && s.signer != nil {
		// Minted before the tokens are stored: a signing failure leaves
		// nothing usable behind (the code is spent either way).
		resp.IDToken, err = s.mintIDToken(ctx, idTokenParams{
			client: c, userID: ac.UserID, grantID: ac.GrantID, scopes: scopes,
			accessToken: resp.AccessToken, withNonce: true, now: now,
		})
		if err != nil {
			return nil, ErrServerError(err)
		}
	}
	if err := s.audit.CreateTokens(ctx, s.st, tokenIssued(c, ac.UserID, "authorization_code", records...), records...); err != nil {
		return nil, ErrServerError(err)
	}
	return resp, nil
}

// checkCodeBinding checks that the request comes from the client the code was
// issued to, with the same redirect URI and the PKCE verifier of the
// challenge. It reads nothing and changes nothing.
func (s *Service) checkCodeBinding(c *store.Client, ac *store.AuthCode, req TokenRequest) *Error {
	// RFC 6749 §4.1.3: "ensure that the authorization code was issued to the
	// authenticated confidential client, or if the client is public, ensure
	// that the code was issued to "client_id" in the request".
	if ac.ClientID != c.ID {
		return ErrInvalidGrant("the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: "ensure that the "redirect_uri" parameter is present
	// if the "redirect_uri" parameter was included in the initial
	// authorization request as described in Section 4.1.1, and if included
	// ensure that their values are identical."
	if ac.RedirectURI != "" && req.RedirectURI != ac.RedirectURI {
		if req.RedirectURI == "" {
			return ErrInvalidGrant("redirect_uri is required: the authorization request included one")
		}
		return ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	if ac.RedirectURI == "" && req.RedirectURI != "" && !MatchRedirectURI(c.RedirectURIs, req.RedirectURI) {
		return ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	if c.Type == store.ClientPublic && ac.CodeChallenge == "" {
		return ErrInvalidGrant("public clients must use PKCE")
	}
	// RFC 7636 §4.6: "If the values are not equal, an error response
	// indicating "invalid_grant" as described in Section 5.2 of [RFC6749]
	// MUST be returned."
	if err := VerifyPKCE(req.CodeVerifier, ac.CodeChallenge, ac.CodeChallengeMethod); err != nil {
		return ErrInvalidGrant("PKCE verification failed: %v", err)
	}
	return nil
}

// codeReplayed answers the second use of a code by its rightful client.
// RFC 6749 §4.1.2: "If an authorization code is used more than once, the
// authorization server MUST deny the request and SHOULD revoke (when
// possible) all tokens previously issued based on that authorization code."
// Revoking the grant kills the whole family.
func (s *Service) codeReplayed(ctx context.Context, c *store.Client, ac *store.AuthCode, now time.Time) error {
	if err := s.st.RevokeGrant(ctx, ac.GrantID, now); err != nil {
		return ErrServerError(err)
	}
	s.activity.Add(activity.ReplayDetected, now)
	s.log.WarnContext(ctx, "oauth: authorization code replayed; grant revoked",
		"client_id", c.ID, "grant_id", ac.GrantID, "user_id", ac.UserID)
	// RevokeGrant was one statement; the entry follows in its own transaction.
	s.audit.RecordAfter(ctx, audit.Entry{Type: audit.ReplayDetected, ActorKind: store.ActorApp, ActorID: c.ID, Subject: ac.UserID,
		Failed: true, Details: map[string]any{"credential": "authorization_code", "revoked_grant": ac.GrantID}})
	return ErrInvalidGrant("the authorization code was already used; every token issued from it is now revoked")
}

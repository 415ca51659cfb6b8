package oauth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// refresh is the refresh_token grant (RFC 6749 §6) with rotation: every use
// consumes the refresh token and returns a new one of the same family
// (RFC 9700 §4.14.2). Presenting a consumed refresh token revokes the family.
func (s *Service) refresh(ctx context.Context, c *store.Client, req TokenRequest) (*TokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, ErrInvalidRequest("refresh_token is missing")
	}
	if !s.parseSecret(req.RefreshToken, credential.RefreshToken) {
		return nil, ErrInvalidGrant("the refresh token is invalid")
	}
	now := s.time()
	hash := s.hasher.Hash(req.RefreshToken)
	info, err := s.st.TokenByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant("the refresh token is invalid")
	case err != nil:
		return nil, ErrServerError(err)
	}
	if info.Kind != store.TokenRefresh {
		return nil, ErrInvalidGrant("the refresh token is invalid")
	}
	// RFC 6749 §6: the server MUST "validate the refresh token" and "ensure
	// that the refresh token was issued to the authenticated client".
	if info.ClientID != c.ID {
		return nil, ErrInvalidGrant("the refresh token was issued to another client")
	}
	if info.ConsumedAt != nil {
		return nil, s.refreshReused(ctx, info.GrantID, c.ID, now)
	}
	switch {
	case info.RevokedAt != nil || info.GrantRevoked:
		return nil, ErrInvalidGrant("the refresh token was revoked")
	case !now.Before(info.ExpiresAt):
		return nil, ErrInvalidGrant("the refresh token has expired")
	case authn.ActsForUser(info.UserDisabled, info.UserCredentialsChangedAt, info.CreatedAt) != nil:
		return nil, ErrInvalidGrant("the authorization is no longer valid: the account was disabled or its password changed")
	}
	// RFC 6749 §6: "The requested scope MUST NOT include any scope not
	// originally granted by the resource owner, and if omitted is treated as
	// equal to the scope originally granted by the resource owner." Scopes
	// the client is no longer registered for are dropped as well.
	// A refresh token comes from a user's authorization, so it may carry
	// only scopes a third-party app may hold (a grant made before a scope
	// became non-delegable loses it here).
	cat := s.catalog()
	granted := cat.Delegable(intersect(info.Scopes, c.Scopes))
	scopes := granted
	if req.ScopeSent {
		requested, perr := scope.Parse(req.Scope)
		if perr != nil {
			return nil, ErrInvalidScope("%v", perr)
		}
		if len(requested) == 0 {
			return nil, ErrInvalidScope("scope is empty")
		}
		if e := checkDelegable(cat, requested); e != nil {
			return nil, e
		}
		for _, sc := range requested {
			if !slices.Contains(granted, sc) {
				return nil, ErrInvalidScope("scope %q exceeds the scope originally granted", sc)
			}
		}
		scopes = requested
	}
	if len(scopes) == 0 {
		return nil, ErrInvalidScope("none of the granted scopes is still allowed for this client")
	}
	// RFC 6749 §6: "If a new refresh token is issued, the refresh token scope
	// MUST be identical to that of the refresh token included by the client
	// in the request." Narrowing applies to the new access token only.
	// RFC 8707 §2.2: the resource of a refresh request may narrow the new
	// access token's audience, never widen it beyond the authorization.
	aud, e := s.resolveResources(req.Resources, info.Audience)
	if e != nil {
		return nil, e
	}
	if e := s.checkAudienceScopes(scopes, aud); e != nil {
		return nil, e
	}
	resp, records, err := s.issuePair(c, info.UserID, info.GrantID, scopes, info.Scopes, aud, info.Audience, now)
	if err != nil {
		return nil, ErrServerError(err)
	}
	// Consume the old token and store the new ones in one transaction; a
	// concurrent use of the same token loses here and revokes the family.
	if isOIDC(scopes) && s.signer != nil {
		// OpenID Connect Core §12.2: "Upon successful validation of the
		// Refresh Token, the response body is the Token Response of Section
		// 3.1.3.3 except that it might not contain an id_token." One is
		// sent, for the same subject, with the original auth_time.
		resp.IDToken, err = s.mintIDToken(ctx, idTokenParams{
			client: c, userID: info.UserID, grantID: info.GrantID, scopes: scopes,
			accessToken: resp.AccessToken, now: now,
		})
		if err != nil {
			return nil, ErrServerError(err)
		}
	}
	_, err = s.st.RotateRefreshToken(ctx, hash, now, records...)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		return nil, s.refreshReused(ctx, info.GrantID, c.ID, now)
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant("the refresh token is invalid")
	case err != nil:
		return nil, ErrServerError(err)
	}
	// RotateRefreshToken commits in a transaction of its own; the entry
	// follows it.
	s.audit.RecordAfter(ctx, tokenIssuedAs(audit.TokenRefreshed, c, info.UserID, "refresh_token", records...))
	return resp, nil
}

// refreshReused answers the reuse of a rotated refresh token. RFC 9700
// §4.14.2: "If a refresh token is compromised and subsequently used by both
// the attacker and the legitimate client, one of them will present an
// invalidated refresh token, which will inform the authorization server of
// the breach. The authorization server cannot determine which party
// submitted the invalid refresh token, but it will revoke the active refresh
// token. This stops the attack at the cost of forcing the legitimate client
// to obtain a fresh authorization grant." We revoke the whole family.
func (s *Service) refreshReused(ctx context.Context, grantID, clientID string, now time.Time) error {
	if grantID != "" {
		if err := s.st.RevokeGrant(ctx, grantID, now); err != nil {
			return ErrServerError(err)
		}
	}
	s.activity.Add(activity.ReplayDetected, now)
	s.log.WarnContext(ctx, "oauth: rotated refresh token reused; token family revoked", "client_id", clientID, "grant_id", grantID)
	// RevokeGrant was one statement; the entry follows in its own transaction.
	s.audit.RecordAfter(ctx, audit.Entry{Type: audit.ReplayDetected, ActorKind: store.ActorApp, ActorID: clientID, Failed: true,
		Details: map[string]any{"credential": "refresh_token", "revoked_grant": grantID}})
	return ErrInvalidGrant("the refresh token was already used; every token of this authorization is now revoked")
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

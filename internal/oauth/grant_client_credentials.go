package oauth

import (
	"context"
	"slices"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"

	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4). RFC 6749
// §4.4: "The client credentials grant type MUST only be used by confidential
// clients." The token acts as the client's owner with the client's (app-level)
// scopes; it belongs to no user-authorized family (GrantID ""), so only
// revoking it, disabling the client or the owner's account ends it early.
func (s *Service) clientCredentials(ctx context.Context, c *store.Client, req TokenRequest) (*TokenResponse, error) {
	if c.Type != store.ClientConfidential {
		return nil, ErrUnauthorizedClient("public clients cannot use client_credentials")
	}
	cat := s.catalog()
	allowed := cat.AppScopes(c.Scopes)
	scopes := allowed
	if req.ScopeSent {
		requested, err := scope.Parse(req.Scope)
		if err != nil {
			return nil, ErrInvalidScope("%v", err)
		}
		if e := checkScopes(cat, requested, c.Scopes); e != nil {
			return nil, e
		}
		for _, sc := range requested {
			if !slices.Contains(allowed, sc) {
				return nil, ErrInvalidScope("scope %q cannot be given to an app-level token", sc)
			}
		}
		if len(requested) > 0 {
			scopes = requested
		}
	}
	if len(scopes) == 0 {
		return nil, ErrInvalidScope("this client has no app-level scope")
	}
	// RFC 8707 §2: the token is meant for the named APIs only, and may
	// carry only their scopes (or Gatehouse's own).
	aud, e := s.resolveResources(req.Resources, nil)
	if e != nil {
		return nil, e
	}
	if req.ScopeSent || len(aud) == 0 {
		if e := s.checkAudienceScopes(scopes, aud); e != nil {
			return nil, e
		}
	} else {
		// No scope requested: the default is the app's scopes that fit
		// the audience.
		scopes = s.audienceScopes(scopes, aud)
		if len(scopes) == 0 {
			return nil, ErrInvalidScope("this client has no scope of the requested resource")
		}
	}
	now := s.time()
	ttl := s.accessTTLFor(c)
	access, err := s.mint(credential.AccessToken, c, c.OwnerID, "", scopes, aud, now, ttl)
	if err != nil {
		return nil, ErrServerError(err)
	}
	// The token and its audit entry commit together.
	if err := s.audit.CreateTokens(ctx, s.st, tokenIssued(c, c.ID, "client_credentials", access.record), access.record); err != nil {
		return nil, ErrServerError(err)
	}
	// RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
	return &TokenResponse{AccessToken: access.secret, TokenType: "Bearer", ExpiresIn: int64(access.ttl.Seconds()), Scope: scope.Format(scopes)}, nil
}

// tokenIssued is the audit entry of tokens issued to client c for subject
// (a user, or the client itself for client_credentials): ids and kinds,
// never the tokens.
func tokenIssued(c *store.Client, subject, grant string, records ...*store.Token) audit.Entry {
	return tokenIssuedAs(audit.TokenIssued, c, subject, grant, records...)
}

func tokenIssuedAs(typ string, c *store.Client, subject, grant string, records ...*store.Token) audit.Entry {
	ids := make([]string, 0, len(records))
	var scopes []string
	for _, r := range records {
		ids = append(ids, r.Kind+":"+r.ID)
		if r.Kind == store.TokenAccess {
			scopes = r.Scopes
		}
	}
	return audit.Entry{Type: typ, ActorKind: store.ActorApp, ActorID: c.ID, Subject: subject,
		Details: map[string]any{"grant_type": grant, "tokens": ids, "scopes": scopes}}
}

package oauth

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Revoke answers an RFC 7009 request. Unknown, malformed and already revoked
// tokens answer success — RFC 7009 §2.2: "The authorization server responds
// with HTTP status code 200 if the token has been revoked successfully or if
// the client submitted an invalid token." The token_type_hint is only a hint
// (§2.1: the server "MAY ignore this parameter"); our tokens say their type,
// so no hint is ever refused with unsupported_token_type.
//
// Revoking a refresh token revokes its whole grant, so the access tokens
// minted from it die too — §2.1: "If the particular token is a refresh token
// and the authorization server supports the revocation of access tokens,
// then the authorization server SHOULD also invalidate all access tokens
// based on the same authorization grant".
func (s *Service) Revoke(ctx context.Context, q TokenQuery) error {
	if len(q.Repeated) > 0 {
		return ErrInvalidRequest("%s is included more than once", strings.Join(q.Repeated, ", "))
	}
	c, err := s.AuthenticateClient(ctx, q.Client)
	if err != nil {
		return err
	}
	if q.Token == "" {
		return ErrInvalidRequest("token is missing")
	}
	// A JWT access token is revoked by its record like an opaque one;
	// RFC 7009 §2.2: "invalid tokens do not cause an error response".
	var hash string
	if looksLikeJWT(q.Token) {
		key, e := s.accessRecordKey(ctx, q.Token)
		if e != nil {
			return nil
		}
		hash = key
	} else {
		p, perr := credential.Parse(q.Token)
		if perr != nil || p.Env != s.env || (p.Kind != credential.AccessToken && p.Kind != credential.RefreshToken) {
			return nil
		}
		hash = s.hasher.Hash(q.Token)
	}
	info, err := s.st.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return ErrServerError(err)
	}
	// RFC 7009 §2.1: "The authorization server first validates the client
	// credentials (in case of a confidential client) and then verifies
	// whether the token was issued to the client making the revocation
	// request. If this validation fails, the request is refused and the
	// client is informed of the error".
	if info.ClientID != c.ID {
		return ErrUnauthorizedClient("the token was issued to another client")
	}
	_, err = revokeToken(ctx, s.st, hash, s.time(), func(tx store.Store, t *store.Token) error {
		if err := s.audit.Record(ctx, tx, audit.Entry{Type: audit.TokenRevoked, ActorKind: store.ActorApp, ActorID: c.ID, Subject: t.UserID,
			Details: map[string]any{"token_id": t.ID, "kind": t.Kind, "grant_id": t.GrantID}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, Event{Kind: EventTokenRevoked, ClientID: t.ClientID, UserID: t.UserID, TokenKind: t.Kind})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return ErrServerError(err)
	}
	return nil
}

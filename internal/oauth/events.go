package oauth

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Event kinds handed to Options.OnEvent.
const (
	// EventAuthorizationGranted: a user allowed a client scopes (consent
	// remembered).
	EventAuthorizationGranted = "authorization.granted"
	// EventAuthorizationRevoked: a user revoked a client's access.
	EventAuthorizationRevoked = "authorization.revoked"
	// EventTokenRevoked: a client revoked one of its tokens (RFC 7009).
	EventTokenRevoked = "token.revoked"
)

// Event is one change to what a client may do for a user.
type Event struct {
	Kind     string
	ClientID string
	UserID   string
	// Scopes: the scopes now allowed (granted); TokenKind: "access" or
	// "refresh" (token revoked).
	Scopes    []string
	TokenKind string
}

// emit calls OnEvent inside the change's transaction (tx); its error rolls
// the change back.
func (s *Service) emit(ctx context.Context, tx store.Store, ev Event) error {
	if s.onEvent == nil {
		return nil
	}
	return s.onEvent(ctx, tx, ev)
}

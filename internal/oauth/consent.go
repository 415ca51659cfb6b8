package oauth

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// AuthorizedApp is one app a user allowed, as the account page lists it.
type AuthorizedApp struct {
	ClientID    string
	Name        string
	Description string
	OwnerName   string
	OwnerEmail  string
	Scopes      []scope.Scope
	Since       time.Time // first consent
	Updated     time.Time // latest consent
}

// AuthorizedApps lists the apps the user has allowed, most recent first.
func (s *Service) AuthorizedApps(ctx context.Context, userID string) ([]AuthorizedApp, error) {
	consents, err := s.st.ListConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	cat := s.catalog()
	owners := map[string]*store.User{}
	var out []AuthorizedApp
	for _, cs := range consents {
		c, err := s.st.ClientByID(ctx, cs.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		app := AuthorizedApp{
			ClientID: c.ID, Name: c.Name, Description: c.Description,
			Scopes: cat.Describe(cs.Scopes), Since: cs.CreatedAt, Updated: cs.UpdatedAt,
		}
		owner, seen := owners[c.OwnerID]
		if !seen {
			owner, err = s.st.UserByID(ctx, c.OwnerID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			owners[c.OwnerID] = owner
		}
		if owner != nil {
			app.OwnerName, app.OwnerEmail = owner.Name, owner.Email
		}
		out = append(out, app)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, nil
}

// RevokeApp forgets the user's consent for the client and revokes every
// grant — so every access and refresh token — the client holds for the user,
// both in one transaction. Revoking an app that is not authorized is not an
// error: the grants are revoked all the same, which is what a user pressing
// "revoke access" wants.
func (s *Service) RevokeApp(ctx context.Context, userID, clientID string) error {
	at := s.time()
	err := s.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.DeleteConsent(ctx, userID, clientID); err != nil {
			return err
		}
		if _, err := tx.RevokeGrants(ctx, userID, clientID, at); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, audit.Entry{Type: audit.AuthorizationRevoked, ActorKind: store.ActorUser, ActorID: userID,
			Subject: userID, Details: map[string]any{"client_id": clientID}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, Event{Kind: EventAuthorizationRevoked, ClientID: clientID, UserID: userID})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// Deny records that the user refused the authorization request: nothing
// changes, so the entry is written on its own.
func (s *Service) Deny(ctx context.Context, a *Authorization, userID string) {
	s.audit.RecordAfter(ctx, audit.Entry{Type: audit.AuthorizationDenied, ActorKind: store.ActorUser, ActorID: userID, Subject: userID,
		Details: map[string]any{"client_id": a.Client.ID, "scopes": a.Scopes}})
}

// TxStore is a store that can run several operations in one transaction;
// store.Store is one.
type TxStore interface {
	InTx(ctx context.Context, fn func(tx store.Store) error) error
}

// RevokeToken revokes the token with this hash and, when it is a refresh
// token, its whole grant, in one transaction. Revoking twice keeps the first
// time; ErrNotFound (wrapped) for an unknown token. RFC 7009 §2.1: "If the
// particular token is a refresh token and the authorization server supports
// the revocation of access tokens, then the authorization server SHOULD also
// invalidate all access tokens based on the same authorization grant". The
// revocation endpoint and the leaked-credential report both use it.
func RevokeToken(ctx context.Context, st TxStore, hash string, at time.Time) (*store.Token, error) {
	return revokeToken(ctx, st, hash, at, nil)
}

// revokeToken is RevokeToken; then, when set, runs in the same transaction
// after the revocation.
func revokeToken(ctx context.Context, st TxStore, hash string, at time.Time, then func(tx store.Store, t *store.Token) error) (*store.Token, error) {
	var tok *store.Token
	err := st.InTx(ctx, func(tx store.Store) error {
		t, err := tx.RevokeToken(ctx, hash, at)
		if err != nil {
			return err
		}
		tok = t
		if t.Kind == store.TokenRefresh && t.GrantID != "" {
			if err := tx.RevokeGrant(ctx, t.GrantID, at); err != nil {
				return err
			}
		}
		if then != nil {
			return then(tx, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tok, nil
}

package oauth

import (
	"context"
	"errors"
	"sort"
	"time"

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
// grant — so every access and refresh token — the client holds for the user
// (store.DeleteConsent does both in one transaction). Revoking an app that is
// not authorized is not an error.
func (s *Service) RevokeApp(ctx context.Context, userID, clientID string) error {
	err := s.st.DeleteConsent(ctx, userID, clientID, s.time())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

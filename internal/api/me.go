// Package api serves Gatehouse's own JSON API for the signed-in user,
// starting with GET /v0/me (seed 004). Routes are protected by
// authn.Authenticator: HTTP Basic email:password (+ OTP-Token) or a bearer
// token carrying the route's scope.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Users is what the API needs from the account service.
type Users interface {
	UserByID(ctx context.Context, id string) (*store.User, error)
}

// Me serves GET /v0/me.
type Me struct {
	users Users
	auth  *authn.Authenticator
	log   *slog.Logger
}

// NewMe builds the /v0/me handler.
func NewMe(users Users, auth *authn.Authenticator, log *slog.Logger) *Me {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Me{users: users, auth: auth, log: log}
}

// Routes mounts GET /v0/me.
func (m *Me) Routes(mux *http.ServeMux) {
	mux.Handle("GET /v0/me", m.auth.Require(scope.ProfileRead)(http.HandlerFunc(m.me)))
}

// Profile is the JSON body of GET /v0/me.
type Profile struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	TwoFactor bool      `json:"two_factor"`
	CreatedAt time.Time `json:"created_at"`
}

func (m *Me) me(w http.ResponseWriter, r *http.Request) {
	p, _ := authn.FromContext(r.Context())
	if p == nil || p.UserID == "" {
		httpx.WriteError(w, http.StatusForbidden, "access_denied", "This credential does not act for a user.")
		return
	}
	// The credential lookup usually read the profile already (one query per
	// request instead of two); otherwise read it.
	u := p.User
	if u == nil || u.ID != p.UserID {
		full, err := m.users.UserByID(r.Context(), p.UserID)
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, http.StatusNotFound, "not_found", "The user no longer exists.")
			return
		}
		if err != nil {
			m.log.Error("GET /v0/me", "err", err)
			httpx.WriteError(w, http.StatusInternalServerError, "server_error", "The profile could not be read.")
			return
		}
		u = &store.Profile{ID: full.ID, Email: full.Email, Name: full.Name, TOTPEnabled: full.TOTPEnabled, CreatedAt: full.CreatedAt}
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, Profile{
		ID: u.ID, Email: u.Email, Name: u.Name, TwoFactor: u.TOTPEnabled, CreatedAt: u.CreatedAt.UTC(),
	})
}

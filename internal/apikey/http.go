package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ClientAddr is the address API-key CIDR checks use: the client address the
// resolver (internal/clientaddr) decided, from a trusted proxy's header when
// there is one. Without a
// request (introspection, where the caller's address is unknown) it is the
// invalid address, which no address range admits.
func ClientAddr(r *http.Request) netip.Addr { return clientaddr.Of(r) }

// Validator returns the bearer validator for API keys; register it with
// Authenticator.RegisterBearer(credential.APIKey, …). The principal acts as
// the app's owner (UserID) through the app (ClientID).
func (s *Service) Validator() authn.BearerValidator {
	return authn.BearerFunc(func(ctx context.Context, key string, r *http.Request) (*authn.Principal, error) {
		k, err := s.validate(ctx, key, ClientAddr(r))
		switch {
		case errors.Is(err, ErrRevoked):
			s.log.InfoContext(ctx, "api key refused: revoked", "key_id", k.ID, "client_id", k.ClientID)
			// The app used it (actor and subject), on behalf of its owner.
			return nil, &authn.RevokedError{
				Description: "The API key is invalid, expired or revoked.",
				Credential:  "api_key:" + k.ID,
				Entry: audit.Entry{Type: audit.APIKeyUsedAfterRevocation, ActorKind: store.ActorApp, ActorID: k.ClientID, Subject: k.ClientID,
					Details: map[string]any{"key_id": k.ID, "owner_id": k.ClientOwnerID}},
			}
		case errors.Is(err, ErrAddressNotAllowed):
			s.log.InfoContext(ctx, "api key refused", "reason", err.Error())
			return nil, authn.InvalidToken("This API key may not be used from your address.")
		case errors.Is(err, ErrInvalidKey):
			s.log.DebugContext(ctx, "api key refused", "reason", err.Error())
			return nil, authn.InvalidToken("The API key is invalid, expired or revoked.")
		case err != nil:
			return nil, err
		}
		scopes := k.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		p := &authn.Principal{
			UserID:       k.ClientOwnerID,
			ClientID:     k.ClientID,
			Scopes:       scopes,
			Method:       authn.MethodAPIKey,
			CredentialID: k.ID,
			IssuedAt:     k.CreatedAt,
			User:         &k.Owner,
		}
		if k.ExpiresAt != nil {
			p.ExpiresAt = *k.ExpiresAt
		}
		return p, nil
	})
}

// Handler serves /v0/apps/{client_id}/keys.
type Handler struct {
	svc  *Service
	auth *authn.Authenticator
	log  *slog.Logger
}

// NewHandler returns the HTTP area for API keys.
func NewHandler(svc *Service, auth *authn.Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, auth: auth, log: log}
}

const maxCreateBody = 16 << 10

// maxPathID bounds the ids in a path (client ids and key ids are UUIDs or
// short names).
const maxPathID = 256

// Routes implements server.Area.
func (h *Handler) Routes(mux *http.ServeMux) {
	cm := authn.CredentialManagement()
	mux.Handle("GET /v0/apps/{client_id}/keys", h.auth.Require(scope.KeysRead, cm)(http.HandlerFunc(h.list)))
	// A credential never mints a longer-lived credential: creating needs
	// the owner (or an administrator) in person (authn.InPerson).
	mux.Handle("POST /v0/apps/{client_id}/keys", h.auth.Require("", authn.OwnerInPerson())(http.HandlerFunc(h.create)))
	mux.Handle("DELETE /v0/apps/{client_id}/keys/{id}", h.auth.Require(scope.KeysRevoke, cm)(http.HandlerFunc(h.revoke)))
}

// Item is one key in a listing (never the secret).
type Item struct {
	ID           string     `json:"id"`
	ClientID     string     `json:"client_id"`
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	AllowedCIDRs []string   `json:"allowed_cidrs"`
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// ItemOf converts a key to its listing form.
func ItemOf(k store.APIKey) Item {
	it := Item{
		ID: k.ID, ClientID: k.ClientID, Name: k.Name, Scopes: k.Scopes, AllowedCIDRs: k.AllowedCIDRs,
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC(), LastUsedAt: utc(k.LastUsedAt), ExpiresAt: utc(k.ExpiresAt),
	}
	if it.Scopes == nil {
		it.Scopes = []string{}
	}
	if it.AllowedCIDRs == nil {
		it.AllowedCIDRs = []string{}
	}
	return it
}

// CreatedBody is the answer to a create: the listing fields plus the secret,
// shown this once.
type CreatedBody struct {
	Key string `json:"key"`
	Item
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateBody is the JSON body of POST /v0/apps/{client_id}/keys.
type CreateBody struct {
	Name         string        `json:"name"`
	Scopes       pat.ScopeList `json:"scopes"`
	Scope        *string       `json:"scope"`
	ExpiresIn    *json.Number  `json:"expires_in"`
	AllowedCIDRs []string      `json:"allowed_cidrs"`
}

// actor returns who manages keys. Creating needs the owner in person; the
// route's authn.OwnerInPerson has already refused bearer credentials, and
// asking the same rule again keeps create safe if it is ever mounted without
// it. An app-level credential (an API key, a client_credentials token) lists
// and revokes only its own app's keys.
func (h *Handler) actor(w http.ResponseWriter, r *http.Request, create bool) (Actor, bool) {
	// Every route names an app (and maybe a key) in its path: ids that are
	// not text are refused before they are looked up.
	for _, name := range []string{"client_id", "id"} {
		if err := safetext.Field(name, r.PathValue(name), maxPathID); err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "The "+err.Error()+".")
			return Actor{}, false
		}
	}
	p, _ := authn.FromContext(r.Context())
	if p == nil || p.UserID == "" {
		httpx.WriteError(w, http.StatusForbidden, "access_denied", "Only a user (the app's owner or an administrator) manages API keys.")
		return Actor{}, false
	}
	if create && authn.InPerson(p) != nil {
		httpx.NoStore(w)
		httpx.WriteError(w, http.StatusUnauthorized, "password_required", "Creating an API key needs the app owner's email and password (HTTP Basic, plus OTP-Token when two-factor is on); a token or API key cannot create API keys.")
		return Actor{}, false
	}
	if p.ClientID != "" && p.ClientID != r.PathValue("client_id") {
		h.writeErr(w, r, ErrNotFound)
		return Actor{}, false
	}
	return Actor{UserID: p.UserID}, true
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	a, ok := h.actor(w, r, false)
	if !ok {
		return
	}
	list, err := h.svc.List(r.Context(), a, r.PathValue("client_id"))
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	out := make([]Item, 0, len(list))
	for _, k := range list {
		out = append(out, ItemOf(k))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	a, ok := h.actor(w, r, true)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCreateBody)
	var body CreateBody
	if status, desc := pat.DecodeJSON(r, &body); status != 0 {
		httpx.WriteError(w, status, "invalid_request", desc)
		return
	}
	req := CreateRequest{ClientID: r.PathValue("client_id"), Name: body.Name, AllowedCIDRs: body.AllowedCIDRs}
	switch {
	case body.Scopes != nil && body.Scope != nil:
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "Send scopes or scope, not both.")
		return
	case body.Scopes != nil:
		req.Scopes = body.Scopes
	case body.Scope != nil:
		list, err := scope.Parse(*body.Scope)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_scope", err.Error())
			return
		}
		req.Scopes = list
	}
	d, err := pat.ParseSeconds(body.ExpiresIn)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	req.ExpiresIn = d
	c, err := h.svc.Create(r.Context(), a, req)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusCreated, CreatedBody{Key: c.Secret, Item: ItemOf(c.Key)})
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	a, ok := h.actor(w, r, false)
	if !ok {
		return
	}
	if err := h.svc.Revoke(r.Context(), a, r.PathValue("client_id"), r.PathValue("id")); err != nil {
		h.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ie *InvalidError
	switch {
	case errors.As(err, &ie):
		code := "invalid_request"
		if ie.Scope {
			code = "invalid_scope"
		}
		httpx.WriteError(w, http.StatusBadRequest, code, ie.Message)
	case errors.Is(err, ErrNotFound):
		httpx.WriteError(w, http.StatusNotFound, "not_found", "No such app or API key (or it is not yours).")
	case errors.Is(err, store.ErrInvalidText):
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "A value in the request is not valid text.")
	case errors.Is(err, ErrTooMany):
		httpx.WriteError(w, http.StatusConflict, "too_many_keys", fmt.Sprintf("This app has %d API keys; revoke some first.", h.svc.cfg.MaxPerClient))
	default:
		h.log.ErrorContext(r.Context(), "apikey: request failed", "path", r.URL.Path, "err", err)
		httpx.WriteError(w, http.StatusInternalServerError, "server_error", "internal error")
	}
}

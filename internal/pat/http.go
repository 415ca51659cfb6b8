package pat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Validator returns the bearer validator for PATs; register it with
// Authenticator.RegisterBearer(credential.PAT, …).
func (s *Service) Validator() authn.BearerValidator {
	return authn.BearerFunc(func(ctx context.Context, token string, r *http.Request) (*authn.Principal, error) {
		p, err := s.validate(ctx, token)
		if err != nil {
			if errors.Is(err, ErrRevoked) {
				s.log.InfoContext(ctx, "pat refused: revoked", "pat_id", p.ID, "user_id", p.UserID)
				return nil, &authn.RevokedError{
					Description: "The personal access token is invalid or revoked.",
					Credential:  "pat:" + p.ID,
					Entry: audit.Entry{Type: audit.PATUsedAfterRevocation, ActorKind: store.ActorUser, ActorID: p.UserID, Subject: p.UserID,
						Details: map[string]any{"pat_id": p.ID}},
				}
			}
			if errors.Is(err, ErrInvalidToken) {
				s.log.DebugContext(ctx, "pat refused", "reason", err.Error())
				if errors.Is(err, ErrExpired) {
					return nil, authn.InvalidToken("The personal access token has expired.")
				}
				return nil, authn.InvalidToken("The personal access token is invalid or revoked.")
			}
			return nil, err
		}
		out := &authn.Principal{
			UserID:       p.UserID,
			Scopes:       nonNil(p.Scopes),
			Method:       authn.MethodPAT,
			CredentialID: p.ID,
			IssuedAt:     p.CreatedAt,
			User:         &p.User,
		}
		if p.ExpiresAt != nil {
			out.ExpiresAt = *p.ExpiresAt
		}
		return out, nil
	})
}

// nonNil keeps "no scope" distinct from authn's nil = every scope.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Handler serves /v0/me/tokens.
type Handler struct {
	svc  *Service
	auth *authn.Authenticator
	log  *slog.Logger
}

// NewHandler returns the HTTP area for PATs.
func NewHandler(svc *Service, auth *authn.Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, auth: auth, log: log}
}

// maxCreateBody bounds a create request (a description and a few scopes).
const maxCreateBody = 16 << 10

// Routes implements server.Area.
func (h *Handler) Routes(mux *http.ServeMux) {
	cm := authn.CredentialManagement()
	mux.Handle("GET /v0/me/tokens", h.auth.Require(scope.TokensRead, cm)(http.HandlerFunc(h.list)))
	// A credential never mints a longer-lived credential: creating needs
	// the owner in person (authn.InPerson).
	mux.Handle("POST /v0/me/tokens", h.auth.Require("", authn.OwnerInPerson())(http.HandlerFunc(h.create)))
	mux.Handle("DELETE /v0/me/tokens/{token}", h.auth.Require(scope.TokensRevoke, cm)(http.HandlerFunc(h.revoke)))
}

// Item is one PAT in a listing. description and id come first, as in seed
// 004; times are RFC 3339 UTC, null when unset.
type Item struct {
	Description string     `json:"description"`
	ID          string     `json:"id"`
	Scopes      []string   `json:"scopes"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// ItemOf converts a PAT to its listing form.
func ItemOf(p store.PAT) Item {
	return Item{
		Description: p.Description, ID: p.ID, Scopes: nonNil(p.Scopes),
		CreatedAt: p.CreatedAt.UTC(), LastUsedAt: utc(p.LastUsedAt), ExpiresAt: utc(p.ExpiresAt),
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func principal(r *http.Request) *authn.Principal {
	p, _ := authn.FromContext(r.Context())
	return p
}

// userPrincipal returns the principal of a list or revoke request: a user in
// person (password), a PAT, or an OAuth access token acting for a user. API
// keys act for an app, not a person, and manage no personal tokens.
func userPrincipal(w http.ResponseWriter, r *http.Request) (*authn.Principal, bool) {
	p := principal(r)
	if p == nil || p.UserID == "" || p.Method == authn.MethodAPIKey {
		httpx.WriteError(w, http.StatusForbidden, "access_denied", "Personal access tokens are managed with your own credentials (password, a personal access token or an OAuth token acting for you), not an app's API key.")
		return nil, false
	}
	return p, true
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	p, ok := userPrincipal(w, r)
	if !ok {
		return
	}
	list, err := h.svc.List(r.Context(), p.UserID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	out := make([]Item, 0, len(list))
	for _, t := range list {
		out = append(out, ItemOf(t))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

// CreateBody is the JSON body of POST /v0/me/tokens.
type CreateBody struct {
	Description string `json:"description"`
	// Scopes is a JSON array, or a space-separated string as in OAuth.
	Scopes *ScopeList `json:"scopes"`
	// Scope is the OAuth spelling (space-separated), accepted too.
	Scope *string `json:"scope"`
	// ExpiresIn is the lifetime in seconds (omitted or null: no expiry).
	ExpiresIn *json.Number `json:"expires_in"`
}

// ScopeList decodes a JSON array of strings or a space-separated string.
type ScopeList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *ScopeList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		list, err := scope.Parse(s)
		if err != nil {
			return err
		}
		*l = nonNil(list)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scopes must be an array of strings or a space-separated string")
	}
	*l = nonNil(list)
	return nil
}

// CreatedBody is the answer to POST /v0/me/tokens: seed 004's three fields
// first, then what the token may do and until when.
type CreatedBody struct {
	AccessToken string     `json:"accessToken"`
	Description string     `json:"description"`
	ID          string     `json:"id"`
	Scopes      []string   `json:"scopes"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// DecodeJSON reads a JSON object body into v (unknown fields refused). It
// insists on Content-Type application/json: a cross-site HTML form cannot
// send it, so a browser's cached Basic credentials cannot be abused by
// another site to create tokens.
func DecodeJSON(r *http.Request, v any) (status int, desc string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, "Send a JSON body with Content-Type: application/json."
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if httpx.BodyTooLarge(err) {
			return http.StatusRequestEntityTooLarge, "The request body is too large."
		}
		return http.StatusBadRequest, "The body is not the expected JSON object: " + jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return http.StatusBadRequest, "The body must hold exactly one JSON object."
	}
	return 0, ""
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + fmt.Sprint(se.Offset)
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "json: ")
	return s
}

// ParseSeconds reads an expires_in number of whole seconds.
func ParseSeconds(n *json.Number) (time.Duration, error) {
	if n == nil {
		return 0, nil
	}
	v, err := n.Int64()
	if err != nil || v <= 0 {
		return 0, errors.New("expires_in must be a positive whole number of seconds")
	}
	if v > int64(100*365*24*time.Hour/time.Second) {
		return 0, errors.New("expires_in is too large")
	}
	return time.Duration(v) * time.Second, nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	// The route's authn.OwnerInPerson has refused every bearer credential;
	// asking the same rule again keeps this handler safe if it is ever
	// mounted without it.
	p := principal(r)
	if authn.InPerson(p) != nil {
		httpx.NoStore(w)
		httpx.WriteError(w, http.StatusUnauthorized, "password_required",
			"Creating a personal access token needs your email and password (HTTP Basic, plus the OTP-Token header when two-factor is on); a token cannot create tokens.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCreateBody)
	var body CreateBody
	if status, desc := DecodeJSON(r, &body); status != 0 {
		httpx.WriteError(w, status, "invalid_request", desc)
		return
	}
	req := CreateRequest{UserID: p.UserID, Description: body.Description}
	switch {
	case body.Scopes != nil && body.Scope != nil:
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "Send scopes or scope, not both.")
		return
	case body.Scopes != nil:
		req.Scopes = nonNil(*body.Scopes)
	case body.Scope != nil:
		list, err := scope.Parse(*body.Scope)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_scope", err.Error())
			return
		}
		req.Scopes = nonNil(list)
	}
	d, err := ParseSeconds(body.ExpiresIn)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	req.ExpiresIn = d
	c, err := h.svc.Create(r.Context(), req)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusCreated, CreatedBody{
		AccessToken: c.Token, Description: c.PAT.Description, ID: c.PAT.ID,
		Scopes: c.PAT.Scopes, CreatedAt: c.PAT.CreatedAt.UTC(), ExpiresAt: utc(c.PAT.ExpiresAt),
	})
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	p, ok := userPrincipal(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("token")
	var err error
	if LooksLikeToken(ref) {
		err = h.svc.RevokeToken(r.Context(), p.UserID, ref)
	} else {
		err = h.svc.Revoke(r.Context(), p.UserID, ref)
	}
	if err != nil {
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
		httpx.WriteError(w, http.StatusNotFound, "not_found", "No such personal access token.")
	case errors.Is(err, store.ErrInvalidText):
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "A value in the request is not valid text.")
	case errors.Is(err, ErrTooMany):
		httpx.WriteError(w, http.StatusConflict, "too_many_tokens", fmt.Sprintf("You have %d personal access tokens; revoke some first.", h.svc.cfg.MaxPerUser))
	default:
		h.serverError(w, r, err)
	}
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "pat: request failed", "path", r.URL.Path, "err", err)
	httpx.WriteError(w, http.StatusInternalServerError, "server_error", "internal error")
}

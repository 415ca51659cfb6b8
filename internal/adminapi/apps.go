package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// AppService is the app-management service (*apps.Service): every app
// route calls it with an administrator actor, as the console and the CLI do.
type AppService interface {
	Get(ctx context.Context, a apps.Actor, id string) (apps.App, error)
	Update(ctx context.Context, a apps.Actor, id string, in apps.UpdateInput) (apps.App, error)
	List(ctx context.Context, a apps.Actor, f apps.ListFilter) ([]apps.App, string, error)
	ReviewCounts(ctx context.Context, a apps.Actor) (apps.ReviewCounts, error)
	Approve(ctx context.Context, a apps.Actor, id string, what apps.ApproveInput) (apps.App, error)
	Reject(ctx context.Context, a apps.Actor, id, reason string) (apps.App, error)
	Disable(ctx context.Context, a apps.Actor, id, reason string) (apps.App, error)
	Enable(ctx context.Context, a apps.Actor, id string) (apps.App, error)
	RotateSecret(ctx context.Context, a apps.Actor, id string) (string, apps.SecretInfo, error)
	RetireSecret(ctx context.Context, a apps.Actor, id, secretID string) error
	Delete(ctx context.Context, a apps.Actor, id string) error
	CreateAPIKey(ctx context.Context, a apps.Actor, in apps.APIKeyInput) (*apikey.Created, error)
	ListAPIKeys(ctx context.Context, a apps.Actor, id string) ([]store.APIKey, error)
}

// WithApps mounts the app routes over svc and returns h.
func (h *Handler) WithApps(svc AppService) *Handler {
	h.appsvc = svc
	return h
}

func (h *Handler) appRoutes(m map[Route]http.HandlerFunc) {
	if h.appsvc == nil {
		return
	}
	m[Route{"GET", "/admin/apps"}] = h.listApps
	m[Route{"GET", "/admin/apps/{id}"}] = h.showApp
	m[Route{"PATCH", "/admin/apps/{id}"}] = h.updateApp
	m[Route{"POST", "/admin/apps/{id}/approve"}] = h.approveApp
	m[Route{"POST", "/admin/apps/{id}/reject"}] = h.rejectApp
	m[Route{"POST", "/admin/apps/{id}/disable"}] = h.disableApp
	m[Route{"POST", "/admin/apps/{id}/enable"}] = h.enableApp
	m[Route{"POST", "/admin/apps/{id}/retire-secret"}] = h.retireSecret
	m[Route{"DELETE", "/admin/apps/{id}"}] = h.deleteApp
	m[Route{"GET", "/admin/review-queue"}] = h.reviewQueue
}

// inPersonRoutes mint a credential: a bearer token alone never does ("a
// credential never mints a longer-lived credential"), so they take the
// administrator's password and second factor on the request itself.
func (h *Handler) inPersonRoutes(m map[Route]http.HandlerFunc) {
	if h.appsvc == nil {
		return
	}
	m[Route{"POST", "/admin/apps/{id}/rotate-secret"}] = h.rotateSecret
	m[Route{"POST", "/admin/apps/{id}/keys"}] = h.createKey
}

// requireAdminInPerson lets through HTTP Basic email:password (with the
// OTP-Token header when two-factor is on; authn refuses the password
// without it) of an account that is, at this moment, an enabled
// administrator. A bearer credential of any kind gets 401 password_required.
func (h *Handler) requireAdminInPerson(next http.HandlerFunc) http.Handler {
	return h.auth.Require(scope.Admin, authn.OwnerInPerson())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		if authn.InPerson(p) != nil {
			writeError(w, http.StatusUnauthorized, "password_required",
				"Minting a credential needs the administrator's email and password (HTTP Basic, plus the OTP-Token header when two-factor is on); a bearer token cannot.")
			return
		}
		u, err := h.users.UserByID(r.Context(), p.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.serverError(w, "admin check", err)
			return
		}
		if u == nil || !u.Admin || u.Disabled {
			writeError(w, http.StatusForbidden, "admin_required", "This account is not an administrator.")
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, u.ID)
		next(w, r.WithContext(context.WithValue(ctx, inPersonKey{}, true)))
	}))
}

type inPersonKey struct{}

// appActor is the administrator behind the request; in person only on the
// routes guarded by requireAdminInPerson.
func appActor(r *http.Request) apps.Actor {
	id, _ := r.Context().Value(actorKey{}).(string)
	inPerson, _ := r.Context().Value(inPersonKey{}).(bool)
	return apps.AdminActor(id, inPerson)
}

// App is an app in admin API responses.
type App struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	HomepageURL   string   `json:"homepage_url"`
	Type          string   `json:"type"`
	Status        string   `json:"status"`
	ReviewReason  string   `json:"review_reason"`
	OwnerUserID   string   `json:"owner_user_id"`
	Environment   string   `json:"environment"`
	RedirectURIs  []string `json:"redirect_uris"`
	Scopes        []string `json:"scopes"`
	GrantTypes    []string `json:"grant_types"`
	PendingScopes []string `json:"pending_scopes"`
	PendingGrants []string `json:"pending_grant_types"`
	// AccessTokenFormat is "opaque", "jwt" or "" (the server default).
	AccessTokenFormat string `json:"access_token_format"`
	// SubjectType is "public" or "pairwise".
	SubjectType string    `json:"subject_type"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// AppUpdate is the body of PATCH /admin/apps/{id}: the fields to change
// (absent ones are left as they are).
type AppUpdate struct {
	AccessTokenFormat *string `json:"access_token_format"`
	SubjectType       *string `json:"subject_type"`
}

// Secret describes a client secret (never the secret itself).
type Secret struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RetireAt   *time.Time `json:"retire_at"`
}

// APIKey describes an API key of an app (never the key itself).
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// AppDetail is GET /admin/apps/{id}.
type AppDetail struct {
	App
	Secrets []Secret `json:"secrets"`
	APIKeys []APIKey `json:"api_keys"`
}

// ReviewQueue is GET /admin/review-queue.
type ReviewQueue struct {
	PendingApps  int `json:"pending_apps"`
	PendingParts int `json:"apps_with_pending_parts"`
	Active       int `json:"active"`
	Rejected     int `json:"rejected"`
	Disabled     int `json:"disabled"`
}

// RotatedSecret is the answer of rotate-secret: the secret is shown once.
type RotatedSecret struct {
	ClientID     string    `json:"client_id"`
	SecretID     string    `json:"secret_id"`
	ClientSecret string    `json:"client_secret"`
	CreatedAt    time.Time `json:"created_at"`
}

// CreatedKey is the answer of POST /admin/apps/{id}/keys: the key is shown
// once.
type CreatedKey struct {
	Key string `json:"key"`
	APIKey
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toApp(a apps.App) App {
	return App{ID: a.ID, Name: a.Name, Description: a.Description, HomepageURL: a.HomepageURL, Type: a.Type,
		Status: a.Status, ReviewReason: a.ReviewReason, OwnerUserID: a.OwnerUserID, Environment: a.Environment,
		RedirectURIs: nonNil(a.RedirectURIs), Scopes: nonNil(a.Scopes), GrantTypes: nonNil(a.GrantTypes),
		PendingScopes: nonNil(a.PendingScopes), PendingGrants: nonNil(a.PendingGrants),
		AccessTokenFormat: a.AccessTokenFormat, SubjectType: a.SubjectType,
		CreatedAt: a.Created.UTC(), UpdatedAt: a.Updated.UTC()}
}

func toKey(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Scopes: nonNil(k.Scopes), CreatedAt: k.CreatedAt.UTC(),
		ExpiresAt: utcp(k.ExpiresAt), LastUsedAt: utcp(k.LastUsedAt)}
}

// appError renders the app service's errors.
func (h *Handler) appError(w http.ResponseWriter, err error) {
	var inv *apps.InvalidError
	switch {
	case errors.As(err, &inv):
		var msgs []string
		for f, ms := range inv.Fields {
			for _, m := range ms {
				if f != "" {
					m = f + ": " + m
				}
				msgs = append(msgs, m)
			}
		}
		sort.Strings(msgs)
		writeError(w, http.StatusBadRequest, "invalid_request", strings.Join(msgs, "; "))
	case errors.Is(err, apps.ErrNotFound), errors.Is(err, store.ErrInvalidText):
		writeError(w, http.StatusNotFound, "not_found", "There is no app with this id.")
	case errors.Is(err, apps.ErrTooManySecrets):
		writeError(w, http.StatusConflict, "too_many_secrets", "The app has two live secrets: retire one first.")
	case errors.Is(err, apikey.ErrTooMany):
		writeError(w, http.StatusConflict, "too_many_keys", "The app has as many API keys as it may hold: revoke one first.")
	case errors.Is(err, apps.ErrNeedsInPerson):
		writeError(w, http.StatusUnauthorized, "password_required", "Minting a credential needs the administrator's password and second factor on the request.")
	case errors.Is(err, apps.ErrForbidden):
		writeError(w, http.StatusForbidden, "admin_required", "This needs an administrator.")
	default:
		var kinv *apikey.InvalidError
		if errors.As(err, &kinv) {
			code := "invalid_request"
			if kinv.Scope {
				code = "invalid_scope"
			}
			writeError(w, http.StatusBadRequest, code, kinv.Field+": "+kinv.Message)
			return
		}
		h.serverError(w, "app action", err)
	}
}

// readBody decodes an optional JSON body into v (an empty body leaves v as
// it is). It answers 400 and false when the body is not that JSON.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid_request", "The body must be the JSON object this route documents: "+err.Error())
		return false
	}
	return true
}

func (h *Handler) listApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "invalid_request", "limit must be a number from 1 to "+strconv.Itoa(maxLimit)+".")
			return
		}
		limit = n
	}
	status := q.Get("status")
	switch status {
	case "", apps.StatusPending, apps.StatusActive, apps.StatusRejected, apps.StatusDisabled:
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "status must be pending, active, rejected or disabled.")
		return
	}
	list, next, err := h.appsvc.List(r.Context(), appActor(r), apps.ListFilter{
		Status: status, Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		h.appError(w, err)
		return
	}
	out := Page[App]{Items: []App{}, NextCursor: next}
	for _, a := range list {
		out.Items = append(out.Items, toApp(a))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) showApp(w http.ResponseWriter, r *http.Request) {
	actor := appActor(r)
	a, err := h.appsvc.Get(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		h.appError(w, err)
		return
	}
	d := AppDetail{App: toApp(a), Secrets: []Secret{}, APIKeys: []APIKey{}}
	for _, s := range a.Secrets {
		d.Secrets = append(d.Secrets, Secret{ID: s.ID, CreatedAt: s.Created.UTC(), LastUsedAt: utcp(s.LastUsed), RetireAt: utcp(s.RetireAt)})
	}
	keys, err := h.appsvc.ListAPIKeys(r.Context(), actor, a.ID)
	if err != nil && !errors.Is(err, apps.ErrNotFound) {
		h.appError(w, err)
		return
	}
	for _, k := range keys {
		d.APIKeys = append(d.APIKeys, toKey(k))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, d)
}

// updateApp changes an app's token options through the app service, which
// checks them as it does for the developer (a pairwise app stays pairwise).
func (h *Handler) updateApp(w http.ResponseWriter, r *http.Request) {
	var body AppUpdate
	if !readBody(w, r, &body) {
		return
	}
	a, err := h.appsvc.Update(r.Context(), appActor(r), r.PathValue("id"), apps.UpdateInput{
		AccessTokenFormat: body.AccessTokenFormat, SubjectType: body.SubjectType,
	})
	h.writeApp(w, a, err)
}

func (h *Handler) writeApp(w http.ResponseWriter, a apps.App, err error) {
	if err != nil {
		h.appError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, toApp(a))
}

func (h *Handler) approveApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scopes     []string `json:"scopes"`
		GrantTypes []string `json:"grant_types"`
	}
	if !readBody(w, r, &body) {
		return
	}
	// Naming either list approves only the named parts; naming neither
	// approves everything pending.
	in := apps.ApproveInput{}
	if body.Scopes != nil || body.GrantTypes != nil {
		in = apps.ApproveInput{Scopes: nonNil(body.Scopes), Grants: nonNil(body.GrantTypes)}
	}
	a, err := h.appsvc.Approve(r.Context(), appActor(r), r.PathValue("id"), in)
	h.writeApp(w, a, err)
}

func (h *Handler) rejectApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !readBody(w, r, &body) {
		return
	}
	a, err := h.appsvc.Reject(r.Context(), appActor(r), r.PathValue("id"), body.Reason)
	h.writeApp(w, a, err)
}

func (h *Handler) disableApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !readBody(w, r, &body) {
		return
	}
	a, err := h.appsvc.Disable(r.Context(), appActor(r), r.PathValue("id"), body.Reason)
	h.writeApp(w, a, err)
}

func (h *Handler) enableApp(w http.ResponseWriter, r *http.Request) {
	a, err := h.appsvc.Enable(r.Context(), appActor(r), r.PathValue("id"))
	h.writeApp(w, a, err)
}

func (h *Handler) retireSecret(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SecretID string `json:"secret_id"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.SecretID == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Send {\"secret_id\": \"...\"}: the id of the secret to retire.")
		return
	}
	actor := appActor(r)
	if err := h.appsvc.RetireSecret(r.Context(), actor, r.PathValue("id"), body.SecretID); err != nil {
		if errors.Is(err, apps.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", "There is no app with this id, or no secret with this id on it.")
			return
		}
		h.appError(w, err)
		return
	}
	a, err := h.appsvc.Get(r.Context(), actor, r.PathValue("id"))
	h.writeApp(w, a, err)
}

func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) {
	if err := h.appsvc.Delete(r.Context(), appActor(r), r.PathValue("id")); err != nil {
		h.appError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) reviewQueue(w http.ResponseWriter, r *http.Request) {
	n, err := h.appsvc.ReviewCounts(r.Context(), appActor(r))
	if err != nil {
		h.appError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, ReviewQueue{PendingApps: n.PendingApps, PendingParts: n.PendingParts,
		Active: n.Active, Rejected: n.Rejected, Disabled: n.Disabled})
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	secret, info, err := h.appsvc.RotateSecret(r.Context(), appActor(r), r.PathValue("id"))
	if err != nil {
		h.appError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusCreated, RotatedSecret{ClientID: r.PathValue("id"), SecretID: info.ID,
		ClientSecret: secret, CreatedAt: info.Created.UTC()})
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name         string   `json:"name"`
		Scopes       []string `json:"scopes"`
		ExpiresIn    int64    `json:"expires_in"`
		AllowedCIDRs []string `json:"allowed_cidrs"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.ExpiresIn < 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", "expires_in is a number of seconds, 0 for no expiry.")
		return
	}
	k, err := h.appsvc.CreateAPIKey(r.Context(), appActor(r), apps.APIKeyInput{ClientID: r.PathValue("id"),
		Name: body.Name, Scopes: body.Scopes, ExpiresIn: time.Duration(body.ExpiresIn) * time.Second, AllowedCIDRs: body.AllowedCIDRs})
	if err != nil {
		h.appError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusCreated, CreatedKey{Key: k.Secret, APIKey: toKey(k.Key)})
}

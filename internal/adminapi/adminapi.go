// Package adminapi serves the administrators' JSON API under /admin. Every
// request carries a personal access token with the admin scope whose owner
// is an administrator NOW: the role is read again on every request, so a
// token stops working here the moment its owner stops being one. User
// actions call identity.Admin, the same operations as the console and CLI.
package adminapi

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document of the admin API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// Admin is the administrator operations of the account service
// (*identity.Admin).
type Admin interface {
	Find(ctx context.Context, ref string) (*store.User, error)
	Sessions(ctx context.Context, userID string) ([]store.Session, error)
	Disable(ctx context.Context, actor, userID string) (*store.User, error)
	Enable(ctx context.Context, actor, userID string) (*store.User, error)
	EndSessions(ctx context.Context, actor, userID string) (*store.User, error)
	ResetSecondFactor(ctx context.Context, actor, userID string) (*store.User, error)
	ForcePasswordChange(ctx context.Context, actor, userID string) (*store.User, error)
}

// Users lists accounts (*identity.Service).
type Users interface {
	ListUsers(ctx context.Context) ([]store.User, error)
	UserByID(ctx context.Context, id string) (*store.User, error)
}

// PATs lists a user's personal access tokens (*pat.Service).
type PATs interface {
	List(ctx context.Context, userID string) ([]store.PAT, error)
}

// Authorized lists the apps a user allowed (*oauth.Service).
type Authorized interface {
	AuthorizedApps(ctx context.Context, userID string) ([]oauth.AuthorizedApp, error)
}

// Handler serves /admin.
type Handler struct {
	admin Admin
	users Users
	pats  PATs
	apps  Authorized
	auth  *authn.Authenticator
	log   *slog.Logger
	// webhooks is nil unless WithWebhooks was called (webhooks.go).
	webhooks Webhooks
	// appsvc serves the app routes (nil: they are not mounted).
	appsvc AppService
	audit  AuditLog // nil: /admin/audit not mounted (WithAudit)
	// activity is nil unless WithActivity was called (activity.go).
	activity Activity
}

// New builds the handler.
func New(admin Admin, users Users, pats PATs, apps Authorized, auth *authn.Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{admin: admin, users: users, pats: pats, apps: apps, auth: auth, log: log}
}

// Route is one documented route (method and pattern as in the OpenAPI
// document's paths).
type Route struct{ Method, Path string }

// Routes lists every route the handler mounts; the OpenAPI test checks each
// is documented.
func (h *Handler) routeTable() map[Route]http.HandlerFunc {
	m := h.bearerRoutes()
	h.inPersonRoutes(m)
	return m
}

// bearerRoutes take the administrator's admin-scoped personal access token.
func (h *Handler) bearerRoutes() map[Route]http.HandlerFunc {
	m := map[Route]http.HandlerFunc{
		{"GET", "/admin/users"}:                             h.listUsers,
		{"GET", "/admin/users/{id}"}:                        h.showUser,
		{"POST", "/admin/users/{id}/disable"}:               h.userAction(h.admin.Disable),
		{"POST", "/admin/users/{id}/enable"}:                h.userAction(h.admin.Enable),
		{"POST", "/admin/users/{id}/end-sessions"}:          h.userAction(h.admin.EndSessions),
		{"POST", "/admin/users/{id}/reset-2fa"}:             h.userAction(h.admin.ResetSecondFactor),
		{"POST", "/admin/users/{id}/force-password-change"}: h.userAction(h.admin.ForcePasswordChange),
	}
	h.appRoutes(m)
	maps.Copy(m, h.webhookRoutes())
	if h.audit != nil {
		m[Route{"GET", "/admin/audit"}] = h.listAudit
	}
	if h.activity != nil {
		m[Route{"GET", "/admin/activity"}] = h.showActivity
	}
	return m
}

// RouteList returns the mounted routes.
func (h *Handler) RouteList() []Route {
	var out []Route
	for r := range h.routeTable() {
		out = append(out, r)
	}
	return out
}

// Routes mounts the admin API and its OpenAPI document.
func (h *Handler) Routes(mux *http.ServeMux) {
	for r, f := range h.bearerRoutes() {
		mux.Handle(r.Method+" "+r.Path, h.requireAdmin(f))
	}
	inPerson := map[Route]http.HandlerFunc{}
	h.inPersonRoutes(inPerson)
	for r, f := range inPerson {
		mux.Handle(r.Method+" "+r.Path, h.requireAdminInPerson(f))
	}
	mux.HandleFunc("GET /admin/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDoc)
	})
}

// writeError is the one place admin API errors are rendered:
// {"error": "...", "error_description": "..."}.
func writeError(w http.ResponseWriter, status int, code, desc string) {
	httpx.NoStore(w)
	httpx.WriteError(w, status, code, desc)
}

type actorKey struct{}

// requireAdmin lets through a personal access token carrying the admin
// scope whose owner is, at this moment, an enabled administrator.
func (h *Handler) requireAdmin(next http.HandlerFunc) http.Handler {
	return h.auth.Require(scope.Admin, authn.NoBasic())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		if p == nil || p.Method != authn.MethodPAT || p.UserID == "" {
			writeError(w, http.StatusForbidden, "admin_required",
				"The admin API needs an administrator's personal access token carrying the admin scope.")
			return
		}
		// The role is read on every request: a PAT keeps its scope, but
		// its owner may have stopped being an administrator.
		u, err := h.users.UserByID(r.Context(), p.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.serverError(w, "admin check", err)
			return
		}
		if u == nil || !u.Admin || u.Disabled {
			writeError(w, http.StatusForbidden, "admin_required",
				"The owner of this token is not an administrator.")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, u.ID)))
	}))
}

func actor(r *http.Request) string {
	id, _ := r.Context().Value(actorKey{}).(string)
	return "admin:" + id
}

func (h *Handler) serverError(w http.ResponseWriter, what string, err error) {
	h.log.Error("admin api: "+what, "err", err)
	writeError(w, http.StatusInternalServerError, "server_error", "The request failed on the server; try again.")
}

// ---------------------------------------------------------------- users

// User is a user in admin API responses.
type User struct {
	ID                 string    `json:"id"`
	Email              string    `json:"email"`
	Name               string    `json:"name"`
	Admin              bool      `json:"admin"`
	Disabled           bool      `json:"disabled"`
	TwoFactor          bool      `json:"two_factor"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

func toUser(u *store.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled,
		TwoFactor: u.TOTPEnabled, MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt.UTC()}
}

// Session is a signed-in browser of a user.
type Session struct {
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// PAT is a personal access token's description (never the token).
type PAT struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	Scopes      []string   `json:"scopes"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
}

// AuthorizedApp is an app the user allowed to act for them.
type AuthorizedApp struct {
	ClientID string    `json:"client_id"`
	Name     string    `json:"name"`
	Scopes   []string  `json:"scopes"`
	Since    time.Time `json:"since"`
}

// UserDetail is GET /admin/users/{id}.
type UserDetail struct {
	User
	Sessions       []Session       `json:"sessions"`
	PATs           []PAT           `json:"personal_access_tokens"`
	AuthorizedApps []AuthorizedApp `json:"authorized_apps"`
}

// Page is a page of a list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

const (
	defaultLimit = 50
	maxLimit     = 200
)

// pageArgs reads ?cursor=&limit=. The cursor is opaque to clients: the id
// of the last item of the previous page.
func pageArgs(r *http.Request) (after string, limit int, ok bool) {
	limit = defaultLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return "", 0, false
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			return "", 0, false
		}
		after = string(b)
	}
	return after, limit, true
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := pageArgs(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request",
			"limit must be a number from 1 to "+strconv.Itoa(maxLimit)+", and cursor the next_cursor of a previous page.")
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	all, err := h.users.ListUsers(r.Context())
	if err != nil {
		h.serverError(w, "list users", err)
		return
	}
	out := Page[User]{Items: []User{}}
	started := after == ""
	for i := range all {
		u := &all[i]
		if !started {
			started = u.ID == after
			continue
		}
		if q != "" && !strings.Contains(u.Email, q) && !strings.Contains(strings.ToLower(u.Name), q) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(out.Items[limit-1].ID))
			break
		}
		out.Items = append(out.Items, toUser(u))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) findUser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, err := h.users.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		writeError(w, http.StatusNotFound, "not_found", "There is no user with this id.")
		return nil, false
	}
	if err != nil {
		h.serverError(w, "find user", err)
		return nil, false
	}
	return u, true
}

func (h *Handler) showUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.findUser(w, r)
	if !ok {
		return
	}
	d := UserDetail{User: toUser(u), Sessions: []Session{}, PATs: []PAT{}, AuthorizedApps: []AuthorizedApp{}}
	apps, err := h.apps.AuthorizedApps(r.Context(), u.ID)
	if err != nil {
		h.serverError(w, "authorized apps", err)
		return
	}
	for _, a := range apps {
		aa := AuthorizedApp{ClientID: a.ClientID, Name: a.Name, Scopes: []string{}, Since: a.Since.UTC()}
		for _, sc := range a.Scopes {
			aa.Scopes = append(aa.Scopes, sc.Name)
		}
		d.AuthorizedApps = append(d.AuthorizedApps, aa)
	}
	sessions, err := h.admin.Sessions(r.Context(), u.ID)
	if err != nil {
		h.serverError(w, "list sessions", err)
		return
	}
	for _, s := range sessions {
		d.Sessions = append(d.Sessions, Session{UserAgent: s.UserAgent, IP: s.IP, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC()})
	}
	pats, err := h.pats.List(r.Context(), u.ID)
	if err != nil {
		h.serverError(w, "list pats", err)
		return
	}
	for _, p := range pats {
		d.PATs = append(d.PATs, PAT{ID: p.ID, Description: p.Description, Scopes: append([]string{}, p.Scopes...),
			CreatedAt: p.CreatedAt.UTC(), ExpiresAt: p.ExpiresAt, LastUsedAt: p.LastUsedAt})
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, d)
}

func (h *Handler) userAction(do func(ctx context.Context, actor, userID string) (*store.User, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.findUser(w, r)
		if !ok {
			return
		}
		u, err := do(r.Context(), actor(r), u.ID)
		if err != nil {
			h.serverError(w, "user action", err)
			return
		}
		httpx.NoStore(w)
		httpx.WriteJSON(w, http.StatusOK, toUser(u))
	}
}

package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ConsolePages is the administrators' console under /console: the user
// list (with search) and a user's page (sessions, personal access tokens;
// disable, enable, end sessions, reset the second factor, force a password
// change). Every action calls identity.Admin, as the admin API and the CLI
// do.
type ConsolePages struct {
	h    *Handler
	adm  *identity.Admin
	pats interface {
		List(ctx context.Context, userID string) ([]store.PAT, error)
	}
	apps interface {
		AuthorizedApps(ctx context.Context, userID string) ([]oauth.AuthorizedApp, error)
	}
	// appsvc serves the app pages (nil: only the user pages exist).
	appsvc *apps.Service
	// activity draws the overview's charts (nil: no charts).
	activity ActivityReader
}

// NewConsolePages returns the area.
func NewConsolePages(h *Handler, adm *identity.Admin, pats interface {
	List(ctx context.Context, userID string) ([]store.PAT, error)
}, apps interface {
	AuthorizedApps(ctx context.Context, userID string) ([]oauth.AuthorizedApp, error)
}) *ConsolePages {
	return &ConsolePages{h: h, adm: adm, pats: pats, apps: apps}
}

// consoleActions maps a form's action to its operation.
var consoleActions = map[string]struct {
	do     func(a *identity.Admin, ctx context.Context, actor, userID string) (*store.User, error)
	notice string
}{
	"disable":               {(*identity.Admin).Disable, "The account was disabled; its sessions and credentials stopped working."},
	"enable":                {(*identity.Admin).Enable, "The account was enabled."},
	"end-sessions":          {(*identity.Admin).EndSessions, "Every session of the user was ended."},
	"reset-2fa":             {(*identity.Admin).ResetSecondFactor, "Two-factor authentication was removed; the user can set it up again."},
	"force-password-change": {(*identity.Admin).ForcePasswordChange, "The user must choose a new password at the next sign-in."},
}

// Routes implements server.Area.
func (c *ConsolePages) Routes(mux *http.ServeMux) {
	mux.Handle("GET /console", c.h.Wrap(http.HandlerFunc(c.overview)))
	if c.appsvc != nil {
		c.appRoutes(mux)
	}
	mux.Handle("GET /console/users", c.h.Wrap(http.HandlerFunc(c.users)))
	mux.Handle("GET /console/users/{id}", c.h.Wrap(http.HandlerFunc(c.user)))
	mux.Handle("POST /console/users/{id}/{action}", c.h.Wrap(c.h.RequireCSRF(http.HandlerFunc(c.act))))
}

// requireAdmin returns the signed-in administrator; others get the sign-in
// page or a 404 (the console does not exist for them).
func (c *ConsolePages) requireAdmin(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, _, ok := c.h.CurrentUser(r)
	if !ok {
		if r.Method == http.MethodGet {
			c.h.RedirectToLogin(w, r, r.URL.RequestURI(), false)
		} else {
			http.Redirect(w, r, LoginURL("/console", false), http.StatusSeeOther)
		}
		return nil, false
	}
	if !u.Admin || u.Disabled {
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
		return nil, false
	}
	return u, true
}

type consoleUsersData struct {
	Query string
	Users []store.User
}

func (c *ConsolePages) users(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.requireAdmin(w, r); !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	all, err := c.h.id.ListUsers(r.Context())
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	d := consoleUsersData{Query: q}
	lq := strings.ToLower(q)
	for _, u := range all {
		if lq == "" || strings.Contains(u.Email, lq) || strings.Contains(strings.ToLower(u.Name), lq) {
			d.Users = append(d.Users, u)
		}
	}
	c.h.Render(w, r, http.StatusOK, "console_users.html", Page{Title: "Console: users", Data: d})
}

type consoleUserData struct {
	Subject  *store.User
	Sessions []sessionView
	PATs     []store.PAT
	Apps     []oauth.AuthorizedApp
}

func (c *ConsolePages) user(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.requireAdmin(w, r); !ok {
		return
	}
	u, err := c.adm.Find(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) || errors.Is(err, identity.ErrInvalidEmail) {
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
		return
	}
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	d := consoleUserData{Subject: u}
	sessions, err := c.adm.Sessions(r.Context(), u.ID)
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	for _, s := range sessions {
		d.Sessions = append(d.Sessions, sessionView{UserAgent: s.UserAgent, Browser: browserSummary(s.UserAgent), IP: s.IP,
			Created: s.CreatedAt, LastSeen: s.LastSeenAt})
	}
	if d.PATs, err = c.pats.List(r.Context(), u.ID); err != nil {
		c.h.serverError(w, r, err)
		return
	}
	if d.Apps, err = c.apps.AuthorizedApps(r.Context(), u.ID); err != nil {
		c.h.serverError(w, r, err)
		return
	}
	notice := ""
	if a, ok := consoleActions[r.URL.Query().Get("done")]; ok {
		notice = a.notice
	}
	c.h.Render(w, r, http.StatusOK, "console_user.html", Page{Title: "Console: " + u.Email, Notice: notice, Data: d})
}

func (c *ConsolePages) act(w http.ResponseWriter, r *http.Request) {
	admin, ok := c.requireAdmin(w, r)
	if !ok {
		return
	}
	a, known := consoleActions[r.PathValue("action")]
	u, err := c.adm.Find(r.Context(), r.PathValue("id"))
	if !known || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) || errors.Is(err, identity.ErrInvalidEmail) {
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
		return
	}
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	if _, err := a.do(c.adm, r.Context(), "admin:"+admin.ID, u.ID); err != nil {
		c.h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/users/"+url.PathEscape(u.ID)+"?done="+url.QueryEscape(r.PathValue("action")), http.StatusSeeOther)
}

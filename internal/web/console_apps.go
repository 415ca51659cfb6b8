package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/store"
)

// WithApps adds the app pages (overview with the review queue, the app list
// and an app's page with its review actions) over svc, the app service the
// admin API and the CLI use too, and returns c.
func (c *ConsolePages) WithApps(svc *apps.Service) *ConsolePages {
	c.appsvc = svc
	return c
}

func (c *ConsolePages) appRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/apps", c.h.Wrap(http.HandlerFunc(c.appList)))
	mux.Handle("GET /console/apps/{id}", c.h.Wrap(http.HandlerFunc(c.appPage)))
	mux.Handle("POST /console/apps/{id}/{action}", c.h.Wrap(c.h.RequireCSRF(http.HandlerFunc(c.appAct))))
}

// consoleActor is the signed-in administrator. A console form is CSRF
// checked in a signed-in browser session: in person, as Actor says.
func consoleActor(u *store.User) apps.Actor { return apps.AdminActor(u.ID, true) }

// appStatuses are the status filters, in the order the pages show them.
var appStatuses = []string{apps.StatusPending, apps.StatusActive, apps.StatusRejected, apps.StatusDisabled}

type consoleOverviewData struct {
	Counts   *apps.ReviewCounts   // nil without the app pages
	Activity *consoleActivityData // nil without the activity counters
}

func (c *ConsolePages) overview(w http.ResponseWriter, r *http.Request) {
	u, ok := c.requireAdmin(w, r)
	if !ok {
		return
	}
	if c.appsvc == nil && c.activity == nil {
		http.Redirect(w, r, "/console/users", http.StatusSeeOther)
		return
	}
	var d consoleOverviewData
	if c.appsvc != nil {
		n, err := c.appsvc.ReviewCounts(r.Context(), consoleActor(u))
		if err != nil {
			c.h.serverError(w, r, err)
			return
		}
		d.Counts = &n
	}
	if c.activity != nil {
		a, err := c.activityCharts(r.Context(), activityRange(r))
		if err != nil {
			c.h.serverError(w, r, err)
			return
		}
		d.Activity = a
	}
	c.h.Render(w, r, http.StatusOK, "console.html", Page{Title: "Console", Data: d})
}

type consoleAppsData struct {
	Query, Status string
	Statuses      []string
	Apps          []apps.App
	Next          string // the next page's query string ("" on the last page)
}

func (c *ConsolePages) appList(w http.ResponseWriter, r *http.Request) {
	u, ok := c.requireAdmin(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := consoleAppsData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Statuses: appStatuses}
	if !slices.Contains(appStatuses, d.Status) {
		d.Status = ""
	}
	list, next, err := c.appsvc.List(r.Context(), consoleActor(u), apps.ListFilter{
		Status: d.Status, Query: d.Query, Cursor: q.Get("cursor")})
	if errors.Is(err, apps.ErrInvalid) {
		// A cursor from elsewhere: start again from the first page.
		list, next, err = c.appsvc.List(r.Context(), consoleActor(u), apps.ListFilter{Status: d.Status, Query: d.Query})
	}
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	d.Apps = list
	if next != "" {
		d.Next = url.Values{"q": {d.Query}, "status": {d.Status}, "cursor": {next}}.Encode()
	}
	c.h.Render(w, r, http.StatusOK, "console_apps.html", Page{Title: "Console: apps", Data: d})
}

type consoleAppData struct {
	App  apps.App
	Keys []store.APIKey
	// Reason is the reject form's reason, kept when it was refused.
	Reason string
}

// appNotices are the messages after each action (?done=).
var appNotices = map[string]string{
	"approve": "Approved.",
	"reject":  "Rejected; the developer sees the reason.",
	"disable": "The app was disabled: its tokens and API keys stopped working.",
	"enable":  "The app was enabled.",
}

func (c *ConsolePages) renderApp(w http.ResponseWriter, r *http.Request, u *store.User, status int, id string, p Page, reason string) {
	a, err := c.appsvc.Get(r.Context(), consoleActor(u), id)
	if errors.Is(err, apps.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
		return
	}
	if err != nil {
		c.h.serverError(w, r, err)
		return
	}
	keys, err := c.appsvc.ListAPIKeys(r.Context(), consoleActor(u), a.ID)
	if err != nil && !errors.Is(err, apps.ErrNotFound) {
		c.h.serverError(w, r, err)
		return
	}
	p.Title = "Console: " + a.Name
	p.Data = consoleAppData{App: a, Keys: keys, Reason: reason}
	c.h.Render(w, r, status, "console_app.html", p)
}

func (c *ConsolePages) appPage(w http.ResponseWriter, r *http.Request) {
	u, ok := c.requireAdmin(w, r)
	if !ok {
		return
	}
	c.renderApp(w, r, u, http.StatusOK, r.PathValue("id"), Page{Notice: appNotices[r.URL.Query().Get("done")]}, "")
}

func (c *ConsolePages) appAct(w http.ResponseWriter, r *http.Request) {
	u, ok := c.requireAdmin(w, r)
	if !ok {
		return
	}
	id, action, actor := r.PathValue("id"), r.PathValue("action"), consoleActor(u)
	var err error
	switch action {
	case "approve":
		// "Approve selected" sends the ticked parts; "Approve all" sends
		// none and approves everything pending.
		in := apps.ApproveInput{}
		if r.PostFormValue("parts") == "selected" {
			in = apps.ApproveInput{Scopes: append([]string{}, r.PostForm["scope"]...), Grants: append([]string{}, r.PostForm["grant"]...)}
		}
		_, err = c.appsvc.Approve(r.Context(), actor, id, in)
	case "reject":
		_, err = c.appsvc.Reject(r.Context(), actor, id, r.PostFormValue("reason"))
	case "disable":
		_, err = c.appsvc.Disable(r.Context(), actor, id, r.PostFormValue("reason"))
	case "enable":
		_, err = c.appsvc.Enable(r.Context(), actor, id)
	default:
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
		return
	}
	var inv *apps.InvalidError
	switch {
	case errors.As(err, &inv):
		var msgs []string
		for _, ms := range inv.Fields {
			msgs = append(msgs, ms...)
		}
		sort.Strings(msgs)
		c.renderApp(w, r, u, http.StatusBadRequest, id, Page{Error: "Not done: " + strings.Join(msgs, "; ") + "."}, r.PostFormValue("reason"))
	case errors.Is(err, apps.ErrNotFound) || errors.Is(err, store.ErrInvalidText):
		c.h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
	case err != nil:
		c.h.serverError(w, r, err)
	default:
		http.Redirect(w, r, "/console/apps/"+url.PathEscape(id)+"?done="+url.QueryEscape(action), http.StatusSeeOther)
	}
}

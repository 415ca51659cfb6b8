package web

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// AuditLister lists audit log entries (*audit.Log).
type AuditLister interface {
	List(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
}

// AuditPages are the audit log's pages: /console/audit for administrators
// (filters and paging) and /account/activity, a user's own security
// history.
type AuditPages struct {
	h       *Handler
	console *ConsolePages // for its administrator check
	log     AuditLister
}

// NewAuditPages returns the area.
func NewAuditPages(h *Handler, console *ConsolePages, l AuditLister) *AuditPages {
	return &AuditPages{h: h, console: console, log: l}
}

// Routes implements server.Area.
func (p *AuditPages) Routes(mux *http.ServeMux) {
	mux.Handle("GET /console/audit", p.h.Wrap(http.HandlerFunc(p.consoleAudit)))
	mux.Handle("GET /account/activity", p.h.Wrap(http.HandlerFunc(p.activity)))
}

const consoleAuditPage = 50

type consoleAuditData struct {
	Type, User, App, Address, Since string
	Entries                         []store.AuditEntry
	// Next is the URL of the next (older) page; "" on the last. Built by
	// url.Values.Encode, so every value in it is escaped.
	Next template.URL
}

func (p *AuditPages) consoleAudit(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.console.requireAdmin(w, r); !ok {
		return
	}
	q := r.URL.Query()
	d := consoleAuditData{Type: strings.TrimSpace(q.Get("type")), User: strings.TrimSpace(q.Get("user")),
		App: strings.TrimSpace(q.Get("app")), Address: strings.TrimSpace(q.Get("address")), Since: strings.TrimSpace(q.Get("since"))}
	f := store.AuditFilter{Type: d.Type, User: d.User, App: d.App, ClientAddr: d.Address, Limit: consoleAuditPage + 1}
	if d.Since != "" {
		// A date from the form's date field: entries from that day on (UTC).
		t, err := time.Parse("2006-01-02", d.Since)
		if err != nil {
			p.h.Render(w, r, http.StatusBadRequest, "error.html", Page{Title: "Bad request", Error: "The date must look like 2026-01-31."})
			return
		}
		f.Since = t
	}
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && b > 0 {
		f.BeforeSeq = b
	}
	list, err := p.log.List(r.Context(), f)
	if err != nil {
		p.h.serverError(w, r, err)
		return
	}
	if len(list) > consoleAuditPage {
		list = list[:consoleAuditPage]
		next := q
		next.Set("before", strconv.FormatInt(list[len(list)-1].Seq, 10))
		d.Next = template.URL("/console/audit?" + next.Encode())
	}
	d.Entries = list
	p.h.Render(w, r, http.StatusOK, "console_audit.html", Page{Title: "Console: audit log", Data: d})
}

const activityLen = 20

func (p *AuditPages) activity(w http.ResponseWriter, r *http.Request) {
	u, _, ok := p.h.CurrentUser(r)
	if !ok {
		p.h.RedirectToLogin(w, r, r.URL.RequestURI(), false)
		return
	}
	// Only what happened to this account: entries whose subject is the
	// user (sign-ins, second factor, password, tokens, authorizations).
	all, err := p.log.List(r.Context(), store.AuditFilter{User: u.ID, Limit: 4 * activityLen})
	if err != nil {
		p.h.serverError(w, r, err)
		return
	}
	var list []store.AuditEntry
	for _, e := range all {
		if e.Subject == u.ID && len(list) < activityLen {
			list = append(list, e)
		}
	}
	p.h.Render(w, r, http.StatusOK, "account_activity.html", Page{Title: "Security history", Data: list})
}

package adminapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/store"
)

// AuditLog lists audit entries (*audit.Log).
type AuditLog interface {
	List(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
}

// WithAudit mounts GET /admin/audit over l.
func (h *Handler) WithAudit(l AuditLog) *Handler {
	h.audit = l
	return h
}

// listAudit is GET /admin/audit: entries newest first, filtered by type,
// user, app, address and time, with a cursor (the position of the last
// entry of the previous page, opaque to clients).
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) {
	bad := func() {
		writeError(w, http.StatusBadRequest, "invalid_request",
			"limit must be a number from 1 to "+strconv.Itoa(maxLimit)+", cursor the next_cursor of a previous page, since and until RFC 3339 times.")
	}
	after, limit, ok := pageArgs(r)
	if !ok {
		bad()
		return
	}
	q := r.URL.Query()
	f := store.AuditFilter{Type: q.Get("type"), User: q.Get("user"), App: q.Get("app"), ClientAddr: q.Get("address"), Limit: limit + 1}
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 1 {
			bad()
			return
		}
		f.BeforeSeq = n
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				bad()
				return
			}
			*p.to = t
		}
	}
	list, err := h.audit.List(r.Context(), f)
	if err != nil {
		h.serverError(w, "list audit", err)
		return
	}
	out := Page[audit.View]{Items: []audit.View{}}
	for i, e := range list {
		if i == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(list[i-1].Seq, 10)))
			break
		}
		out.Items = append(out.Items, audit.ViewOf(e))
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

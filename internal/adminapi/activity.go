package adminapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Activity reads the hourly activity counters (*activity.Counter).
type Activity interface {
	Last(ctx context.Context, days int) (activity.Series, error)
}

// WithActivity mounts GET /admin/activity over a.
func (h *Handler) WithActivity(a Activity) *Handler {
	h.activity = a
	return h
}

// maxActivityDays is the longest range served: the counters' retention.
const maxActivityDays = 90

// ActivityReport is the body of GET /admin/activity: one count per hour
// per event, the same series the console's overview draws.
type ActivityReport struct {
	// From is the first hour, To the end of the last (excluded).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Hours lists each hour's start; every series' counts align with it.
	Hours  []time.Time      `json:"hours"`
	Series []ActivitySeries `json:"series"`
}

// ActivitySeries is one event's counts.
type ActivitySeries struct {
	Name   string  `json:"name"` // e.g. sign_in.success, token.issued
	Total  int64   `json:"total"`
	Counts []int64 `json:"counts"`
}

// showActivity is GET /admin/activity?days=N (1 to 90, default 7): the
// last N×24 hours, the current one included.
func (h *Handler) showActivity(w http.ResponseWriter, r *http.Request) {
	days := 7
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxActivityDays {
			writeError(w, http.StatusBadRequest, "invalid_request", "days must be a number from 1 to "+strconv.Itoa(maxActivityDays)+".")
			return
		}
		days = n
	}
	s, err := h.activity.Last(r.Context(), days)
	if err != nil {
		h.serverError(w, "activity", err)
		return
	}
	out := ActivityReport{From: s.From, To: s.To, Hours: s.Hours, Series: []ActivitySeries{}}
	if out.Hours == nil {
		out.Hours = []time.Time{}
	}
	for _, e := range activity.Events() {
		out.Series = append(out.Series, ActivitySeries{Name: e.Name(), Total: s.Total(e), Counts: s.Of(e)})
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, out)
}

package web

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
)

// ActivityReader reads the hourly activity counters (*activity.Counter).
type ActivityReader interface {
	Last(ctx context.Context, days int) (activity.Series, error)
}

// WithActivity adds the activity charts to the console's overview, read
// from r, and returns c.
func (c *ConsolePages) WithActivity(r ActivityReader) *ConsolePages {
	c.activity = r
	return c
}

// activityDays are the ranges the overview offers (?days=).
var activityDays = []int{1, 7, 30}

type consoleActivityData struct {
	Days    int
	Options []int
	// Totals for the page's text, next to the charts.
	SignIns, Failures, Lockouts, Tokens, RateLimited, Replays int64
	Charts                                                    []consoleChart
}

// consoleChart is one drawn chart and its caption.
type consoleChart struct {
	Title string
	SVG   template.HTML
}

// activityCharts reads the last days of counters and draws the overview's
// charts: sign-ins against failures, tokens issued, rate-limit refusals.
func (c *ConsolePages) activityCharts(ctx context.Context, days int) (*consoleActivityData, error) {
	s, err := c.activity.Last(ctx, days)
	if err != nil {
		return nil, err
	}
	d := &consoleActivityData{Days: days, Options: activityDays,
		SignIns: s.Total(activity.SignInSuccess), Failures: s.Total(activity.SignInFailure),
		Lockouts: s.Total(activity.SignInLockout), Tokens: s.Total(activity.TokenIssued),
		RateLimited: s.Total(activity.RateLimitHit), Replays: s.Total(activity.ReplayDetected)}
	charts := []chart{
		{ID: "chart-sign-ins", Title: "Sign-ins", Unit: "sign-ins", Start: s.From, Step: time.Hour,
			Series: []chartSeries{
				{Name: "Successful", Class: "chart-s0", Fill: "#1a56db", Values: s.Of(activity.SignInSuccess)},
				{Name: "Failed", Class: "chart-s1", Fill: "#b42318", Values: s.Of(activity.SignInFailure)},
			}},
		{ID: "chart-tokens", Title: "Tokens issued", Unit: "access tokens", Start: s.From, Step: time.Hour,
			Series: []chartSeries{{Name: "Issued", Class: "chart-s2", Fill: "#0f766e", Values: s.Of(activity.TokenIssued)}}},
		{ID: "chart-rate-limits", Title: "Rate-limit refusals", Unit: "requests", Start: s.From, Step: time.Hour,
			Series: []chartSeries{{Name: "Refused", Class: "chart-s3", Fill: "#b45309", Values: s.Of(activity.RateLimitHit)}}},
	}
	for _, c := range charts {
		d.Charts = append(d.Charts, consoleChart{Title: c.Title, SVG: renderChart(c)})
	}
	return d, nil
}

// activityRange reads ?days=, falling back to a week for anything else.
func activityRange(r *http.Request) int {
	switch r.URL.Query().Get("days") {
	case "1":
		return 1
	case "30":
		return 30
	}
	return 7
}

package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// chartSeries is one line of a chart: a name for the legend and one value
// per bucket.
type chartSeries struct {
	Name   string  // legend text, e.g. "Failed"
	Class  string  // CSS class of its bars (colour), e.g. "chart-s1"
	Fill   string  // fallback colour where the stylesheet does not apply
	Values []int64 // one per bucket, aligned with chart.Start + i*Step
}

// chart is a bar chart over time buckets.
type chart struct {
	ID    string // element id prefix; unique on the page
	Title string // e.g. "Sign-ins"
	Unit  string // what one count is, for hover titles, e.g. "sign-ins"
	Start time.Time
	Step  time.Duration
	// Series share the x axis; with several, each bucket shows their bars
	// side by side.
	Series []chartSeries
}

// Chart geometry, in viewBox units. The SVG scales to its container's
// width (width="100%"), so at 390 px the text shrinks by about 0.7: the
// font size is chosen to stay readable there.
const (
	chartW, chartH        = 420.0, 220.0
	chartLeft, chartRight = 44.0, 8.0
	chartTop, chartBottom = 28.0, 24.0
	chartFont             = 14
	chartCharW            = 7.8 // an estimate of one character's width at chartFont
	// chartTickFont is the x labels' smaller size: a week's seven day
	// names fit side by side.
	chartTickFont  = 12
	chartGridLines = 4
	chartEmptyH    = 48.0
	chartPlotW     = chartW - chartLeft - chartRight
	chartPlotH     = chartH - chartTop - chartBottom
	// chartMinLabelSpacing keeps x labels ("Thu 26") apart.
	chartMinLabelSpacing = 50.0
)

// niceMax is the smallest 1, 2 or 5 × 10ⁿ at or above v (at least
// chartGridLines, so every grid line is a whole number).
func niceMax(v int64) int64 {
	if v <= chartGridLines {
		return chartGridLines
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if n := m * p * chartGridLines; n >= v {
				return n
			}
		}
		if p > math.MaxInt64/100 {
			return v
		}
	}
}

// num renders a coordinate: one decimal, never NaN or Inf.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// esc escapes text for an SVG text node or a quoted attribute.
func esc(s string) string { return template.HTMLEscapeString(s) }

// renderChart draws c as an accessible, self-contained inline SVG: axis
// labels, grid lines, a legend, a <title> on every bar for hover, and
// role="img" with an aria-label that carries each series' total. With no
// counts at all it says "No activity yet" instead of drawing empty axes.
// It is a pure function of c; every value in it is escaped.
func renderChart(c chart) template.HTML {
	buckets := 0
	var top int64
	totals := make([]int64, len(c.Series))
	for i, s := range c.Series {
		buckets = max(buckets, len(s.Values))
		for _, v := range s.Values {
			v = max(v, 0)
			totals[i] += v
			top = max(top, v)
		}
	}
	var label strings.Builder
	label.WriteString(c.Title)
	if top == 0 {
		label.WriteString(": no activity yet")
	} else {
		label.WriteString(":")
		for i, s := range c.Series {
			if i > 0 {
				label.WriteString(",")
			}
			fmt.Fprintf(&label, " %d %s", totals[i], strings.ToLower(s.Name))
		}
	}
	empty := top == 0 || buckets == 0
	h := chartH
	if empty {
		h = chartEmptyH // a line of text, not a plot's worth of blank
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %s %s" width="100%%" role="img" aria-label="%s" font-size="%d" xmlns="http://www.w3.org/2000/svg">`,
		esc(c.ID), num(chartW), num(h), esc(label.String()), chartFont)
	fmt.Fprintf(&b, `<title>%s</title>`, esc(label.String()))
	if empty {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" class="chart-empty" fill="currentColor">No activity yet</text></svg>`,
			num(chartW/2), num(h/2+5))
		return template.HTML(b.String())
	}

	// Legend, top left above the plot.
	x := chartLeft
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%s" y="8" width="12" height="12" class="%s" fill="%s"/>`, num(x), esc(s.Class), esc(s.Fill))
		fmt.Fprintf(&b, `<text x="%s" y="19" fill="currentColor">%s</text>`, num(x+16), esc(s.Name))
		x += 16 + float64(len(s.Name))*chartCharW + 16
	}

	// Grid lines and y labels.
	ymax := niceMax(top)
	y := func(v int64) float64 { return chartTop + chartPlotH - float64(v)/float64(ymax)*chartPlotH }
	for i := 0; i <= chartGridLines; i++ {
		v := ymax * int64(i) / chartGridLines
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" class="chart-grid" stroke="currentColor" stroke-opacity="0.2"/>`,
			num(chartLeft), num(chartW-chartRight), num(y(v)), num(y(v)))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="currentColor">%s</text>`,
			num(chartLeft-4), num(y(v)+4), esc(compact(v)))
	}

	// X labels: at day boundaries (or every few hours for short ranges),
	// no closer than the minimum spacing.
	slot := chartPlotW / float64(buckets)
	every := labelEvery(c.Step, buckets)
	for i := range buckets {
		t := c.Start.Add(time.Duration(i) * c.Step).UTC()
		if !onLabel(t, every) {
			continue
		}
		lx := chartLeft + float64(i)*slot
		text := tickLabel(t, every)
		if lx+2+float64(len(text))*chartCharW*chartTickFont/chartFont > chartW {
			continue // would run off the right edge
		}
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="currentColor" stroke-opacity="0.35"/>`,
			num(lx), num(lx), num(chartTop+chartPlotH), num(chartTop+chartPlotH+4))
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="%d" fill="currentColor">%s</text>`,
			num(lx+2), num(chartH-6), chartTickFont, esc(text))
	}
	fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="currentColor" stroke-opacity="0.6"/>`,
		num(chartLeft), num(chartW-chartRight), num(chartTop+chartPlotH), num(chartTop+chartPlotH))

	// Bars: one group per bucket, the series side by side. Empty buckets
	// draw nothing.
	barW := slot / float64(len(c.Series))
	for si, s := range c.Series {
		for i, v := range s.Values {
			if v <= 0 {
				continue
			}
			t := c.Start.Add(time.Duration(i) * c.Step).UTC()
			bx := chartLeft + float64(i)*slot + float64(si)*barW
			by := y(v)
			what := strconv.FormatInt(v, 10)
			if c.Unit != "" {
				what += " " + c.Unit
			}
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" class="%s" fill="%s"><title>%s: %s (%s)</title></rect>`,
				num(bx), num(by), num(math.Max(barW*0.9, 0.5)), num(chartTop+chartPlotH-by), esc(s.Class), esc(s.Fill),
				esc(t.Format("Mon 2 Jan 15:04")+" UTC"), esc(what), esc(strings.ToLower(s.Name)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// labelEvery picks how far apart x labels are: six hours for a day, a day
// for a week, a week beyond, so they never crowd.
func labelEvery(step time.Duration, buckets int) time.Duration {
	span := step * time.Duration(buckets)
	for _, every := range []time.Duration{6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		if float64(span/every) <= chartPlotW/chartMinLabelSpacing {
			return every
		}
	}
	return 28 * 24 * time.Hour
}

// onLabel reports whether t starts a labelled interval (UTC; weeks start
// on Monday).
func onLabel(t time.Time, every time.Duration) bool {
	if t.Minute() != 0 || t.Second() != 0 {
		return false
	}
	switch {
	case every < 24*time.Hour:
		return t.Hour()%int(every/time.Hour) == 0
	case every == 24*time.Hour:
		return t.Hour() == 0
	case every == 7*24*time.Hour:
		return t.Hour() == 0 && t.Weekday() == time.Monday
	default:
		return t.Hour() == 0 && t.Day() == 1
	}
}

func tickLabel(t time.Time, every time.Duration) string {
	if every < 24*time.Hour {
		return t.Format("15:04")
	}
	return t.Format("Mon 2")
}

// compact renders an axis value briefly: 950, 1.5k, 12k, 3M.
func compact(v int64) string {
	switch {
	case v < 1000:
		return strconv.FormatInt(v, 10)
	case v < 1_000_000:
		return trimZero(float64(v)/1000) + "k"
	default:
		return trimZero(float64(v)/1_000_000) + "M"
	}
}

func trimZero(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

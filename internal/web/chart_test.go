package web

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// wellFormed parses the SVG as XML: every element closed, every attribute
// quoted, every text escaped.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestRenderChart(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday
	hours := func(vals map[int]int64, n int) []int64 {
		out := make([]int64, n)
		for i, v := range vals {
			out[i] = v
		}
		return out
	}
	cases := []struct {
		name  string
		c     chart
		want  []string // fragments that must be there
		never []string // fragments that must not
		bars  int
	}{
		{
			name: "empty series says so",
			c: chart{ID: "c", Title: "Sign-ins", Unit: "sign-ins", Start: start, Step: time.Hour,
				Series: []chartSeries{{Name: "Successful", Values: make([]int64, 24)}}},
			want:  []string{`aria-label="Sign-ins: no activity yet"`, `No activity yet`, `role="img"`},
			never: []string{`<rect`},
		},
		{
			name: "no buckets at all",
			c:    chart{ID: "c", Title: "Tokens", Start: start, Step: time.Hour, Series: []chartSeries{{Name: "Issued"}}},
			want: []string{`No activity yet`},
		},
		{
			name: "two series: totals in the label, one bar per non-zero value",
			c: chart{ID: "c", Title: "Sign-ins", Unit: "sign-ins", Start: start, Step: time.Hour, Series: []chartSeries{
				{Name: "Successful", Class: "chart-s0", Fill: "#00f", Values: hours(map[int]int64{0: 3, 5: 7}, 24)},
				{Name: "Failed", Class: "chart-s1", Fill: "#f00", Values: hours(map[int]int64{5: 2}, 24)},
			}},
			want: []string{`aria-label="Sign-ins: 10 successful, 2 failed"`, `viewBox="0 0 420.0 220.0"`, `width="100%"`,
				`<title>Mon 2 Mar 05:00 UTC: 7 sign-ins (successful)</title>`, `<title>Mon 2 Mar 05:00 UTC: 2 sign-ins (failed)</title>`,
				`>Successful</text>`, `>Failed</text>`, // legend
				`>00:00</text>`, `>06:00</text>`, `>18:00</text>`, // x labels every 6 h over one day
				`>8</text>`, `>0</text>`, // y axis: 7 rounds up to 8 (4 grid lines of 2)
			},
			bars: 3 + 2, // 3 bars + 2 legend swatches
		},
		{
			name: "a week is labelled by day",
			c: chart{ID: "w", Title: "Tokens issued", Unit: "access tokens", Start: start, Step: time.Hour, Series: []chartSeries{
				{Name: "Issued", Values: hours(map[int]int64{30: 12345}, 168)},
			}},
			want:  []string{`>Mon 2</text>`, `>Tue 3</text>`, `>Sun 8</text>`, `>20k</text>`, `12345 access tokens`},
			never: []string{`>06:00</text>`},
			bars:  1 + 1,
		},
		{
			name: "text is escaped",
			c: chart{ID: `x"><script>`, Title: `<b>&"`, Unit: `<u>`, Start: start, Step: time.Hour, Series: []chartSeries{
				{Name: `<i>'`, Class: `"c`, Fill: `red" onload="x`, Values: []int64{1}},
			}},
			want:  []string{`&lt;b&gt;&amp;&#34;`, `&lt;i&gt;&#39;`, `&lt;u&gt;`},
			never: []string{`<script>`, `<b>`, `<i>`, `<u>`, `onload="x`},
			bars:  1 + 1,
		},
		{
			name: "negative values are drawn as nothing",
			c: chart{ID: "n", Title: "T", Start: start, Step: time.Hour, Series: []chartSeries{
				{Name: "A", Values: []int64{-5, 0, 2}},
			}},
			want: []string{`aria-label="T: 2 a"`},
			bars: 1 + 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svg := string(renderChart(tc.c))
			wellFormed(t, svg)
			if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>") {
				t.Fatalf("not one svg element: %.80s…", svg)
			}
			for _, bad := range []string{"NaN", "Inf"} {
				if strings.Contains(svg, bad) {
					t.Fatalf("output has %s", bad)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(svg, w) {
					t.Errorf("missing %q in\n%s", w, svg)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(svg, n) {
					t.Errorf("unexpected %q", n)
				}
			}
			if tc.bars > 0 {
				if got := strings.Count(svg, "<rect"); got != tc.bars {
					t.Errorf("%d rects, want %d", got, tc.bars)
				}
			}
		})
	}
}

// Bars scale against the rounded-up maximum: the tallest bar's top is
// where the grid line of its value is, never above the plot.
func TestChartScale(t *testing.T) {
	for _, tc := range []struct{ top, want int64 }{
		{0, 4}, {1, 4}, {4, 4}, {5, 8}, {7, 8}, {9, 20}, {20, 20}, {21, 40}, {41, 80}, {81, 200}, {12345, 20000},
	} {
		if got := niceMax(tc.top); got != tc.want {
			t.Errorf("niceMax(%d) = %d, want %d", tc.top, got, tc.want)
		}
	}
	svg := string(renderChart(chart{ID: "s", Title: "T", Start: time.Unix(0, 0), Step: time.Hour,
		Series: []chartSeries{{Name: "A", Values: []int64{8, 4}}}}))
	// ymax 8: the 8 bar spans the whole plot (top 28, height 168), the
	// 4 bar half of it.
	for _, w := range []string{`y="28.0" width="165.6" height="168.0"`, `y="112.0" width="165.6" height="84.0"`} {
		if !strings.Contains(svg, w) {
			t.Errorf("missing %q in\n%s", w, svg)
		}
	}
}

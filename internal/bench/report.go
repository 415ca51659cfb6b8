package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Report is one bench run: the Markdown table and the JSON file carry the
// same figures.
type Report struct {
	Tool          string         `json:"tool"`
	StartedAt     time.Time      `json:"started_at"`
	ServerVersion string         `json:"server_version,omitempty"`
	Database      string         `json:"database"` // sqlite | postgres | target
	Target        string         `json:"target,omitempty"`
	Concurrency   int            `json:"concurrency"`
	DurationS     float64        `json:"duration_seconds"` // measured window per workload
	Quick         bool           `json:"quick"`
	CPUs          int            `json:"cpus"`
	GoVersion     string         `json:"go_version"`
	Server        *ServerFigures `json:"server,omitempty"` // nil with --target
	CeilingRPS    float64        `json:"ceiling_rps"`
	// BareRPS is the bare ceiling (see bare.go); 0 when not measured.
	BareRPS   float64  `json:"bare_ceiling_rps,omitempty"`
	Generator string   `json:"generator"`
	Workloads []Result `json:"workloads"`
	// Checks hold the figures against issue 6's targets (informational).
	Checks []Check `json:"checks,omitempty"`
}

// ServerFigures are measured on a server the bench started itself.
type ServerFigures struct {
	StartToReadyMS float64 `json:"start_to_ready_ms"`
	IdleRSSBytes   uint64  `json:"idle_rss_bytes"`
	PeakRSSBytes   uint64  `json:"peak_rss_bytes"`
}

// Workload statuses.
const (
	StatusOK           = "ok"
	StatusNotAvailable = "n/a"
	StatusFailed       = "failed"
)

// Result is one workload's row.
type Result struct {
	Name          string  `json:"name"`
	Title         string  `json:"title"`
	Status        string  `json:"status"`
	Reason        string  `json:"reason,omitempty"`
	RequestsPerOp int     `json:"requests_per_op"`
	Ops           uint64  `json:"operations"`
	Errors        uint64  `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	OpsPerSecond  float64 `json:"ops_per_second"`
	// PctOfCeiling is OpsPerSecond as a percentage of the ceiling's.
	PctOfCeiling float64 `json:"percent_of_ceiling"`
	// PctOfBare is OpsPerSecond as a percentage of the bare ceiling's.
	PctOfBare float64 `json:"percent_of_bare,omitempty"`
	// Generator is the load generator that made the row (builtin or wrk).
	Generator string  `json:"generator,omitempty"`
	P50MS     float64 `json:"p50_ms"`
	P90MS     float64 `json:"p90_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
	MeanMS    float64 `json:"mean_ms"`
	// Server CPU (user+system) over the measured window; nil with --target.
	ServerCPUSeconds        *float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUSecondsPer1k   *float64 `json:"server_cpu_seconds_per_1k_ops,omitempty"`
	ServerPeakRSSBytesSoFar uint64   `json:"server_peak_rss_bytes_so_far,omitempty"`
	// The load generator's own CPU over the window, to show when the client
	// rather than the server is the bottleneck.
	ClientCPUSecondsPer1k *float64 `json:"client_cpu_seconds_per_1k_ops,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// fillLatency copies the histogram's figures into r.
func (r *Result) fillLatency(h *Histogram) {
	r.P50MS = ms(h.Percentile(50))
	r.P90MS = ms(h.Percentile(90))
	r.P99MS = ms(h.Percentile(99))
	r.MaxMS = ms(h.Max())
	r.MeanMS = ms(h.Mean())
}

// computeCeilingShares fills CeilingRPS and every PctOfCeiling.
func (rep *Report) computeCeilingShares() {
	rep.CeilingRPS, rep.BareRPS = 0, 0
	for _, w := range rep.Workloads {
		if w.Name == "ceiling" && w.Status == StatusOK {
			rep.CeilingRPS = w.OpsPerSecond
		}
		if w.Name == "bare" && w.Status == StatusOK {
			rep.BareRPS = w.OpsPerSecond
		}
	}
	for i := range rep.Workloads {
		w := &rep.Workloads[i]
		w.PctOfCeiling, w.PctOfBare = 0, 0
		if rep.CeilingRPS > 0 && w.Status == StatusOK {
			w.PctOfCeiling = math.Round(w.OpsPerSecond/rep.CeilingRPS*1e4) / 100
		}
		if rep.BareRPS > 0 && w.Status == StatusOK {
			w.PctOfBare = math.Round(w.OpsPerSecond/rep.BareRPS*1e4) / 100
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMarkdown writes the report as a Markdown table plus the server lines.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	db := rep.Database
	if rep.Target != "" {
		db = "target " + rep.Target
	}
	fmt.Fprintf(&b, "### gatehouse bench — %s, concurrency %d, %s per workload", db, rep.Concurrency, fmtSeconds(rep.DurationS))
	if rep.Quick {
		b.WriteString(" (quick)")
	}
	fmt.Fprintf(&b, "\n\n%d CPUs, %s", rep.CPUs, rep.GoVersion)
	if rep.ServerVersion != "" {
		fmt.Fprintf(&b, ", server %s", rep.ServerVersion)
	}
	fmt.Fprintf(&b, ", %s\n\n", rep.StartedAt.UTC().Format(time.RFC3339))

	bare := rep.BareRPS > 0
	if bare {
		b.WriteString("| workload | req/s | % of ceiling | % of bare | p50 | p90 | p99 | max | errors | server CPU s/1k req |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		b.WriteString("| workload | req/s | % of ceiling | p50 | p90 | p99 | max | errors | server CPU s/1k req |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	}
	type note struct {
		names []string
		text  string
	}
	var notes []note
	noteOf := map[string]int{}
	for _, r := range rep.Workloads {
		name := r.Name
		if r.RequestsPerOp > 1 {
			name += " ¹"
		}
		switch r.Status {
		case StatusOK:
			pct := "—"
			if rep.CeilingRPS > 0 {
				pct = fmt.Sprintf("%.1f%%", r.PctOfCeiling)
			}
			cpu := "—"
			if r.ServerCPUSecondsPer1k != nil {
				cpu = fmt.Sprintf("%.3f", *r.ServerCPUSecondsPer1k)
			}
			if bare {
				pct += fmt.Sprintf(" | %.1f%%", r.PctOfBare)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d | %s |\n",
				name, fmtRate(r.OpsPerSecond), pct, fmtMS(r.P50MS), fmtMS(r.P90MS), fmtMS(r.P99MS), fmtMS(r.MaxMS), r.Errors, cpu)
			if r.FirstError != "" {
				notes = append(notes, note{names: []string{r.Name}, text: "first error: " + r.FirstError})
			}
		default:
			cells := "| | | | | | | |"
			if bare {
				cells += " |"
			}
			fmt.Fprintf(&b, "| %s | %s %s\n", name, r.Status, cells)
			// One note per distinct reason: a missing fixture fails several rows.
			key := r.Status + ": " + r.Reason
			if i, ok := noteOf[key]; ok {
				notes[i].names = append(notes[i].names, r.Name)
			} else {
				noteOf[key] = len(notes)
				notes = append(notes, note{names: []string{r.Name}, text: key})
			}
		}
	}
	b.WriteString("\n")
	for _, r := range rep.Workloads {
		if r.RequestsPerOp > 1 {
			fmt.Fprintf(&b, "¹ %s: one operation is %d HTTP requests (%s); req/s, latency and CPU are per operation.\n\n", r.Name, r.RequestsPerOp, r.Title)
		}
	}
	for _, r := range rep.Workloads {
		if r.Name == "ceiling" && r.ClientCPUSecondsPer1k != nil {
			fmt.Fprintf(&b, "- load generator CPU on the ceiling: %.3f s/1k req", *r.ClientCPUSecondsPer1k)
			if r.ServerCPUSecondsPer1k != nil {
				fmt.Fprintf(&b, " (server: %.3f)", *r.ServerCPUSecondsPer1k)
			}
			b.WriteString("\n")
		}
	}
	var byGen = map[string][]string{}
	for _, r := range rep.Workloads {
		if r.Generator != "" {
			byGen[r.Generator] = append(byGen[r.Generator], r.Name)
		}
	}
	if names := byGen[GeneratorWrk]; len(names) > 0 {
		fmt.Fprintf(&b, "- load generator: wrk (1 thread, %d connections) for %s", rep.Concurrency, strings.Join(names, ", "))
		if others := byGen[GeneratorBuiltin]; len(others) > 0 {
			fmt.Fprintf(&b, "; builtin for %s (more than one fixed request)", strings.Join(others, ", "))
		}
		b.WriteString("\n")
	}
	if bare {
		b.WriteString("- bare: a minimal net/http handler in a child process (form POST → 141 bytes JSON), what HTTP alone costs here\n")
	}
	if s := rep.Server; s != nil {
		fmt.Fprintf(&b, "- idle RSS: %s\n", fmtBytes(s.IdleRSSBytes))
		fmt.Fprintf(&b, "- peak RSS: %s\n", fmtBytes(s.PeakRSSBytes))
		fmt.Fprintf(&b, "- start to ready: %.0f ms\n", s.StartToReadyMS)
	} else {
		b.WriteString("- server CPU and RSS: not measured (--target: the server is not the bench's child)\n")
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s: %s\n", strings.Join(n.names, ", "), n.text)
	}
	if len(rep.Checks) > 0 {
		b.WriteString("\nTargets (informational; stated for SQLite at concurrency 32 on 2 cores; PostgreSQL ≥ half of SQLite needs two runs):\n\n")
		for _, c := range rep.Checks {
			mark := "✗"
			if c.OK {
				mark = "✓"
			}
			fmt.Fprintf(&b, "- %s %s: %s (target %s)\n", mark, c.What, c.Got, c.Want)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}

func fmtRate(v float64) string {
	if v >= 100 {
		return groupThousands(int64(math.Round(v)))
	}
	return fmt.Sprintf("%.1f", v)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func fmtBytes(n uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Load generators.
const (
	GeneratorBuiltin = "builtin" // the Go load loop in load.go
	GeneratorWrk     = "wrk"     // wrk, one thread, Concurrency connections
	GeneratorAuto    = "auto"    // wrk when it is on PATH, else builtin
)

// wrk runs in its own process on one thread, so the load generator costs the
// server one core at most and little of it (wrk's event loop is C; the
// builtin generator's net/http client costs about what the server does).
// Workloads that are one fixed request run under wrk; the others (a code
// flow, a refresh chain) keep the builtin generator, and the report says
// which made each row.

// wrkMarker starts the line the Lua script's done() writes.
const wrkMarker = "GATEHOUSE_BENCH "

// wrkScript returns the Lua script that makes wrk send r and report its
// figures as one JSON line (latencies in microseconds).
func wrkScript(r *request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %s\n", luaString(r.Method))
	if r.Body != nil {
		fmt.Fprintf(&b, "wrk.body = %s\n", luaString(string(r.Body)))
	}
	hdr := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", luaString(k), luaString(v))
		}
	}
	hdr("Content-Type", r.CType)
	hdr("Authorization", r.Auth)
	hdr("Cookie", r.Cookie)
	if r.HTML {
		hdr("Accept", "text/html")
	} else {
		hdr("Accept", "application/json")
	}
	for i := 0; i+1 < len(r.Headers); i += 2 {
		hdr(r.Headers[i], r.Headers[i+1])
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("\n` + wrkMarker + `{\"requests\":%d,\"duration_us\":%d,\"status_errors\":%d,\"socket_errors\":%d,\"p50\":%d,\"p90\":%d,\"p99\":%d,\"max\":%d,\"mean\":%f}\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`)
	return b.String()
}

// luaString quotes s for Lua: bench requests are ASCII (form-encoded bodies,
// base64 credentials), and Go's escapes for ASCII are Lua's too.
func luaString(s string) string { return strconv.Quote(s) }

type wrkFigures struct {
	Requests     uint64  `json:"requests"`
	DurationUS   int64   `json:"duration_us"`
	StatusErrors uint64  `json:"status_errors"`
	SocketErrors uint64  `json:"socket_errors"`
	P50US        int64   `json:"p50"`
	P90US        int64   `json:"p90"`
	P99US        int64   `json:"p99"`
	MaxUS        int64   `json:"max"`
	MeanUS       float64 `json:"mean"`
}

// wrkPath returns wrk's path, or "" when it is not installed.
func wrkPath() string {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return ""
	}
	return p
}

// runWrk drives url with r for d at concurrency connections on one thread.
func runWrk(ctx context.Context, wrk, dir, url string, r *request, concurrency int, d time.Duration) (*wrkFigures, error) {
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript(r)), 0o600); err != nil {
		return nil, err
	}
	secs := max(1, int((d+time.Second/2)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t1", "-c"+strconv.Itoa(concurrency), "-d"+strconv.Itoa(secs)+"s",
		"--timeout", "10s", "-s", script, url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, wrkMarker); ok {
			var f wrkFigures
			if err := json.Unmarshal([]byte(rest), &f); err != nil {
				return nil, fmt.Errorf("wrk: reading its figures: %w", err)
			}
			return &f, nil
		}
	}
	return nil, errors.New("wrk: no figures in its output: " + strings.TrimSpace(out.String()))
}

// fill copies wrk's figures into res. wrk counts any answer ≥ 400 as an
// error, and a workload row counts successful operations only.
func (f *wrkFigures) fill(res *Result) {
	errs := f.StatusErrors + f.SocketErrors
	ok := f.Requests - min(f.Requests, f.StatusErrors)
	res.Ops, res.Errors = ok, errs
	if f.DurationUS > 0 {
		res.OpsPerSecond = float64(ok) / (float64(f.DurationUS) / 1e6)
	}
	us := func(v int64) float64 { return float64(v) / 1e3 }
	res.P50MS, res.P90MS, res.P99MS, res.MaxMS = us(f.P50US), us(f.P90US), us(f.P99US), us(f.MaxUS)
	res.MeanMS = f.MeanUS / 1e3
	if errs > 0 {
		res.FirstError = fmt.Sprintf("wrk: %d answers ≥ 400, %d socket errors", f.StatusErrors, f.SocketErrors)
	}
}

package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	cpu, per1k, client := 1.25, 0.0417, 0.0301
	return &Report{
		Tool: "gatehouse bench", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		ServerVersion: "0.1.0-dev", Database: "sqlite", Concurrency: 32, DurationS: 10, CPUs: 2, GoVersion: "go1.26.8",
		Server: &ServerFigures{StartToReadyMS: 84.5, IdleRSSBytes: 18 << 20, PeakRSSBytes: 47 << 20},
		Workloads: []Result{
			{Name: "ceiling", Status: StatusOK, RequestsPerOp: 1, Ops: 400000, OpsPerSecond: 40000,
				P50MS: 0.712, P90MS: 1.5, P99MS: 12.34, MaxMS: 150.2, ServerCPUSeconds: &cpu, ServerCPUSecondsPer1k: &per1k, ClientCPUSecondsPer1k: &client},
			{Name: "client_credentials", Status: StatusOK, RequestsPerOp: 1, Ops: 60000, OpsPerSecond: 6000,
				Errors: 3, FirstError: "POST /oauth2/token: HTTP 500: boom", P50MS: 4, P90MS: 6, P99MS: 20, MaxMS: 31},
			{Name: "me_api_key", Status: StatusNotAvailable, RequestsPerOp: 1, Reason: "API keys not available"},
			{Name: "auth_code", Title: "authorize → token", Status: StatusOK, RequestsPerOp: 2, OpsPerSecond: 55.55, P50MS: 1, P90MS: 2, P99MS: 3, MaxMS: 4},
			{Name: "middleware_pat_nocache", Title: "middleware → introspect", Status: StatusOK, RequestsPerOp: 2, OpsPerSecond: 1000, P50MS: 1, P90MS: 2, P99MS: 3, MaxMS: 4},
			{Name: "refresh", Status: StatusFailed, RequestsPerOp: 1, Reason: "creating the client: exit status 1"},
			{Name: "introspect", Status: StatusFailed, RequestsPerOp: 1, Reason: "creating the client: exit status 1"},
		},
	}
}

func TestCeilingShares(t *testing.T) {
	rep := sampleReport()
	rep.computeCeilingShares()
	want := map[string]float64{"ceiling": 100, "client_credentials": 15, "me_api_key": 0, "auth_code": 0.14, "middleware_pat_nocache": 2.5, "refresh": 0, "introspect": 0}
	for _, r := range rep.Workloads {
		if r.PctOfCeiling != want[r.Name] {
			t.Errorf("%s: %v%%, want %v%%", r.Name, r.PctOfCeiling, want[r.Name])
		}
	}
	if rep.CeilingRPS != 40000 {
		t.Errorf("ceiling %v", rep.CeilingRPS)
	}
	// Without a working ceiling there is no share at all.
	rep.Workloads[0].Status = StatusFailed
	rep.computeCeilingShares()
	if rep.CeilingRPS != 0 || rep.Workloads[1].PctOfCeiling != 0 {
		t.Errorf("shares without a ceiling: %v, %v", rep.CeilingRPS, rep.Workloads[1].PctOfCeiling)
	}
}

func TestMarkdown(t *testing.T) {
	rep := sampleReport()
	rep.computeCeilingShares()
	rep.computeChecks()
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### gatehouse bench — sqlite, concurrency 32, 10s per workload\n",
		"2 CPUs, go1.26.8, server 0.1.0-dev, 2026-01-02T03:04:05Z",
		"| workload | req/s | % of ceiling | p50 | p90 | p99 | max | errors | server CPU s/1k req |\n|---|---:|",
		"| ceiling | 40,000 | 100.0% | 0.71 ms | 1.50 ms | 12.3 ms | 150 ms | 0 | 0.042 |\n",
		"| client_credentials | 6,000 | 15.0% | 4.00 ms | 6.00 ms | 20.0 ms | 31.0 ms | 3 | — |\n",
		"| me_api_key | n/a | | | | | | | |\n",
		"| auth_code ¹ | 55.5 | 0.1% |",
		"| refresh | failed |",
		"¹ auth_code: one operation is 2 HTTP requests (authorize → token)",
		// Every multi-request row is explained, not only the first.
		"¹ middleware_pat_nocache: one operation is 2 HTTP requests (middleware → introspect)",
		"- load generator CPU on the ceiling: 0.030 s/1k req (server: 0.042)\n",
		"- idle RSS: 18.0 MiB\n- peak RSS: 47.0 MiB\n- start to ready: 84 ms\n",
		"- client_credentials: first error: POST /oauth2/token: HTTP 500: boom\n",
		"- me_api_key: n/a: API keys not available\n",
		"- refresh, introspect: failed: creating the client: exit status 1\n",
		"- ✓ client_credentials share of ceiling: 15.0% (target ≥ 15%)\n",
		"- ✓ client_credentials p99: 20.0 ms (target ≤ 25 ms)\n",
		"- ✗ auth_code share of ceiling: 0.1% (target ≥ 4%)\n",
		"- ✓ idle RSS: 18.9 MB (target ≤ 40 MB)\n",
		"- ✓ start to ready: 84 ms (target ≤ 300 ms)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Every table row has the header's ten pipes.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 10 {
			t.Errorf("ragged row %q", line)
		}
	}

	rep.Server = nil
	rep.Target, rep.Database = "http://127.0.0.1:8080", "target"
	b.Reset()
	rep.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "target http://127.0.0.1:8080") || !strings.Contains(b.String(), "not measured (--target") {
		t.Errorf("target mode:\n%s", b.String())
	}
}

func TestJSONFields(t *testing.T) {
	rep := sampleReport()
	rep.computeCeilingShares()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 0 {
		t.Error("checks before computeChecks")
	}
	if m["ceiling_rps"] != 40000.0 || m["database"] != "sqlite" || m["concurrency"] != 32.0 {
		t.Errorf("top level: %v", m)
	}
	srv := m["server"].(map[string]any)
	if srv["idle_rss_bytes"] != float64(18<<20) || srv["start_to_ready_ms"] != 84.5 {
		t.Errorf("server: %v", srv)
	}
	w0 := m["workloads"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "status", "ops_per_second", "percent_of_ceiling", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "server_cpu_seconds_per_1k_ops"} {
		if _, ok := w0[k]; !ok {
			t.Errorf("workload JSON lacks %q: %v", k, w0)
		}
	}
	w1 := m["workloads"].([]any)[1].(map[string]any)
	if _, ok := w1["server_cpu_seconds_per_1k_ops"]; ok {
		t.Error("absent CPU figure should be omitted, not zero")
	}
}

func TestFormatting(t *testing.T) {
	cases := map[string]string{
		groupThousands(0): "0", groupThousands(999): "999", groupThousands(1000): "1,000",
		groupThousands(1234567): "1,234,567", fmtRate(12.34): "12.3", fmtRate(123.4): "123",
		fmtMS(0.0123): "0.01 ms", fmtMS(12.34): "12.3 ms", fmtMS(1234.5): "1234 ms",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestProcParsing(t *testing.T) {
	// Field 2 may contain spaces and parentheses.
	stat := []byte("4242 (gate house) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123 456 789\n")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Fatalf("cpu %v, %v", cpu, err)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}
	status := []byte("Name:\tgatehouse\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n")
	rss, hwm, err := parseStatusMem(status)
	if err != nil || rss != 20<<20 || hwm != 50<<20 {
		t.Fatalf("rss %d hwm %d %v", rss, hwm, err)
	}
	if _, _, err := parseStatusMem([]byte("Name:\tx\n")); err == nil {
		t.Error("missing fields accepted")
	}
}

func TestProcOfThisProcess(t *testing.T) {
	// This test process has used some CPU and memory.
	if _, err := procCPU(selfPID()); err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := procMem(selfPID())
	if err != nil || rss == 0 || hwm < rss {
		t.Fatalf("rss %d hwm %d %v", rss, hwm, err)
	}
}

func TestParseForms(t *testing.T) {
	page := `<html><form action="/x" method="post"><input type="hidden" name="csrf" value="a&amp;b">
	<input name=user><input type="password" name="pw"><input type="checkbox" name="keep" checked>
	<input type="checkbox" name="skip"><button type="submit" name="go" value="1">Go <b>now</b></button>
	<button type="button">ignored</button></form>
	<form><input type='submit' value='Allow'></form>`
	forms := parseForms(page)
	if len(forms) != 2 {
		t.Fatalf("%d forms", len(forms))
	}
	f := forms[0]
	if f.Action != "/x" || f.Method != "POST" || !f.hasInputType("password") {
		t.Errorf("form 0: %+v", f)
	}
	v := f.values(func(in htmlInput) (string, bool) {
		if in.Name == "user" {
			return "me", true
		}
		return "", false
	})
	if v.Encode() != "csrf=a%26b&keep=on&pw=&user=me" {
		t.Errorf("values %q", v.Encode())
	}
	if len(f.Buttons) != 1 || f.Buttons[0].Text != "Go now" || f.Buttons[0].Name != "go" {
		t.Errorf("buttons %+v", f.Buttons)
	}
	if b := allowButton(&forms[1]); b == nil || b.Value != "Allow" || forms[1].Method != "GET" {
		t.Errorf("form 1: %+v", forms[1])
	}
	deny := htmlForm{Buttons: []htmlInput{{Name: "decision", Value: "deny", Text: "Don't allow"}}}
	if allowButton(&deny) != nil {
		t.Error("a deny button taken for allow")
	}
}

func TestCodeFromRedirect(t *testing.T) {
	const cb = "http://127.0.0.1/bench/callback"
	if c, err := codeFromRedirect(cb+"?code=abc&state=s1&iss=x", cb, "s1"); err != nil || c != "abc" {
		t.Errorf("%q %v", c, err)
	}
	for _, loc := range []string{cb + "?code=abc&state=s2", cb + "?error=access_denied&state=s1", "http://evil/?code=abc&state=s1", cb + "?state=s1"} {
		if _, err := codeFromRedirect(loc, cb, "s1"); err == nil {
			t.Errorf("%q accepted", loc)
		}
	}
}

func selfPID() int { return os.Getpid() }

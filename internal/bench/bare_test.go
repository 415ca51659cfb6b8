package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBareHandler: the bare ceiling answers a token-shaped form POST with
// 141 bytes of JSON, and refuses a form without grant_type, so it does the
// work it claims (parse a form, write a body) and no less.
func TestBareHandler(t *testing.T) {
	srv := httptest.NewServer(bareHandler())
	defer srv.Close()
	cases := []struct {
		name, body string
		status     int
	}{
		{"form", string(bareForm), http.StatusOK},
		{"no grant_type", "scope=x", http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+barePath, formType, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.status != http.StatusOK {
				return
			}
			var v map[string]any
			if len(body) != 141 || json.Unmarshal(body, &v) != nil || v["access_token"] == nil {
				t.Fatalf("body (%d bytes) %q: want 141 bytes of token JSON", len(body), body)
			}
		})
	}
}

func TestBareCeilingShares(t *testing.T) {
	rep := sampleReport()
	rep.Workloads = append(rep.Workloads, Result{Name: "bare", Status: StatusOK, RequestsPerOp: 1, OpsPerSecond: 80000, Generator: GeneratorWrk})
	rep.Workloads[0].Generator = GeneratorWrk
	rep.computeCeilingShares()
	want := map[string]float64{"ceiling": 50, "client_credentials": 7.5, "bare": 100, "refresh": 0}
	for _, r := range rep.Workloads {
		if w, ok := want[r.Name]; ok && r.PctOfBare != w {
			t.Errorf("%s: %v%% of bare, want %v%%", r.Name, r.PctOfBare, w)
		}
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, s := range []string{"| % of bare |", "| ceiling | 40,000 | 100.0% | 50.0% |", "- load generator: wrk (1 thread, 32 connections) for ceiling, bare"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

func TestWrkScript(t *testing.T) {
	s := wrkScript(&request{Method: "POST", Body: []byte("a=1&b=%22"), CType: formType, Auth: `Basic "x"`,
		Headers: []string{"X-Original-URI", "/v0"}})
	for _, want := range []string{`wrk.method = "POST"`, `wrk.body = "a=1&b=%22"`, `wrk.headers["Authorization"] = "Basic \"x\""`,
		`wrk.headers["X-Original-URI"] = "/v0"`, `wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"`, "done = function"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %s:\n%s", want, s)
		}
	}
}

// TestRunWrk drives a real wrk against the bare handler and against one that
// refuses everything: successes and refusals must be told apart. wrk is
// installed by .ci/run; outside CI the test skips without it.
func TestRunWrk(t *testing.T) {
	wrk := wrkPath()
	if wrk == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is not installed (.ci/run installs it)")
		}
		t.Skip("wrk not installed")
	}
	ok := httptest.NewServer(bareHandler())
	defer ok.Close()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer refuse.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	f, err := runWrk(ctx, wrk, t.TempDir(), ok.URL+barePath, bareRequest(ok.URL), 4, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	f.fill(&res)
	if res.Ops == 0 || res.Errors != 0 || res.OpsPerSecond <= 0 || res.P99MS < res.P50MS {
		t.Fatalf("bare handler under wrk: %+v (wrk: %+v)", res, f)
	}
	f, err = runWrk(ctx, wrk, t.TempDir(), refuse.URL+barePath, bareRequest(refuse.URL), 4, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res = Result{}
	f.fill(&res)
	if res.Ops != 0 || res.Errors == 0 || res.FirstError == "" {
		t.Fatalf("refusing handler under wrk: %+v (wrk: %+v)", res, f)
	}
}

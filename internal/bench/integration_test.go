package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bench"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// buildGatehouse builds ./cmd/gatehouse into a temporary directory.
func buildGatehouse(t *testing.T, ctx context.Context) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = filepath.Join("..", "..") // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestQuickBenchAgainstRealBinary runs `gatehouse bench --quick --duration 1s`
// against the real server started as a child process, on SQLite and, when
// GATEHOUSE_TEST_POSTGRES_URL is set, on PostgreSQL. The ceiling must have
// served requests; the other workloads must each be ok, n/a or failed (the
// server grows under the tool; their figures are logged). The whole test is
// bounded in time.
func TestQuickBenchAgainstRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	// A cold build compiles the SQLite driver: give it time, but bounded.
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancelBuild()
	bin := buildGatehouse(t, buildCtx)

	databases := map[string]string{"sqlite": ""}
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); u != "" {
		databases["postgres"] = u
	} else {
		pgtest.ReportSkipped(t)
	}
	for name, db := range databases {
		t.Run(name, func(t *testing.T) {
			// Twenty workloads of 1.1 s each, three JWT server children and setup; bounded whatever happens.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := []string{"bench", "--quick", "--duration", "1s", "--warmup", "100ms", "--json", jsonPath}
			if db != "" {
				args = append(args, "--database", db)
			}
			cmd := exec.CommandContext(ctx, bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			t.Logf("gatehouse %s (%v)\n%s\nprogress:\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
			if err != nil {
				t.Fatalf("bench failed: %v", err)
			}

			data, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var rep bench.Report
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatalf("report JSON: %v", err)
			}
			if rep.CeilingRPS <= 0 || len(rep.Workloads) == 0 || rep.Workloads[0].Name != "ceiling" || rep.Workloads[0].Ops == 0 {
				t.Fatalf("no positive ceiling: %+v", rep)
			}
			if s := rep.Server; s == nil || s.StartToReadyMS <= 0 || s.IdleRSSBytes == 0 || s.PeakRSSBytes < s.IdleRSSBytes {
				t.Errorf("server figures: %+v", rep.Server)
			}
			if c := rep.Workloads[0].ServerCPUSecondsPer1k; c == nil || *c <= 0 {
				t.Errorf("ceiling server CPU per 1k: %v", c)
			}
			for _, w := range rep.Workloads {
				switch w.Status {
				case bench.StatusOK:
					if w.Ops == 0 && w.Errors == 0 {
						t.Errorf("%s: ok with neither operations nor errors", w.Name)
					}
				case bench.StatusNotAvailable, bench.StatusFailed:
					// The bearer middleware and its resource-server set-up
					// ship with this binary, and so do JWT access tokens
					// (server children the bench starts): they must work.
					if strings.HasPrefix(w.Name, "middleware_") || strings.HasPrefix(w.Name, "jwt_") {
						t.Errorf("%s: %s: %s", w.Name, w.Status, w.Reason)
					}
				default:
					t.Errorf("%s: unknown status %q", w.Name, w.Status)
				}
			}
			if !strings.Contains(stdout.String(), "| ceiling | ") || !strings.Contains(stdout.String(), "- start to ready: ") {
				t.Errorf("Markdown table missing from stdout")
			}
		})
	}
}

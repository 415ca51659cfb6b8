package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/internal/bench"
)

func benchCommands() []Command {
	return []Command{
		{Path: "bench", Summary: "load-test a Gatehouse server (started here, or --target) and report req/s, latency, CPU, RSS", Run: runBench,
			Long: "Starts `gatehouse serve` on a fresh database, creates a user and clients with the admin commands, measures a ceiling (GET /healthz) and then each workload, and prints a Markdown table."},
	}
}

// runBench is `gatehouse bench`. It has its own flags, not the configuration
// flags: the server it starts gets its settings from the bench (a fresh
// database, a free loopback port, a new master key).
func runBench(ctx context.Context, env *Env, args []string) error {
	fs := env.ownFlagSet("bench")
	var (
		o         bench.Options
		workloads string
		jsonFile  string
	)
	fs.BoolVar(&o.Quick, "quick", false, fmt.Sprintf("CI mode: %v per workload at concurrency %d unless set (proves the tool works; no thresholds)", bench.QuickDuration, bench.QuickConcurrency))
	fs.DurationVar(&o.Duration, "duration", 0, fmt.Sprintf("measured time per workload (default %v)", bench.DefaultDuration))
	fs.DurationVar(&o.Warmup, "warmup", 0, "unmeasured lead-in per workload (default duration/10, at most 1s)")
	fs.IntVar(&o.Concurrency, "concurrency", 0, fmt.Sprintf("concurrent workers, each one keep-alive connection (default %d)", bench.DefaultConcurrency))
	fs.StringVar(&o.Database, "database", "", "postgres://… URL: run on a fresh schema there (default: a fresh temporary SQLite file); with --target, the database the admin CLI sets up in")
	fs.StringVar(&o.Target, "target", "", "URL of a running Gatehouse on this machine to drive instead of starting one (no CPU/RSS figures); its configuration must be in the environment for the setup commands")
	fs.StringVar(&workloads, "workloads", "", "comma-separated subset of: "+strings.Join(bench.WorkloadNames(), ", ")+" (the ceiling always runs)")
	fs.StringVar(&jsonFile, "json", "", "also write the report as JSON to this file (- for stdout instead of the table)")
	fs.StringVar(&o.Binary, "binary", "", "gatehouse binary to start and to set up with (default: this one)")
	fs.StringVar(&o.Generator, "generator", bench.GeneratorAuto, "load generator: builtin, wrk (one thread; for the workloads that are one fixed request), or auto (wrk when installed)")
	noBare := fs.Bool("no-bare", false, "skip the bare ceiling (a minimal net/http handler in a child process)")
	serveBare := fs.String("serve-bare", "", "internal: serve the bare ceiling handler on this loopback address until interrupted")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	if *serveBare != "" {
		return bench.ServeBare(ctx, *serveBare)
	}
	o.Bare = !*noBare
	for _, w := range strings.Split(workloads, ",") {
		if w = strings.TrimSpace(w); w != "" {
			o.Workloads = append(o.Workloads, w)
		}
	}
	o.Progress = env.Stderr

	rep, runErr := bench.Run(ctx, o)
	if rep == nil {
		return runErr
	}
	if jsonFile == "-" {
		if err := rep.WriteJSON(env.Stdout); err != nil {
			return err
		}
	} else {
		if err := rep.WriteMarkdown(env.Stdout); err != nil {
			return err
		}
		if jsonFile != "" {
			if err := writeJSONFile(jsonFile, rep); err != nil {
				return err
			}
		}
	}
	return runErr
}

func writeJSONFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

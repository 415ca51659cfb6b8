// Package bench is Gatehouse's load generator (`gatehouse bench`). It starts
// the server as a child process of the same binary on a fresh database (or
// drives one already running with Target), sets up its own user and clients
// through the admin CLI, and drives each workload for a fixed time at a fixed
// concurrency over keep-alive connections. Every workload is reported in
// requests/s and as a share of a ceiling — GET /healthz through the same
// binary, middleware and client — so figures from noisy machines compare.
//
// Every load loop is bounded in time, and the bench only ever talks to
// loopback addresses.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a run.
type Options struct {
	Duration    time.Duration // measured window per workload
	Warmup      time.Duration // unmeasured lead-in per workload (default: Duration/10, at most 1s)
	Concurrency int
	Quick       bool   // CI mode: proves the tool works; sets defaults only
	Database    string // "" → a fresh temporary SQLite file; postgres://… → a fresh schema in it
	Target      string // drive this running server instead of starting one
	Workloads   []string
	Binary      string // gatehouse binary; "" → os.Executable()
	// Generator is builtin (default), wrk, or auto (wrk when installed).
	Generator string
	// Bare also measures the bare ceiling: a minimal net/http server in a
	// child process of Binary (see bare.go).
	Bare bool

	// Progress receives one line per step (stderr in the CLI); may be nil.
	Progress io.Writer

	// admin replaces the admin CLI (tests).
	admin Admin
}

// Defaults per mode.
const (
	DefaultDuration    = 10 * time.Second
	DefaultConcurrency = 32
	QuickDuration      = 2 * time.Second
	QuickConcurrency   = 8
	maxDuration        = 10 * time.Minute
	maxConcurrency     = 1024
	prepareTimeout     = 2 * time.Minute
)

// WorkloadNames lists the available workloads in run order.
func WorkloadNames() []string { return workloadNames() }

func (o *Options) normalise() error {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
		if o.Quick {
			o.Duration = QuickDuration
		}
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
		if o.Quick {
			o.Concurrency = QuickConcurrency
		}
	}
	if o.Duration < 100*time.Millisecond || o.Duration > maxDuration {
		return fmt.Errorf("duration must be between 100ms and %v", maxDuration)
	}
	if o.Concurrency < 1 || o.Concurrency > maxConcurrency {
		return fmt.Errorf("concurrency must be between 1 and %d", maxConcurrency)
	}
	if o.Warmup == 0 {
		o.Warmup = min(o.Duration/10, time.Second)
	}
	if o.Warmup < 0 || o.Warmup > maxDuration {
		return fmt.Errorf("warmup must be between 0 and %v", maxDuration)
	}
	switch o.Generator {
	case "", GeneratorBuiltin:
		o.Generator = GeneratorBuiltin
	case GeneratorAuto:
		o.Generator = GeneratorBuiltin
		if wrkPath() != "" {
			o.Generator = GeneratorWrk
		}
	case GeneratorWrk:
		if wrkPath() == "" {
			return errors.New("--generator wrk: wrk is not on PATH (apt-get install wrk)")
		}
	default:
		return fmt.Errorf("generator %q: want builtin, wrk or auto", o.Generator)
	}
	known := workloadNames()
	for _, w := range o.Workloads {
		if !slices.Contains(known, w) {
			return fmt.Errorf("unknown workload %q (have: %s)", w, strings.Join(known, ", "))
		}
	}
	if o.Target != "" {
		u, err := url.Parse(o.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("target %q: want an http(s) URL", o.Target)
		}
		if !loopbackHost(u.Hostname()) {
			return fmt.Errorf("target %q: %w", o.Target, errNotLoopback)
		}
	}
	return nil
}

// selected returns the workloads to run, ceiling always first.
func (o *Options) selected() []workload {
	var out []workload
	for _, w := range workloads {
		if w.Name == "ceiling" || len(o.Workloads) == 0 || slices.Contains(o.Workloads, w.Name) {
			out = append(out, w)
		}
	}
	return out
}

func (o *Options) logf(format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", a...)
	}
}

// Run performs the benchmark and returns its report. It returns an error
// (with whatever report it has) when no meaningful figure could be made:
// the server did not start, or the ceiling itself failed.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.normalise(); err != nil {
		return nil, err
	}
	rep := &Report{
		Tool: "gatehouse bench", StartedAt: time.Now(),
		Concurrency: o.Concurrency, DurationS: o.Duration.Seconds(), Quick: o.Quick,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Generator: o.Generator,
	}

	var (
		base  string
		srv   *serverProc
		admin = o.admin
		spawn spawnFunc
	)
	if o.Target != "" {
		base = strings.TrimRight(o.Target, "/")
		rep.Database, rep.Target = "target", base
		if admin == nil {
			bin, err := o.binary()
			if err != nil {
				return nil, err
			}
			set := map[string]string{}
			if o.Database != "" {
				set["GATEHOUSE_DATABASE"] = o.Database
			}
			admin = &adminCLI{binary: bin, env: gatehouseEnv(set)}
		}
	} else {
		bin, err := o.binary()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "gatehouse-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)

		database := filepath.Join(dir, "gatehouse.db")
		rep.Database = "sqlite"
		var pgURL string
		if o.Database != "" {
			if !isPostgresURL(o.Database) {
				return nil, fmt.Errorf("--database: want a postgres:// URL (the default is a fresh temporary SQLite file)")
			}
			u, drop, err := freshPostgresSchema(ctx, o.Database)
			if err != nil {
				return nil, err
			}
			defer drop()
			database, rep.Database, pgURL = u, "postgres", o.Database
		}
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		cfgFile, err := writeBenchConfig(dir)
		if err != nil {
			return nil, err
		}
		env := gatehouseEnv(serverSettings(addr, database, newMasterKey(), cfgFile))
		o.logf("starting %s serve on %s (%s)", bin, addr, rep.Database)
		srv, err = startServer(ctx, bin, addr, env, dir)
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		base = srv.baseURL
		rss, _, err := procMem(srv.pid)
		if err != nil {
			o.logf("cannot read the server's memory (%v): no RSS figures", err)
		}
		rep.Server = &ServerFigures{StartToReadyMS: float64(srv.startToReady.Microseconds()) / 1e3, IdleRSSBytes: rss}
		o.logf("ready in %v, idle RSS %s", srv.startToReady.Round(time.Millisecond), fmtBytes(rss))
		if admin == nil {
			admin = &adminCLI{binary: bin, env: env}
		}
		spawn = newSpawner(bin, dir, cfgFile, pgURL)
	}

	c := newHTTPClient(base, o.Concurrency)
	defer c.close()
	rep.ServerVersion = serverVersion(ctx, c)
	fx := &fixtures{c: c, admin: admin, spawn: spawn}
	defer fx.close()

	for _, w := range o.selected() {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if srv != nil && !srv.alive() {
			rep.Workloads = append(rep.Workloads, Result{Name: w.Name, Title: w.Title, RequestsPerOp: w.ReqsPerOp,
				Status: StatusFailed, Reason: "the server exited; its log: " + srv.logTail(5)})
			continue
		}
		rows := []Result{runWorkload(ctx, &o, w, fx, srv)}
		if w.Name == "ceiling" && o.Bare {
			// The bare ceiling right after Gatehouse's own, in the same
			// conditions (see bare.go).
			rows = append(rows, runBare(ctx, &o, fx))
		}
		for _, res := range rows {
			rep.Workloads = append(rep.Workloads, res)
			switch res.Status {
			case StatusOK:
				o.logf("%-18s %s ops/s, p99 %s, %d errors", res.Name, fmtRate(res.OpsPerSecond), fmtMS(res.P99MS), res.Errors)
			default:
				o.logf("%-18s %s: %s", res.Name, res.Status, res.Reason)
			}
		}
	}
	if srv != nil {
		if _, hwm, err := procMem(srv.pid); err == nil {
			rep.Server.PeakRSSBytes = hwm
		}
	}
	rep.computeCeilingShares()
	rep.computeChecks()
	if rep.CeilingRPS <= 0 {
		return rep, errors.New("the ceiling workload (GET /healthz) produced no successful request")
	}
	return rep, nil
}

func (o *Options) binary() (string, error) {
	if o.Binary != "" {
		return o.Binary, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the gatehouse binary (use --binary): %w", err)
	}
	return bin, nil
}

// runWorkload prepares one workload and drives it.
func runWorkload(ctx context.Context, o *Options, w workload, fx *fixtures, srv *serverProc) Result {
	if w.measure != nil {
		return w.measure(ctx, o, fx, srv)
	}
	res := Result{Name: w.Name, Title: w.Title, RequestsPerOp: w.ReqsPerOp}
	pctx, cancel := context.WithTimeout(ctx, prepareTimeout)
	ops, err := w.prepare(pctx, fx, o.Concurrency)
	cancel()
	if m := fx.takeMeasured(); m != nil {
		srv = m // the workload loads another server child
	}
	if err != nil {
		var na *NotAvailableError
		if errors.As(err, &na) {
			res.Status, res.Reason = StatusNotAvailable, na.Error()
		} else {
			res.Status, res.Reason = StatusFailed, err.Error()
		}
		return res
	}
	o.logf("running %s for %v (+%v warm-up) at concurrency %d", w.Name, o.Duration, o.Warmup, o.Concurrency)

	// CPU of the server (when it is our child) and of this process, sampled
	// at the edges of the measured window.
	var (
		mu               sync.Mutex
		srvStart, srvEnd time.Duration
		cliStart, cliEnd time.Duration
		srvErr, cliErr   error
	)
	sample := func(srvAt, cliAt *time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		var err error
		*cliAt, err = procCPU(os.Getpid())
		cliErr = errors.Join(cliErr, err)
		if srv != nil {
			*srvAt, err = procCPU(srv.pid)
			srvErr = errors.Join(srvErr, err)
		}
	}
	plan := loadPlan{
		Warmup: o.Warmup, Duration: o.Duration,
		OnMeasureStart: func() { sample(&srvStart, &cliStart) },
		OnMeasureEnd:   func() { sample(&srvEnd, &cliEnd) },
	}
	res.Generator = GeneratorBuiltin
	var ok uint64
	if o.Generator == GeneratorWrk && w.static != nil {
		res.Generator = GeneratorWrk
		r := w.static(fx)
		url := r.URL
		if strings.HasPrefix(url, "/") {
			url = fx.c.base + url
		}
		dir, err := os.MkdirTemp("", "gatehouse-wrk-")
		if err != nil {
			res.Status, res.Reason = StatusFailed, err.Error()
			return res
		}
		defer os.RemoveAll(dir)
		if o.Warmup > 0 {
			if _, err := runWrk(ctx, wrkPath(), dir, url, r, o.Concurrency, o.Warmup); err != nil {
				res.Status, res.Reason = StatusFailed, err.Error()
				return res
			}
		}
		plan.OnMeasureStart()
		f, err := runWrk(ctx, wrkPath(), dir, url, r, o.Concurrency, o.Duration)
		plan.OnMeasureEnd()
		if err != nil {
			res.Status, res.Reason = StatusFailed, err.Error()
			return res
		}
		res.Status = StatusOK
		f.fill(&res)
		ok = res.Ops
	} else {
		lr := runLoad(ctx, plan, ops)
		res.Status = StatusOK
		res.Ops, res.Errors, res.FirstError = lr.OK, lr.Errors, lr.FirstError
		res.OpsPerSecond = float64(lr.OK) / lr.Elapsed.Seconds()
		res.fillLatency(&lr.Hist)
		ok = lr.OK
	}
	per1k := func(d time.Duration) *float64 {
		v := d.Seconds() / float64(ok) * 1000
		return &v
	}
	mu.Lock()
	if cliErr == nil && cliEnd > cliStart && ok > 0 && res.Generator == GeneratorBuiltin {
		res.ClientCPUSecondsPer1k = per1k(cliEnd - cliStart)
	}
	if srv != nil && srvErr == nil && srvEnd >= srvStart {
		cpu := (srvEnd - srvStart).Seconds()
		res.ServerCPUSeconds = &cpu
		if ok > 0 {
			res.ServerCPUSecondsPer1k = per1k(srvEnd - srvStart)
		}
	}
	mu.Unlock()
	if srv != nil {
		if _, hwm, err := procMem(srv.pid); err == nil {
			res.ServerPeakRSSBytesSoFar = hwm
		}
	}
	return res
}

// serverVersion reads the version /healthz reports, for the report header.
func serverVersion(ctx context.Context, c *httpClient) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	resp, err := c.do(ctx, &request{Method: "GET", URL: "/healthz"}, &buf)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	var h struct {
		Version string `json:"version"`
	}
	json.Unmarshal(buf.Bytes(), &h)
	return h.Version
}

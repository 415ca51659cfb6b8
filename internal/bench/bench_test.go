package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func resultOf(t *testing.T, rep *Report, name string) Result {
	t.Helper()
	for _, r := range rep.Workloads {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s row in %+v", name, rep.Workloads)
	return Result{}
}

// TestRunAgainstStandIn drives every workload against the in-process stand-in
// server: sign-in and consent through the forms, the code flow with PKCE,
// refresh chains, PATs and API keys.
func TestRunAgainstStandIn(t *testing.T) {
	g := newFakeGatehouse()
	base := startFake(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var progress bytes.Buffer
	rep, err := Run(ctx, Options{
		Target: base, Duration: 300 * time.Millisecond, Concurrency: 4,
		Progress: &progress, admin: g,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if rep.ServerVersion != "fake-1" || rep.Server != nil || rep.Database != "target" {
		t.Errorf("header: version %q server %+v database %q", rep.ServerVersion, rep.Server, rep.Database)
	}
	for _, name := range []string{"ceiling", "client_credentials", "introspect", "me_access_token", "me_pat", "me_api_key", "gateway_access_token", "gateway_pat", "gateway_api_key",
		"middleware_access_token", "middleware_pat", "middleware_api_key", "middleware_pat_nocache", "auth_code", "refresh"} {
		r := resultOf(t, rep, name)
		if r.Status != StatusOK || r.Ops == 0 || r.OpsPerSecond <= 0 || r.Errors != 0 {
			t.Errorf("%s: %+v", name, r)
		}
		if r.P50MS <= 0 || r.P50MS > r.P99MS || r.P99MS > r.MaxMS {
			t.Errorf("%s: latencies out of order: %+v", name, r)
		}
		if r.ServerCPUSecondsPer1k != nil {
			t.Errorf("%s: CPU figure without a child server", name)
		}
	}
	if c := resultOf(t, rep, "ceiling"); c.PctOfCeiling != 100 || rep.CeilingRPS != c.OpsPerSecond {
		t.Errorf("ceiling share: %+v, ceiling %v", c, rep.CeilingRPS)
	}
	if resultOf(t, rep, "auth_code").RequestsPerOp != 2 {
		t.Error("auth_code is two requests per operation")
	}
	// One sign-in and one consent for the whole run.
	if g.logins != 1 || g.consented != 1 {
		t.Errorf("logins %d, consents %d; want 1 and 1", g.logins, g.consented)
	}

	var md, js bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", md.String())
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Workloads) != len(rep.Workloads) {
		t.Fatalf("JSON round trip: %v", err)
	}
}

// TestMissingRoutesAreNA: a server without an endpoint yields n/a rows, not
// a crash, and only the selected workloads (plus the ceiling) run.
func TestMissingRoutesAreNA(t *testing.T) {
	g := newFakeGatehouse()
	g.noPATs, g.noAPIKeys = true, true
	base := startFake(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{
		Target: base, Duration: 150 * time.Millisecond, Concurrency: 2,
		Workloads: []string{"me_api_key", "me_pat"}, admin: g,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Catalogue order, ceiling first, whatever order was asked for.
	if len(rep.Workloads) != 3 || rep.Workloads[0].Name != "ceiling" || rep.Workloads[1].Name != "me_pat" {
		t.Fatalf("rows: %+v", rep.Workloads)
	}
	for _, r := range rep.Workloads[1:] {
		if r.Status != StatusNotAvailable || !strings.Contains(r.Reason, "→ 404") {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
}

// TestErrorsAreCounted: a workload whose requests fail is measured, with the
// failures counted and the first body quoted.
func TestErrorsAreCounted(t *testing.T) {
	g := newFakeGatehouse()
	base := startFake(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := &fixtures{c: newHTTPClient(base, 2), admin: g}
	defer f.c.close()
	if err := f.needAccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	clear(g.access) // every bearer request now fails with 401
	g.mu.Unlock()
	ops, err := workloads[3].prepare(ctx, f, 2) // me_access_token
	if err != nil {
		t.Fatal(err)
	}
	lr := runLoad(ctx, loadPlan{Duration: 100 * time.Millisecond}, ops)
	if lr.OK != 0 || lr.Errors == 0 || !strings.Contains(lr.FirstError, "GET /v0/me: HTTP 401") {
		t.Fatalf("ok %d errors %d first %q", lr.OK, lr.Errors, lr.FirstError)
	}
}

func TestLoadIsBoundedInTime(t *testing.T) {
	slow := func(ctx context.Context) error {
		select {
		case <-time.After(time.Hour):
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	var starts, ends int
	start := time.Now()
	lr := runLoad(context.Background(), loadPlan{
		Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond,
		OnMeasureStart: func() { starts++ }, OnMeasureEnd: func() { ends++ },
	}, []Op{slow, slow})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
	if lr.OK != 0 || lr.Errors != 0 {
		t.Fatalf("cut-off operations were counted: %+v", lr)
	}
	if starts != 1 || ends != 1 {
		t.Fatalf("hooks: %d starts, %d ends", starts, ends)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{Target: "http://10.0.0.1:8080"},
		{Target: "http://example.com"},
		{Target: "ftp://127.0.0.1"},
		{Workloads: []string{"nope"}},
		{Concurrency: -1},
		{Duration: time.Hour},
	} {
		if err := o.normalise(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	q := Options{Quick: true}
	if err := q.normalise(); err != nil || q.Duration != QuickDuration || q.Concurrency != QuickConcurrency || q.Warmup != QuickDuration/10 {
		t.Errorf("quick defaults: %+v %v", q, err)
	}
	d := Options{Quick: true, Duration: time.Second, Target: "http://[::1]:1"}
	if err := d.normalise(); err != nil || d.Duration != time.Second {
		t.Errorf("explicit duration with quick: %+v %v", d, err)
	}
}

func workloadNamed(t *testing.T, name string) workload {
	t.Helper()
	for _, w := range workloads {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no workload %s", name)
	return workload{}
}

// TestMiddlewareWorkloadsIntrospect: the middleware workloads reach the
// stand-in's introspection endpoint as the bench API's resource server (the
// stand-in tells no other client about PATs and API keys); with the default
// cache only the probe introspects and the measured requests are cache hits,
// with the cache off every request introspects once. The in-process API
// stops when the fixtures close.
func TestMiddlewareWorkloadsIntrospect(t *testing.T) {
	g := newFakeGatehouse()
	base := startFake(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := &fixtures{c: newHTTPClient(base, 4), admin: g}
	defer f.c.close()

	introspections := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.introspections
	}
	for _, c := range []struct {
		name    string
		perOp   bool // every operation introspects
		noCache bool
	}{
		{"middleware_pat", false, false},
		{"middleware_api_key", false, false},
		{"middleware_access_token", false, false},
		{"middleware_pat_nocache", true, true},
	} {
		before := introspections()
		ops, err := workloadNamed(t, c.name).prepare(ctx, f, 4)
		if err != nil {
			t.Fatalf("%s: prepare: %v", c.name, err)
		}
		if got := introspections() - before; got != 1 {
			t.Errorf("%s: the probe made %d introspection calls, want 1", c.name, got)
		}
		before = introspections()
		// Long enough that a busy machine (or -race) still completes some
		// requests: the assertions are about counts, not rates.
		lr := runLoad(ctx, loadPlan{Duration: time.Second}, ops)
		got := introspections() - before
		if lr.OK == 0 || lr.Errors != 0 {
			t.Fatalf("%s: ok %d errors %d first %q", c.name, lr.OK, lr.Errors, lr.FirstError)
		}
		if c.perOp && uint64(got) < lr.OK {
			t.Errorf("%s: %d introspection calls for %d requests, want one each at least", c.name, got, lr.OK)
		}
		if !c.perOp && got != 0 {
			t.Errorf("%s: %d introspection calls for %d requests, want none (cache hits)", c.name, got, lr.OK)
		}
	}
	g.mu.Lock()
	var rs int
	for _, c := range g.clients {
		if c.spec.ResourceServer == benchAPI && len(c.spec.GrantTypes) == 0 && len(c.spec.Scopes) == 0 {
			rs++
		}
	}
	g.mu.Unlock()
	if rs != 1 {
		t.Errorf("%d resource-server clients for %s, want 1", rs, benchAPI)
	}

	// The run's end stops the in-process APIs.
	f.mu.Lock()
	n := len(f.closers)
	f.mu.Unlock()
	if n != 4 {
		t.Fatalf("%d in-process APIs registered to stop, want 4", n)
	}
	f.close()
	ops, err := workloadNamed(t, "middleware_pat").prepare(ctx, f, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.close()
	if err := ops[0](ctx); err == nil {
		t.Error("the in-process API still answers after close")
	}
}

// TestMiddlewareRefusalFailsPrepare: when the server does not tell the
// resource server about the credential, the workload fails at set-up
// rather than measuring 401s.
func TestMiddlewareRefusalFailsPrepare(t *testing.T) {
	g := newFakeGatehouse()
	base := startFake(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := &fixtures{c: newHTTPClient(base, 2), admin: g}
	defer f.c.close()
	defer f.close()
	if err := f.needPAT(ctx); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	clear(g.pats) // introspection now answers inactive
	g.mu.Unlock()
	_, err := workloadNamed(t, "middleware_pat").prepare(ctx, f, 2)
	if err == nil || !strings.Contains(err.Error(), "refused the bench's credential") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("prepare: %v", err)
	}
}

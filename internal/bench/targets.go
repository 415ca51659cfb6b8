package bench

import "fmt"

// Check is one of issue 6's targets held against this run. Checks are
// informational: the bench never fails on them (CI machines are noisy), and
// the targets are stated for SQLite at concurrency 32 on a 2-core machine.
type Check struct {
	What string `json:"what"`
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// computeChecks fills rep.Checks from the figures present (a workload that
// did not run, or ran n/a, has no check).
func (rep *Report) computeChecks() {
	rep.Checks = nil
	add := func(what, want, got string, ok bool) {
		rep.Checks = append(rep.Checks, Check{What: what, Want: want, Got: got, OK: ok})
	}
	share := func(name string, min float64) {
		for _, r := range rep.Workloads {
			if r.Name == name && r.Status == StatusOK && rep.CeilingRPS > 0 {
				add(name+" share of ceiling", fmt.Sprintf("≥ %g%%", min), fmt.Sprintf("%.1f%%", r.PctOfCeiling), r.PctOfCeiling >= min)
			}
		}
	}
	share("client_credentials", 15)
	for _, r := range rep.Workloads {
		if r.Name == "client_credentials" && r.Status == StatusOK {
			add("client_credentials p99", "≤ 25 ms", fmtMS(r.P99MS), r.P99MS <= 25)
		}
	}
	share("introspect", 50)
	share("me_access_token", 50)
	share("me_pat", 50)
	share("me_api_key", 50)
	share("gateway_access_token", 50)
	share("gateway_pat", 50)
	share("gateway_api_key", 50)
	share("auth_code", 4)
	for _, r := range rep.Workloads {
		if r.Name == "introspect" && r.Status == StatusOK && rep.BareRPS > 0 {
			add("introspect share of bare", "≥ 50%", fmt.Sprintf("%.1f%%", r.PctOfBare), r.PctOfBare >= 50)
		}
		if r.Name == "client_credentials" && r.Status == StatusOK && rep.Database == "sqlite" && rep.BareRPS > 0 {
			add("client_credentials p99 (SQLite, with the bare ceiling measured)", "≤ 15 ms", fmtMS(r.P99MS), r.P99MS <= 15)
		}
		if r.Name == "client_credentials" && r.Status == StatusOK && rep.Database == "postgres" {
			add("client_credentials on PostgreSQL", "≥ 8,500/s", fmtRate(r.OpsPerSecond), r.OpsPerSecond >= 8500)
		}
		if (r.Name == "jwt_client_credentials_eddsa" || r.Name == "jwt_client_credentials_es256") && r.Status == StatusOK {
			add(r.Name+" rate", "≥ 10,000 req/s", fmtRate(r.OpsPerSecond)+" req/s", r.OpsPerSecond >= 10000)
		}
	}
	rep.auditCostCheck(add)
	if s := rep.Server; s != nil {
		add("idle RSS", "≤ 40 MB", fmt.Sprintf("%.1f MB", float64(s.IdleRSSBytes)/1e6), s.IdleRSSBytes <= 40e6)
		add("start to ready", "≤ 300 ms", fmt.Sprintf("%.0f ms", s.StartToReadyMS), s.StartToReadyMS <= 300)
	}
}

// auditCostCheck compares client_credentials with and without its audit
// entry (client_credentials_audit_off): the throughput the entry costs.
func (rep *Report) auditCostCheck(add func(what, want, got string, ok bool)) {
	var on, off *Result
	for i := range rep.Workloads {
		r := &rep.Workloads[i]
		if r.Status != StatusOK {
			continue
		}
		switch r.Name {
		case "client_credentials":
			on = r
		case "client_credentials_audit_off":
			off = r
		}
	}
	if on == nil || off == nil || off.OpsPerSecond <= 0 {
		return
	}
	cost := 100 * (off.OpsPerSecond - on.OpsPerSecond) / off.OpsPerSecond
	got := fmt.Sprintf("%.1f%% (%s vs %s req/s", cost, fmtRate(on.OpsPerSecond), fmtRate(off.OpsPerSecond))
	if on.ServerCPUSecondsPer1k != nil && off.ServerCPUSecondsPer1k != nil && *off.ServerCPUSecondsPer1k > 0 {
		got += fmt.Sprintf("; server CPU per request +%.1f%%", 100*(*on.ServerCPUSecondsPer1k-*off.ServerCPUSecondsPer1k) / *off.ServerCPUSecondsPer1k)
	}
	add("audit entry's cost to client_credentials throughput", "< 10%", got+")", cost < 10)
}

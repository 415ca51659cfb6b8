package identity_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
)

// TestFailureAndLockoutMetrics: each wrong password counts one failure; the
// failure that reaches the account's lockout counts one lockout; a right
// password counts nothing.
func TestFailureAndLockoutMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.Metrics = identity.NewMetrics(reg)
		c.Throttle.AccountFree, c.Throttle.AccountLockout = 3, 3
		c.Throttle.IPFree, c.Throttle.IPLockout = 100, 101
	}))
	e.CreateUser(t, email, password)
	if _, err := e.Service.CheckPassword(ctx, email, password, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.Service.CheckPassword(ctx, email, "wrong password here", "192.0.2.1"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	count := func(name, label string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	if got := count("gatehouse_signin_failures_total", "password"); got != 3 {
		t.Fatalf("password failures %v, want 3", got)
	}
	if got := count("gatehouse_lockouts_total", "account"); got != 1 {
		t.Fatalf("account lockouts %v, want 1", got)
	}
	if got := count("gatehouse_lockouts_total", "address"); got != 0 {
		t.Fatalf("address lockouts %v, want 0", got)
	}
}

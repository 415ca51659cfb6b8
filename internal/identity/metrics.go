package identity

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Metrics counts failed sign-in steps and the lockouts they cause, for
// monitoring repeated failures, and the security notices sent to account
// owners. A nil *Metrics counts nothing.
type Metrics struct {
	failures *prometheus.CounterVec
	lockouts *prometheus.CounterVec
	alerts   *prometheus.CounterVec
}

// NewMetrics registers gatehouse_signin_failures_total{step},
// gatehouse_lockouts_total{key} and gatehouse_security_alerts_total{kind}
// on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_signin_failures_total",
			Help: "Failed sign-in steps: a wrong password (or unknown account) or a wrong second-factor code.",
		}, []string{"step"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_lockouts_total",
			Help: "Temporary lockouts begun, by what is locked: account, address, code (an account's second factor), signup.",
		}, []string{"key"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_security_alerts_total",
			Help: "Security notices sent to account owners (audit type account.security_alert), by kind.",
		}, []string{"kind"}),
	}
	// Every kind starts at 0, so an alert rule on increase() sees the
	// first one.
	for _, k := range NoticeKinds {
		m.alerts.WithLabelValues(string(k))
	}
	reg.MustRegister(m.failures, m.lockouts, m.alerts)
	return m
}

func (m *Metrics) securityAlert(k NoticeKind) {
	if m != nil {
		m.alerts.WithLabelValues(string(k)).Inc()
	}
}

// kept records an attempt whose reservations were kept: a failure (or, on
// the sign-up keys, a sign-up), and any key that reached its lockout.
func (m *Metrics) kept(keys []throttleKey, res []store.Reservation) {
	if m == nil {
		return
	}
	step := ""
	for i, k := range keys {
		kind := keyKind(k.key)
		switch kind {
		case "account":
			step = "password"
		case "code":
			step = "second_factor"
		}
		if i < len(res) && res[i].Count == k.policy.Limit {
			m.lockouts.WithLabelValues(kind).Inc()
		}
	}
	if step != "" {
		m.failures.WithLabelValues(step).Inc()
	}
}

// keyKind names a throttle key's kind from its prefix (see throttle.go).
func keyKind(key string) string {
	switch {
	case strings.HasPrefix(key, "acct:"):
		return "account"
	case strings.HasPrefix(key, "otp:"):
		return "code"
	case strings.HasPrefix(key, "signup:"):
		return "signup"
	default:
		return "address"
	}
}

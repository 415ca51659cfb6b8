// Package ratelimit limits how often one key (a client, an address, an
// account) may use a class of routes. It implements the generic cell rate
// algorithm (GCRA): each key stores one timestamp, the theoretical arrival
// time (TAT) of its next request; a request is allowed when it arrives no
// earlier than TAT minus the burst allowance, and moves TAT one emission
// interval on. One number per key, updated atomically, makes the limiter
// exact under concurrency and cheap to share: the counters live in memory
// (one process) or in Redis (every replica enforces the same limit).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/activity"
)

// Rate is Count requests per Per, with up to Burst at once. The zero Rate is
// off: nothing is limited.
type Rate struct {
	Count int
	Per   time.Duration
	Burst int
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.Count <= 0 || r.Per <= 0 }

// interval is the emission interval: the time one request "costs".
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.Count) }

// burst is the number of requests a fresh key may make at once (≥ 1).
func (r Rate) burst() int { return max(r.Burst, 1) }

// String renders r in the syntax ParseRate reads.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	return fmt.Sprintf("%d/%s burst %d", r.Count, unit, r.burst())
}

// ParseRate reads "off", "10/s", "10/m burst 20" (units s, m, h). Without a
// burst the burst equals the count: a fresh key may spend one period's
// worth at once.
func ParseRate(s string) (Rate, error) {
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) == 1 && fields[0] == "off" {
		return Rate{}, nil
	}
	bad := fmt.Errorf("rate %q: want off, or N/s, N/m or N/h optionally followed by \"burst M\" (e.g. \"10/s burst 20\")", s)
	if len(fields) != 1 && (len(fields) != 3 || fields[1] != "burst") {
		return Rate{}, bad
	}
	n, unit, ok := strings.Cut(fields[0], "/")
	if !ok {
		return Rate{}, bad
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 || count > 1_000_000 {
		return Rate{}, bad
	}
	per, ok := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok {
		return Rate{}, bad
	}
	r := Rate{Count: count, Per: per, Burst: count}
	if len(fields) == 3 {
		b, err := strconv.Atoi(fields[2])
		if err != nil || b < 1 || b > 1_000_000 {
			return Rate{}, bad
		}
		r.Burst = b
	}
	return r, nil
}

// Decision is the outcome of one request against one key.
type Decision struct {
	Allowed bool
	// Limit is the burst: how many requests a rested key may make at once.
	Limit int
	// Remaining is how many more requests the key may make right now.
	Remaining int
	// RetryAfter is how long a refused request should wait (0 if allowed).
	RetryAfter time.Duration
	// Reset is how long until the key is fully rested again.
	Reset time.Duration
	// Unavailable: the shared backend could not be reached and the limiter
	// fails closed, so the request is refused without a decision.
	Unavailable bool
}

// gcra applies one request to a key whose stored TAT is tat (zero: none) at
// now; it returns the decision and the TAT to store (zero: leave as is).
// Every backend computes with this same rule (the Redis script mirrors it).
func gcra(tat, now time.Time, r Rate) (Decision, time.Time) {
	t := r.interval()
	b := r.burst()
	if tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(t)
	allowAt := newTAT.Add(-time.Duration(b) * t)
	if now.Before(allowAt) {
		return Decision{Limit: b, RetryAfter: allowAt.Sub(now), Reset: tat.Sub(now)}, time.Time{}
	}
	return Decision{Allowed: true, Limit: b, Remaining: int(now.Sub(allowAt) / t), Reset: newTAT.Sub(now)}, newTAT
}

// Backend stores the TATs.
type Backend interface {
	// Take applies one request for key under r and returns the decision.
	Take(ctx context.Context, key string, r Rate) (Decision, error)
	// Refund gives back one request taken under r (no-op when the key
	// has rested meanwhile).
	Refund(ctx context.Context, key string, r Rate) error
}

// Limiter takes requests against a Backend, counts refusals per class, and
// decides what a backend failure means.
type Limiter struct {
	backend  Backend
	failOpen bool
	log      *slog.Logger
	now      func() time.Time
	hits     *prometheus.CounterVec
	failures prometheus.Counter
	activity *activity.Counter
	// lastFailureLog (unix nanoseconds) rate-limits the failure log: an
	// unreachable Redis fails every request, and one line per request would
	// flood the log exactly when the operator needs to read it.
	lastFailureLog atomic.Int64
	// backendDownUntil (unix nanoseconds): after a backend error, decisions
	// use the failure mode without asking the backend until then, so a dead
	// Redis costs each request nothing instead of a connection attempt.
	backendDownUntil atomic.Int64
}

// backendPause is how long a failed backend is left alone.
const backendPause = time.Second

// errBackendPaused stands for the backend's last error while it is left alone.
var errBackendPaused = errors.New("backend failed within the last second; not asked")

// failureLogEvery is how often an ongoing backend failure is logged.
const failureLogEvery = 10 * time.Second

// Options configure NewLimiter.
type Options struct {
	Backend Backend
	// FailOpen allows requests when the backend fails; otherwise they are
	// refused (Decision.Unavailable).
	FailOpen bool
	Log      *slog.Logger
	Now      func() time.Time
	// Registry receives gatehouse_rate_limit_hits_total{class} and
	// gatehouse_rate_limit_backend_errors_total; nil registers nothing.
	Registry prometheus.Registerer
	// Activity counts refusals for the console's overview (nil: not
	// counted).
	Activity *activity.Counter
}

// NewLimiter builds a Limiter.
func NewLimiter(o Options) *Limiter {
	l := &Limiter{backend: o.Backend, failOpen: o.FailOpen, log: o.Log, now: o.Now, activity: o.Activity,
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rate_limit_hits_total", Help: "Requests refused by a rate limit, by route class.",
		}, []string{"class"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_rate_limit_backend_errors_total", Help: "Rate-limit decisions the shared backend (Redis) could not make.",
		}),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if o.Registry != nil {
		o.Registry.MustRegister(l.hits, l.failures)
	}
	return l
}

// Allow takes one request of class for key under r.
func (l *Limiter) Allow(ctx context.Context, class, key string, r Rate) Decision {
	if r.Off() {
		return Decision{Allowed: true}
	}
	var d Decision
	var err error
	now := l.now().UnixNano()
	if now < l.backendDownUntil.Load() {
		err = errBackendPaused
	} else if d, err = l.backend.Take(ctx, class+":"+key, r); err != nil {
		l.backendDownUntil.Store(now + int64(backendPause))
	}
	if err != nil {
		l.failures.Inc()
		l.logFailure(class, err)
		if l.failOpen {
			return Decision{Allowed: true}
		}
		// A second is short enough that clients come back soon after the
		// backend does, long enough not to hammer it meanwhile.
		return Decision{Limit: r.burst(), RetryAfter: time.Second, Unavailable: true}
	}
	if !d.Allowed {
		l.hits.WithLabelValues(class).Inc()
		l.activity.Add(activity.RateLimitHit, time.Unix(0, now))
	}
	return d
}

// Refund gives back a request Allow took for class and key: for requests
// that turn out not to be the key's own (a token request naming a client
// that then fails to authenticate). Errors are logged like Allow's.
func (l *Limiter) Refund(ctx context.Context, class, key string, r Rate) {
	if r.Off() || l.now().UnixNano() < l.backendDownUntil.Load() {
		return
	}
	if err := l.backend.Refund(ctx, class+":"+key, r); err != nil {
		l.failures.Inc()
		l.logFailure(class, err)
	}
}

func (l *Limiter) logFailure(class string, err error) {
	now := l.now().UnixNano()
	last := l.lastFailureLog.Load()
	if now-last < int64(failureLogEvery) || !l.lastFailureLog.CompareAndSwap(last, now) {
		return
	}
	mode := "closed: refusing requests"
	if l.failOpen {
		mode = "open: allowing requests unlimited"
	}
	l.log.Error("rate limit backend unreachable; failing "+mode, "class", class, "err", err,
		"next_log_within", failureLogEvery.String())
}

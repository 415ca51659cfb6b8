package identity

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"
)

// HashLimits bound the argon2id work of one process. Each password hash or
// verification holds Argon2Params.Memory KiB for its whole run and keeps
// Parallelism cores busy, so with nothing in the way a burst of sign-in
// attempts — 200 Basic requests for a made-up email — allocates 200 × 19 MiB
// at once and every request gets slower. The limiter lets Slots computations
// run at a time, lets up to Queue more callers wait up to MaxWait for a slot,
// and turns everyone else away at once with a *BusyError (HTTP 503 with
// Retry-After): a short wait beats a long one for everybody.
type HashLimits struct {
	// Slots is how many hashes run at once (default: AutoHashSlots with the
	// cores available and no memory limit).
	Slots int
	// Queue is how many callers may wait for a slot (0: 4 × Slots;
	// negative: none).
	Queue int
	// MaxWait is the longest a caller waits in the queue (default 2s).
	MaxWait time.Duration
}

// AutoHashSlots sizes the limiter for a machine:
//
//	slots = max(1, min(cores ÷ p, (memory ÷ 4) ÷ m))
//
// where p is the argon2id parallelism, m its memory per hash, and memory the
// bytes available to the process (0: unknown, no memory bound). More slots
// than cores ÷ p only add memory and latency — argon2id is CPU-bound — and a
// quarter of the memory keeps hashing from crowding out everything else.
// With 2 cores and the OWASP parameters (p=1, 19 MiB) that is 2 slots, about
// 38 MiB of hash memory at the worst moment.
func AutoHashSlots(cores int, memory uint64, p Argon2Params) int {
	threads := max(int(p.Parallelism), 1)
	slots := cores / threads
	if per := uint64(p.Memory) * 1024; memory > 0 && per > 0 {
		slots = min(slots, int(min(memory/4/per, 1<<20)))
	}
	return max(slots, 1)
}

func (l HashLimits) withDefaults(cores int, p Argon2Params) HashLimits {
	if l.Slots <= 0 {
		l.Slots = AutoHashSlots(cores, 0, p)
	}
	if l.Queue < 0 {
		l.Queue = 0
	} else if l.Queue == 0 {
		l.Queue = 4 * l.Slots
	}
	if l.MaxWait <= 0 {
		l.MaxWait = 2 * time.Second
	}
	return l
}

// BusyError means the password could not be checked now because the server
// is computing as many password hashes as it allows: nothing about the
// credentials was learnt and no attempt was counted. Retry after RetryAfter
// (HTTP 503 with Retry-After).
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return "identity: too many password checks in progress; retry after " + e.RetryAfter.String()
}

// RetryAfterSeconds is RetryAfter in whole seconds (≥ 1) for Retry-After.
func (e *BusyError) RetryAfterSeconds() string {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// HashLimiter is a counting semaphore with a bounded queue in front of it.
// Safe for concurrent use.
type HashLimiter struct {
	limits  HashLimits
	slots   chan struct{}
	waiting atomic.Int64
	running atomic.Int64
	peak    atomic.Int64
	done    atomic.Int64
}

// NewHashLimiter builds a limiter; zero fields of l take their defaults for
// the given core count and parameters.
func NewHashLimiter(l HashLimits, cores int, p Argon2Params) *HashLimiter {
	l = l.withDefaults(cores, p)
	return &HashLimiter{limits: l, slots: make(chan struct{}, l.Slots)}
}

// Limits returns the effective limits.
func (h *HashLimiter) Limits() HashLimits { return h.limits }

// Peak is the most computations that ever ran at once (for tests and
// metrics).
func (h *HashLimiter) Peak() int { return int(h.peak.Load()) }

// Done is how many computations have run to completion (for tests and
// metrics).
func (h *HashLimiter) Done() int { return int(h.done.Load()) }

// Waiting is how many callers wait in the queue now.
func (h *HashLimiter) Waiting() int { return int(h.waiting.Load()) }

// Do runs fn in a slot: at once if one is free, after a wait in the queue if
// there is room in it, and otherwise not at all (*BusyError). The wait uses
// real time, not the service clock: it is a bound on how long a request is
// held, not a timestamp.
func (h *HashLimiter) Do(ctx context.Context, fn func()) error {
	select {
	case h.slots <- struct{}{}:
	default:
		if err := h.wait(ctx); err != nil {
			return err
		}
	}
	defer func() { <-h.slots }()
	n := h.running.Add(1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	defer h.running.Add(-1)
	fn()
	h.done.Add(1)
	return nil
}

func (h *HashLimiter) wait(ctx context.Context) error {
	if h.waiting.Add(1) > int64(h.limits.Queue) {
		h.waiting.Add(-1)
		return h.busy()
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.limits.MaxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return h.busy()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// busy suggests a retry after about the time the queue takes to drain.
func (h *HashLimiter) busy() error {
	return &BusyError{RetryAfter: time.Second}
}

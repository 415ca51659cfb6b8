// Package activity counts what happens on the server, per hour, for the
// console's overview charts and GET /admin/activity: sign-ins and their
// failures, lockouts, tokens issued, rate-limit refusals, replays detected.
//
// Counting is on hot paths (the token endpoint answers thousands of requests
// a second), so Add is an atomic increment in memory, never a database
// write. Run adds the counts to the store every few seconds (and at
// shutdown) with an upsert that adds, so replicas sharing one database sum.
package activity

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Event is one kind of counted event.
type Event int

// The counted events. Their names are what the store and the admin API
// carry.
const (
	SignInSuccess  Event = iota // a right password for an enabled account
	SignInFailure               // a wrong password, unknown or disabled account
	SignInLockout               // a sign-in refused unchecked: too many recent failures
	TokenIssued                 // an access token issued (any grant or response type)
	RateLimitHit                // a request refused by a rate limit (429)
	ReplayDetected              // a used authorization code or rotated refresh token presented again
	numEvents
)

var names = [numEvents]string{
	SignInSuccess:  "sign_in.success",
	SignInFailure:  "sign_in.failure",
	SignInLockout:  "sign_in.lockout",
	TokenIssued:    "token.issued",
	RateLimitHit:   "rate_limit.hit",
	ReplayDetected: "replay.detected",
}

// Name is the event's stored name, e.g. "token.issued".
func (e Event) Name() string {
	if e < 0 || e >= numEvents {
		return ""
	}
	return names[e]
}

// Events lists every event, in a stable order.
func Events() []Event {
	out := make([]Event, numEvents)
	for i := range out {
		out[i] = Event(i)
	}
	return out
}

// DefaultFlushEvery is how often Run adds the counts to the store.
const DefaultFlushEvery = 5 * time.Second

// DefaultRetention is how long hourly counts are kept (Prune).
const DefaultRetention = 90 * 24 * time.Hour

// Config builds a Counter.
type Config struct {
	Store store.Activity
	Now   func() time.Time
	Log   *slog.Logger
	// FlushEvery is Run's period (default DefaultFlushEvery).
	FlushEvery time.Duration
	// Retention is how long Prune keeps counts (default DefaultRetention).
	Retention time.Duration
}

// slot holds one hour's in-memory counts. Each count sits on its own cache
// line: different events counted on different cores do not contend.
type slot struct {
	counts [numEvents]struct {
		n atomic.Int64
		_ [56]byte
	}
}

// Counter counts events in memory and adds them to the store. A nil
// *Counter counts nothing, so services built without one need no checks.
type Counter struct {
	cfg Config
	// slots[h%2] counts the events of hour h (Unix hours). Two are enough:
	// Flush empties both every few seconds, so a slot is always emptied
	// before its hour's parity comes round again (two hours later). An
	// event dated more than an hour from the flush's clock would land in
	// the wrong hour; callers date events with the current time.
	slots [2]slot

	// mu guards pending: counts taken out of the slots but not yet stored
	// (a failed flush keeps them for the next one).
	mu      sync.Mutex
	pending map[pendingKey]int64
}

type pendingKey struct {
	hour int64 // Unix hours
	ev   Event
}

// New builds a Counter.
func New(cfg Config) (*Counter, error) {
	if cfg.Store == nil || cfg.Now == nil {
		return nil, errors.New("activity: store and clock are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	return &Counter{cfg: cfg, pending: map[pendingKey]int64{}}, nil
}

// unixHour is the hour t falls in, counted from the Unix epoch.
func unixHour(t time.Time) int64 { return t.Unix() / 3600 }

// Add counts one e that happened at at: an atomic increment, no
// allocation, no I/O. Callers pass the time they already decided at (a
// clock read costs as much as the rest of Add on some machines), so every
// service's clock, fake ones in tests included, places its own events.
func (c *Counter) Add(e Event, at time.Time) {
	if c == nil || e < 0 || e >= numEvents {
		return
	}
	c.slots[unixHour(at)&1].counts[e].n.Add(1)
}

// Flush adds everything counted so far to the store. Counts a failed write
// could not store are kept for the next Flush.
func (c *Counter) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := unixHour(c.cfg.Now())
	for p := range int64(2) {
		// The slot of parity p holds the latest hour ≤ now with that
		// parity: now itself, or the hour before (counts added just before
		// the hour turned).
		hour := now
		if now&1 != p {
			hour = now - 1
		}
		s := &c.slots[p]
		for e := range numEvents {
			if n := s.counts[e].n.Swap(0); n != 0 {
				c.pending[pendingKey{hour, e}] += n
			}
		}
	}
	if len(c.pending) == 0 {
		return nil
	}
	counts := make([]store.ActivityCount, 0, len(c.pending))
	for k, n := range c.pending {
		counts = append(counts, store.ActivityCount{Hour: time.Unix(k.hour*3600, 0).UTC(), Name: k.ev.Name(), Count: n})
	}
	if err := c.cfg.Store.AddActivity(ctx, counts); err != nil {
		return err
	}
	clear(c.pending)
	return nil
}

// Run flushes every FlushEvery until ctx ends, then once more, so a clean
// shutdown loses nothing.
func (c *Counter) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last flush must not be cancelled by the very shutdown
			// it serves; it is still bounded.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := c.Flush(fctx); err != nil {
				c.cfg.Log.Warn("activity: final flush", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Log.Warn("activity: flush", "err", err)
			}
		}
	}
}

// Prune drops the counts of hours older than the retention.
func (c *Counter) Prune(ctx context.Context) (int64, error) {
	return c.cfg.Store.DeleteActivityBefore(ctx, c.cfg.Now().Add(-c.cfg.Retention))
}

// Series is the hourly counts of every event over whole hours.
type Series struct {
	// From is the first hour; To the end of the last (excluded).
	From, To time.Time
	// Hours lists the start of each hour, From first.
	Hours []time.Time
	// Counts holds, per event name, one count per hour, aligned with
	// Hours (every event is present, zeros included).
	Counts map[string][]int64
	// Totals holds each event's sum over the range.
	Totals map[string]int64
}

// Total is the event's sum over the range.
func (s Series) Total(e Event) int64 { return s.Totals[e.Name()] }

// Of is the event's hourly counts.
func (s Series) Of(e Event) []int64 { return s.Counts[e.Name()] }

// Last returns the stored counts of the last days×24 hours, the current
// hour included. Counts not flushed yet (at most FlushEvery old) are not in
// it.
func (c *Counter) Last(ctx context.Context, days int) (Series, error) {
	to := c.cfg.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	return c.Between(ctx, to.Add(-time.Duration(days)*24*time.Hour), to)
}

// Between returns the stored counts of the hours from..to (to excluded),
// both truncated to the hour.
func (c *Counter) Between(ctx context.Context, from, to time.Time) (Series, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	if to.Before(from) {
		to = from
	}
	n := int(to.Sub(from) / time.Hour)
	s := Series{From: from, To: to, Hours: make([]time.Time, n), Counts: map[string][]int64{}, Totals: map[string]int64{}}
	for i := range s.Hours {
		s.Hours[i] = from.Add(time.Duration(i) * time.Hour)
	}
	for _, e := range Events() {
		s.Counts[e.Name()] = make([]int64, n)
		s.Totals[e.Name()] = 0
	}
	list, err := c.cfg.Store.ActivityBetween(ctx, from, to)
	if err != nil {
		return Series{}, err
	}
	for _, r := range list {
		counts, ok := s.Counts[r.Name]
		i := int(r.Hour.Sub(from) / time.Hour)
		if !ok || i < 0 || i >= n {
			continue // an event this version does not know
		}
		counts[i] += r.Count
		s.Totals[r.Name] += r.Count
	}
	return s, nil
}

// Package lastuse records when credentials (personal access tokens, API keys)
// were last used without writing to the database on the request path.
//
// Validation calls Record, which only updates an in-memory map under a mutex.
// A background loop (Run) hands the accumulated stamps to the store in one
// batch every interval, and once more when it stops, so a clean shutdown loses
// nothing. A crash loses at most one interval of stamps, which only makes a
// "last used" column slightly stale — never a security decision.
//
// Memory is bounded: an entry exists only for a credential that passed
// validation since the last flush (so at most one per live credential), and
// when the map reaches MaxPending a flush is requested early.
package lastuse

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// FlushFunc persists a batch: credential id → last use.
type FlushFunc func(ctx context.Context, lastUsed map[string]time.Time) error

// Recorder accumulates last-use stamps. It is safe for concurrent use.
type Recorder struct {
	flush      FlushFunc
	log        *slog.Logger
	maxPending int

	mu      sync.Mutex
	pending map[string]time.Time
	kick    chan struct{} // a flush is wanted now (map is large)

	flushMu sync.Mutex // one flush at a time
}

// DefaultMaxPending is the number of distinct pending stamps that triggers an
// early flush.
const DefaultMaxPending = 10000

// New returns a Recorder that persists through flush.
func New(flush FlushFunc, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{
		flush:      flush,
		log:        log,
		maxPending: DefaultMaxPending,
		pending:    make(map[string]time.Time),
		kick:       make(chan struct{}, 1),
	}
}

// Record notes that credential id was used at `at`. It never blocks on I/O.
func (r *Recorder) Record(id string, at time.Time) {
	r.mu.Lock()
	if prev, ok := r.pending[id]; !ok || at.After(prev) {
		r.pending[id] = at
	}
	n := len(r.pending)
	r.mu.Unlock()
	if n >= r.maxPending {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Pending returns the unflushed stamp of id, if any, so that listings can
// show a use more recent than the database knows.
func (r *Recorder) Pending(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.pending[id]
	return t, ok
}

// Len returns the number of unflushed stamps.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush writes the pending stamps in one batch. On failure they are merged
// back (keeping the later stamp of each id) to be retried next time.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.pending
	if len(batch) == 0 {
		r.mu.Unlock()
		return nil
	}
	r.pending = make(map[string]time.Time, len(batch))
	r.mu.Unlock()

	err := r.flush(ctx, batch)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	for id, at := range batch {
		if prev, ok := r.pending[id]; !ok || at.After(prev) {
			r.pending[id] = at
		}
	}
	r.mu.Unlock()
	return err
}

// Run flushes every interval (and early when the map grows large) until ctx
// ends, then flushes one last time with a fresh context bounded by
// finalTimeout, so stamps recorded before shutdown reach the database.
func (r *Recorder) Run(ctx context.Context, interval, finalTimeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
			err := r.Flush(fctx)
			if errors.Is(err, store.ErrSerialization) {
				// Another replica's flush won a deadlock or serialization
				// conflict; ours was rolled back whole and the stamps were
				// merged back. There is no next tick at shutdown, so try
				// once more now rather than lose them.
				err = r.Flush(fctx)
			}
			if err != nil {
				r.log.Warn("last-use: final flush failed", "err", err, "lost", r.Len())
			}
			cancel()
			return
		case <-t.C:
		case <-r.kick:
		}
		if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("last-use: flush failed; will retry", "err", err, "pending", r.Len())
		}
	}
}

package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// batcher is group commit for hot inserts (token issuance). Concurrent
// callers hand their writes to one goroutine, which runs every write waiting
// at that moment (and, on SQLite under load, arriving within a short
// linger: see run) in ONE transaction: on SQLite one WAL append instead of one
// per request behind the single write connection, on PostgreSQL one WAL
// flush (fsync) instead of one per request. Each caller returns only after
// the commit that contains its write, so durability is unchanged.
//
// If a batch fails, it is rolled back and each write is retried alone, so
// one failing write (a constraint violation) never fails its neighbours and
// all-or-nothing holds per call.
//
// Token inserts (the bulk of every batch) carry their rows as well as a
// function: on PostgreSQL a batch inserts all of them with one multi-row
// INSERT, one round trip instead of one per token, which is what a group
// commit costs there. On SQLite a statement is a function call, and the
// prepared one-row INSERT measured cheaper than binding a 64-row one. SQLite has one write connection, so one
// committer; PostgreSQL runs several, so a batch is gathered while the
// previous one waits for its WAL flush.
type batcher struct {
	s       *Store
	jobs    chan *job
	stop    chan struct{}
	done    sync.WaitGroup
	once    sync.Once
	limit   int
	workers int
	// linger is how long a committer waits for a fuller batch when the
	// previous one had several jobs; 0 never waits.
	linger time.Duration
}

type job struct {
	fn  func(t *tx) error
	err chan error
	// tokens, when set, are what fn inserts, and all it does: the batch
	// inserts them together with the other jobs' (see insertTokens).
	tokens []*store.Token
	// audit, when set, is an audit entry fn appends (after its tokens, if
	// any): the batch reads and moves the chain head once for all of its
	// entries (see appendAuditBatch), rather than once per entry.
	audit *auditJob
}

type auditJob struct {
	e    *store.AuditEntry
	hash func(*store.AuditEntry) string
}

var errClosed = errors.New("sqlstore: store is closed")

func newBatcher(s *Store, limit, workers int, linger time.Duration) *batcher {
	b := &batcher{s: s, jobs: make(chan *job), stop: make(chan struct{}), limit: limit, workers: workers, linger: linger}
	for range workers {
		b.done.Add(1)
		go b.run()
	}
	return b
}

// do runs fn in a (possibly shared) write transaction and returns once it is
// committed or has failed. The request context only bounds the wait to be
// admitted: once admitted, the write completes (a commit cannot be half-undone
// for one caller).
func (b *batcher) do(ctx context.Context, fn func(t *tx) error) error {
	return b.submit(ctx, &job{fn: fn})
}

// insert adds tokens through the batch's multi-row insert.
func (b *batcher) insert(ctx context.Context, tokens []*store.Token) error {
	return b.submit(ctx, &job{tokens: tokens, fn: func(t *tx) error {
		return insertTokens(context.Background(), t, tokens)
	}})
}

func (b *batcher) submit(ctx context.Context, j *job) error {
	j.err = make(chan error, 1)
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return errClosed
	}
	return <-j.err
}

func (b *batcher) run() {
	defer b.done.Done()
	batch := make([]*job, 0, b.limit)
	var timer *time.Timer
	last := 0 // jobs in the previous batch
	for {
		select {
		case j := <-b.jobs:
			batch = append(batch[:0], j)
		case <-b.stop:
			return
		}
		// Let the goroutines that are ready to run get to their writes
		// before the batch is closed. On two cores, issuers hand their
		// writes over one or two at a time, so a batch would average about
		// two jobs and most of a commit's work — beginning, writing the
		// WAL frames, ending — would be paid per request; one yield lets
		// the issuers already runnable reach b.jobs first, which measured
		// about seven jobs per batch and a quarter less server CPU per
		// token (gatehouse bench, jwt_client_credentials_eddsa). With
		// nothing else runnable (a lone request) it returns at once.
		runtime.Gosched()
		b.gather(&batch)
		if b.linger > 0 && last > 1 && len(batch) < lingerFill {
			// The previous batch had company: the writer is busy, so wait
			// a little for a fuller batch. Every job waiting here is a
			// request parked, not a core spinning; the commit work saved
			// goes to the requests still being handled (measured: batches
			// of 7 became 14, and token issuance 5–7% faster). A lone
			// request after a quiet spell never waits.
			if timer == nil {
				timer = time.NewTimer(b.linger)
			} else {
				timer.Reset(b.linger)
			}
		linger:
			for len(batch) < lingerFill {
				select {
				case j := <-b.jobs:
					batch = append(batch, j)
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		last = len(batch)
		b.commit(batch)
	}
}

// lingerFill is the batch size a lingering committer stops waiting at.
const lingerFill = 16

// gather adds every job already waiting, up to the limit.
func (b *batcher) gather(batch *[]*job) {
	for len(*batch) < b.limit {
		select {
		case j := <-b.jobs:
			*batch = append(*batch, j)
		default:
			return
		}
	}
}

func (b *batcher) commit(batch []*job) {
	ctx := context.Background()
	err := b.s.inTx(ctx, func(t *tx) error {
		var rows []*store.Token
		var entries []*auditJob
		for _, j := range batch {
			if j.audit != nil {
				if b.s.dialect == Postgres {
					rows = append(rows, j.tokens...)
				} else if err := insertTokens(ctx, t, j.tokens); err != nil {
					return err
				}
				entries = append(entries, j.audit)
				continue
			}
			if j.tokens != nil && b.s.dialect == Postgres {
				// See above: SQLite runs j.fn, the one-row INSERTs.
				rows = append(rows, j.tokens...)
				continue
			}
			if err := j.fn(t); err != nil {
				return err
			}
		}
		if err := insertTokens(ctx, t, rows); err != nil {
			return err
		}
		return b.s.appendAuditBatch(ctx, t, entries)
	})
	if err == nil || len(batch) == 1 {
		for _, j := range batch {
			j.err <- err
		}
		return
	}
	for _, j := range batch {
		j.err <- b.s.inTx(ctx, j.fn)
	}
}

func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	b.done.Wait()
}

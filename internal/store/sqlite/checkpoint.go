package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointer keeps the WAL small without ever making a writer wait on a
// lock for long. Two steps, on two connections:
//
//   - PASSIVE, every tick, from its own connection. It copies committed WAL
//     frames into the database file and syncs it — the expensive part — and
//     takes no lock that a writer or reader waits on ("Checkpoint as many
//     frames as possible without waiting for any database readers or writers
//     to finish", sqlite.org/c3ref/wal_checkpoint_v2.html).
//   - RESTART, on the write connection itself, between two commits, once the
//     WAL has passed restartPages. PASSIVE alone cannot bound the file: under
//     constant reads and writes some reader always holds a snapshot inside
//     the WAL, so it never starts over. RESTART finishes the few frames
//     PASSIVE has not copied yet and waits for the readers of old frames,
//     but only for restartWait ("invokes the busy-handler callback"): reads
//     are short point lookups, and a stuck reader (a long export, a backup)
//     makes it give up until the next threshold crossing instead of holding
//     everything up.
//
// RESTART rather than TRUNCATE: the next commit rewinds to the start of the
// file and overwrites blocks already allocated, where a truncated file has
// to grow again (measured: TRUNCATE cost ~15% of issuance throughput). The
// file stays near restartPages, and journal_size_limit trims it back if it
// ever grew past.
//
// Running the blocking step on the write connection is the point: a RESTART
// from the checkpointer's connection takes the WAL write lock while it copies
// what is left and waits for readers, and every BEGIN IMMEDIATE behind it
// waits on that lock (up to busy_timeout). That was the p99 tail of token
// issuance: requests over 40 ms lined up with the WAL crossing its 64 MiB
// threshold. On the write connection nobody else waits on a lock: writers
// queue in Go for the one connection for at most restartWait plus the copy
// of the frames the last PASSIVE left.
//
// SQLite's default — an automatic checkpoint inside whichever COMMIT pushes
// the WAL past 1000 pages — is off on the write connection for the same
// reason. At Close a TRUNCATE checkpoint leaves a self-contained database
// file behind.
type checkpointer struct {
	db           *sql.DB
	every        time.Duration
	restartPages int64
	stop         chan struct{}
	wg           sync.WaitGroup
	once         sync.Once

	// walPages is the WAL size, in pages, the last PASSIVE saw; restarting
	// keeps one RESTART at a time.
	walPages   atomic.Int64
	restarting atomic.Bool
	// retryAt (Unix nanoseconds) holds RESTART off after it gave up, with
	// a doubling delay, so a reader stuck for seconds costs the writers one
	// short wait now and then rather than one per commit.
	retryAt atomic.Int64
	fails   int // guarded by restarting
	// restarts and gaveUp count RESTART steps that rewound the WAL and
	// those that gave up on a reader (tests and traces read them).
	restarts, gaveUp atomic.Int64
	// maxHold is the longest the write connection spent in one RESTART step,
	// in nanoseconds: the longest any writer queued behind a checkpoint.
	maxHold atomic.Int64
}

const checkpointParams = "?_pragma=busy_timeout(10000)"

// restartPages is the WAL size (in 4 KiB pages: 32 MiB) past which the write
// connection rewinds it. restartWait is how long that step waits for readers
// still using old frames before giving up; busyTimeout is the write
// connection's normal busy_timeout (see writeParams), restored afterwards.
const (
	restartPages = 8192
	restartWait  = 30 * time.Millisecond
	retryBase    = 10 * time.Millisecond // doubled per failure, up to 1.28 s
	busyTimeout  = 10 * time.Second
)

func startCheckpointer(path string, every time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+checkpointParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, every: every, restartPages: restartPages, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.passive()
		}
	}
}

// passive runs one PASSIVE checkpoint and records the WAL's size for the
// write connection. Errors (SQLITE_BUSY from another process's checkpoint)
// only mean the next tick tries again.
func (c *checkpointer) passive() {
	var busy, logPages, done int64
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done)
	if err == nil {
		c.walPages.Store(logPages)
	}
}

// afterWrite is the store's write-idle hook (sqlstore.Store.OnWriteIdle): it
// runs on the write pool after a commit. Almost always it is one atomic load.
func (c *checkpointer) afterWrite(ctx context.Context, w *sql.DB) {
	if c.walPages.Load() <= c.restartPages || !c.restarting.CompareAndSwap(false, true) {
		return
	}
	defer c.restarting.Store(false)
	now := time.Now()
	if now.UnixNano() < c.retryAt.Load() {
		return
	}
	if c.truncate(ctx, w) {
		c.fails = 0
		return
	}
	// A reader descheduled mid-lookup makes RESTART miss now and then:
	// the next two commits retry at once; only a reader still there after
	// that is taken for stuck, and the retries back off.
	c.fails++
	if c.fails > 2 {
		c.retryAt.Store(now.Add(retryBase << min(c.fails-3, 7)).UnixNano())
	}
}

// truncate rewinds the WAL (RESTART) from the write connection, waiting at most
// restartWait for readers of old frames.
func (c *checkpointer) truncate(ctx context.Context, w *sql.DB) bool {
	conn, err := w.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	start := time.Now()
	defer func() {
		hold := int64(time.Since(start))
		for {
			old := c.maxHold.Load()
			if hold <= old || c.maxHold.CompareAndSwap(old, hold) {
				break
			}
		}
	}()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", restartWait.Milliseconds())); err != nil {
		return false
	}
	// The connection goes back to the pool with its normal timeout, whatever
	// happened: another process's writer may legitimately hold the lock.
	defer conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds()))
	var busy, logPages, done int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &logPages, &done); err != nil || busy != 0 {
		// A reader still uses old frames, or another connection holds the
		// checkpoint lock (a PASSIVE in progress): try again later.
		c.gaveUp.Add(1)
		return false
	}
	c.walPages.Store(0)
	c.restarts.Add(1)
	return true
}

// close stops the loop and folds the WAL into the database file.
func (c *checkpointer) close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
		err = c.db.Close()
	})
	return err
}

package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// walFixture is the store's file layout without the store: the write
// connection (one, IMMEDIATE transactions, no automatic checkpoints), the
// query-only read pool, and a checkpointer, over a table of fat rows.
type walFixture struct {
	path string
	w, r *sql.DB
	ck   *checkpointer
}

func newWALFixture(t *testing.T, every time.Duration, restartPages int64) *walFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wal.db")
	w, err := sql.Open("sqlite", path+writeParams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	r, err := sql.Open("sqlite", path+readParams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ck, err := startCheckpointer(path, every)
	if err != nil {
		t.Fatal(err)
	}
	ck.restartPages = restartPages // a small threshold keeps the test small
	t.Cleanup(func() { ck.close() })
	return &walFixture{path: path, w: w, r: r, ck: ck}
}

// readConstantly runs n readers doing point lookups, as every Gatehouse read
// is, without pause until stop is closed.
func (f *walFixture) readConstantly(n int, stop <-chan struct{}, wg *sync.WaitGroup, reads *atomic.Int64) {
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var v string
				f.r.QueryRow(`SELECT v FROM t WHERE id = ?`, reads.Load()%100+1).Scan(&v)
				reads.Add(1)
			}
		}()
	}
}

// write commits one row the way sqlstore does (BEGIN IMMEDIATE … COMMIT,
// then the write-idle hook) and returns how long BEGIN waited for the write
// lock.
func (f *walFixture) write(t *testing.T, payload string) time.Duration {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	tx, err := f.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wait := time.Since(start)
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, payload); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	f.ck.afterWrite(ctx, f.w)
	return wait
}

func (f *walFixture) walSize() int64 {
	st, err := os.Stat(f.path + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestWALStaysBoundedUnderConstantReads: with automatic checkpoints off and
// readers never pausing, PASSIVE alone never lets the WAL start over; the
// write connection's RESTART between commits keeps it near its threshold.
// The test runs PASSIVE itself every 50 writes rather than on the timer, so
// how far the WAL grows depends on the code, not on how busy the machine is.
func TestWALStaysBoundedUnderConstantReads(t *testing.T) {
	f := newWALFixture(t, time.Hour, 200) // 200 pages ≈ 800 KiB; the timer never fires
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	f.readConstantly(4, stop, &wg, &reads)
	payload := strings.Repeat("x", 2000)
	var maxWAL int64
	for i := range 3000 { // ~6 MB of rows: far past the threshold
		if i%50 == 0 {
			f.ck.passive()
			maxWAL = max(maxWAL, f.walSize())
		}
		f.write(t, payload)
	}
	close(stop)
	wg.Wait()
	t.Logf("max WAL %d bytes over %d reads; %d truncations, %d gave up", maxWAL, reads.Load(), f.ck.restarts.Load(), f.ck.gaveUp.Load())
	// Unbounded, the WAL would hold all ~6 MB of rows plus index pages.
	if maxWAL > 3<<20 {
		t.Fatalf("WAL grew to %d bytes despite a %d-page restart threshold", maxWAL, f.ck.restartPages)
	}
	if f.ck.restarts.Load() == 0 {
		t.Fatal("the WAL never restarted")
	}
}

// TestCheckpointsNeverMakeWritersWaitOnALock: checkpoints must not hold the
// write lock while they wait for readers. The bound: a writer's BEGIN
// IMMEDIATE never waits on the lock at all (no other connection takes it),
// and the RESTART step that occupies the write connection between commits
// lasts at most restartWait (30 ms) plus copying the frames the last PASSIVE
// left. Asserted at 1 s, a generous margin for a loaded machine — while a reader
// holds a snapshot for 2 s, which is what a RESTART from another connection
// would make every writer wait for (up to busy_timeout, 10 s).
func TestCheckpointsNeverMakeWritersWaitOnALock(t *testing.T) {
	const bound = time.Second
	f := newWALFixture(t, 5*time.Millisecond, 100)
	payload := strings.Repeat("x", 2000)
	f.write(t, payload)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	f.readConstantly(2, stop, &wg, &reads)

	// A stuck reader: a read transaction holding a snapshot inside the WAL.
	ctx := context.Background()
	stuck, err := f.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	rtx, err := stuck.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	release := time.Now().Add(2 * time.Second)

	var maxWait time.Duration
	released := false
	for i := 0; i < 4000 || !released || f.ck.restarts.Load() == 0; i++ {
		if !released && time.Now().After(release) {
			rtx.Rollback()
			released = true
		}
		if i > 200000 {
			t.Fatal("the WAL never restarted after the stuck reader left")
		}
		maxWait = max(maxWait, f.write(t, payload))
	}
	close(stop)
	wg.Wait()
	hold := time.Duration(f.ck.maxHold.Load())
	t.Logf("max BEGIN wait %v, max RESTART hold %v; %d restarts, %d gave up; %d reads", maxWait, hold, f.ck.restarts.Load(), f.ck.gaveUp.Load(), reads.Load())
	if maxWait > bound {
		t.Errorf("a writer waited %v for the write lock (bound %v)", maxWait, bound)
	}
	if hold > bound {
		t.Errorf("a RESTART held the write connection for %v (bound %v)", hold, bound)
	}
	if f.ck.gaveUp.Load() == 0 {
		t.Error("RESTART never gave up on the stuck reader: the test did not exercise it")
	}
}

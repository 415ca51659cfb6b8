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

// TestWALStaysBoundedUnderConstantReads: with automatic checkpoints off and
// readers never pausing (short point lookups, as Gatehouse's reads are), the
// checkpointer's RESTART keeps the WAL file near its threshold instead of
// letting it grow with every write. The test runs the checkpointer's step
// itself every 50 writes rather than on its timer, so how far the WAL grows
// depends on the code, not on how busy the machine is.
func TestWALStaysBoundedUnderConstantReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	w, err := sql.Open("sqlite", path+writeParams)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	r, err := sql.Open("sqlite", path+readParams)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ck, err := startCheckpointer(path, time.Hour) // its timer never fires here
	if err != nil {
		t.Fatal(err)
	}
	ck.restartPages = 200 // ~800 KiB instead of 64 MiB, so the test stays small
	defer ck.close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Point lookups, like every Gatehouse read.
				var v string
				r.QueryRow(`SELECT v FROM t WHERE id = ?`, reads.Load()%100+1).Scan(&v)
				reads.Add(1)
			}
		}()
	}
	payload := strings.Repeat("x", 2000)
	var maxWAL int64
	for i := range 3000 { // ~6 MB of rows: far past the threshold
		if _, err := w.ExecContext(context.Background(), `INSERT INTO t (v) VALUES (?)`, payload); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			ck.checkpoint()
			if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > maxWAL {
				maxWAL = st.Size()
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("max WAL %d bytes over %d reads", maxWAL, reads.Load())
	// Unbounded, the WAL would hold all ~6 MB of rows plus index pages.
	if maxWAL > 3<<20 {
		t.Fatalf("WAL grew to %d bytes despite a %d-page restart threshold", maxWAL, ck.restartPages)
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestLoneWritesDoNotLinger: the committer waits for a fuller batch only
// when the previous batch had company. With a linger of an hour, writes made
// one at a time must each commit at once; a committer that lingered after a
// lone write would hang here.
func TestLoneWritesDoNotLinger(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "b.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	s, err := New(SQLite, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.batch.close()
	b := newBatcher(s, 128, 1, time.Hour)
	defer b.close()
	if _, err := db.Exec(`CREATE TABLE n (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	insert := func(t *tx) error { _, err := t.exec(context.Background(), `INSERT INTO n (v) VALUES (1)`); return err }

	done := make(chan error, 1)
	go func() {
		for range 5 {
			if err := b.do(context.Background(), insert); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a lone write waited for company")
	}

	var n int
	if err := db.QueryRow(`SELECT count(*) FROM n`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d rows (%v), want 5", n, err)
	}
}

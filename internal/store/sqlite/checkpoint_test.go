package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// TestBackgroundCheckpoint: with automatic checkpoints off on the write
// connection, the background checkpointer still moves committed rows into
// the main database file while the store is open, and Close leaves no WAL.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 200 {
		u := &store.User{ID: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: "x",
			CredentialsChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// Within a few checkpointer ticks the main file alone holds the rows:
	// a copy of just the main file (no -wal) must contain them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n := countUsersInMainFile(t, path); n == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("main database file has %d of 200 users: the WAL is not being checkpointed", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		t.Fatalf("WAL left behind after Close: %d bytes", st.Size())
	}
}

func countUsersInMainFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", cp+"?_pragma=query_only(ON)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0 // the schema itself may not be checkpointed yet
	}
	return n
}

// Package sqlite opens Gatehouse's store on a SQLite file, through the pure-Go
// driver modernc.org/sqlite (no cgo, so the binary cross-compiles and builds
// with CGO_ENABLED=0; see README.md for the measurement behind the choice).
//
// The file is opened twice: a write pool with a single connection, whose
// transactions begin IMMEDIATE, and a read pool of several query-only
// connections. Every write therefore queues in Go rather than retrying on
// SQLITE_BUSY, and reads never wait for writes (WAL).
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A committed
// transaction is in the WAL file before Commit returns, so a process crash
// (kill -9, panic, OOM kill) loses nothing; only an OS crash or power cut can
// lose the last transactions before a checkpoint, never corrupt the file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// Connection settings. Automatic checkpoints are off on the write
// connection: the checkpointer does them in the background (checkpoint.go).
// busy_timeout still matters with one writer per
// process: another process (a CLI command next to the server) may hold the
// lock for a moment.
const (
	writeParams = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)" +
		"&_txlock=immediate"
	readParams = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=query_only(ON)"
)

// Open opens (creating if needed) the database file at path. It does not
// migrate: call MigrateUp on the result.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// The driver splits its parameters off at the first '?', and an in-memory
	// database would be a different database on each connection of the two
	// pools.
	if strings.ContainsRune(path, '?') || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unsupported database path %q: want a plain file path", path)
	}

	if err := createPrivate(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", path+writeParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0) // keep the connection, and its prepared statements
	w.SetConnMaxIdleTime(0)
	// Open the write connection first: it switches a new file to WAL, which
	// is persistent, before any query-only connection looks at it.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: journal_mode is %q, want wal (is the file on a network filesystem?)", path, mode)
	}

	r, err := sql.Open("sqlite", path+readParams)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Readers are CPU-bound in the pure-Go engine: a couple per core.
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck, err := startCheckpointer(path, 100*time.Millisecond)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s, err := sqlstore.New(sqlstore.SQLite, w, r)
	if err != nil {
		ck.close()
		w.Close()
		r.Close()
		return nil, err
	}
	s.OnClose(ck.close)
	s.OnWriteIdle(ck.afterWrite)
	return s, nil
}

// createPrivate creates the database file with mode 0600 when it does not
// exist yet: it holds password hashes, sealed TOTP seeds and credential
// hashes. SQLite creates the -wal and -shm files with the mode of the
// database file, so they are private too. An existing file keeps its mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return f.Close()
}

// Package sqlstore implements store.Store once, over database/sql, for both
// SQLite and PostgreSQL.
//
// Every query is written once with `?` placeholders; the only dialect
// differences live in this file: placeholder rebinding ($1..$n for
// PostgreSQL), driver error mapping, and the goose dialect name. Times are
// BIGINT Unix milliseconds (NULL for an unset *time.Time) and string lists are
// JSON arrays in TEXT, so the same schema and the same SQL run on both.
//
// A Store has a write pool and a read pool. On SQLite they are two *sql.DB on
// the same file: the write pool has exactly one connection, so writers queue
// in Go instead of fighting over the file lock, and readers run concurrently
// under WAL. On PostgreSQL both are the same pool.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Dialect names returned by Store.Dialect.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is store.Store over database/sql. Build it with New (the sqlite and
// postgres packages do); call MigrateUp before first use.
type Store struct {
	dialect string
	w       *pool // INSERT/UPDATE/DELETE and transactions
	r       *pool // SELECTs; the same pool as w on PostgreSQL
	batch   *batcher
	closers []func() error // run first by Close (see OnClose)
	// idle runs on the write pool after each committed write transaction,
	// while no transaction holds it (see OnWriteIdle).
	idle func(ctx context.Context, w *sql.DB)

	// wq and rq are what the methods write and read through: the pools on
	// a Store from New, the one transaction on a Store that InTx hands out
	// (see bound). Every method goes through them, so a transaction-bound
	// Store runs the very same SQL as a plain one.
	wq, rq querier
	// tx is non-nil on a transaction-bound Store.
	tx *tx
}

var _ store.Store = (*Store)(nil)

// New wraps already opened pools. read may be nil or equal to write, in which
// case one pool serves both. The Store owns the pools: Close closes them.
func New(dialect string, write, read *sql.DB) (*Store, error) {
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q", dialect)
	}
	if write == nil {
		return nil, errors.New("sqlstore: nil write pool")
	}
	rebind := dialect == Postgres
	s := &Store{dialect: dialect, w: &pool{db: write, rebind: rebind}}
	s.r = s.w
	if read != nil && read != write {
		s.r = &pool{db: read, rebind: rebind, detach: dialect == SQLite}
	}
	s.wq, s.rq = s.w, s.r
	// One committer per write connection SQLite has; on PostgreSQL, a few
	// batches in flight at once overlap one's WAL flush with the next's
	// statements. SQLite's committer lingers for fuller batches under load
	// (see batcher.run); PostgreSQL's gather while the WAL flushes.
	committers, linger := 1, sqliteLinger
	if dialect == Postgres {
		committers, linger = 4, 0
	}
	s.batch = newBatcher(s, 128, committers, linger)
	return s, nil
}

// sqliteLinger is the longest SQLite's committer waits for a fuller batch:
// a fraction of a token request's time on the wire.
const sqliteLinger = 300 * time.Microsecond

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.db.PingContext(ctx); err != nil {
		return err
	}
	if s.r != s.w {
		return s.r.db.PingContext(ctx)
	}
	return nil
}

// OnClose registers fn to run at Close, after pending batched writes and
// before the pools close (the sqlite package stops its checkpointer here).
func (s *Store) OnClose(fn func() error) { s.closers = append(s.closers, fn) }

// OnWriteIdle registers fn to run after every committed write transaction
// (a group commit included), once the transaction has released the write
// pool. The sqlite package folds the WAL back here, between commits, so no
// other connection ever has to take the write lock for it. fn must be cheap
// when it has nothing to do: it runs on the write path.
func (s *Store) OnWriteIdle(fn func(ctx context.Context, w *sql.DB)) { s.idle = fn }

// Close implements store.Store. On a transaction-bound Store (inside InTx)
// it does nothing: the Store it came from owns the pools.
func (s *Store) Close() error {
	if s.tx != nil {
		return nil
	}
	s.batch.close()
	var err error
	for _, c := range s.closers {
		err = errors.Join(err, c())
	}
	s.closers = nil
	err = errors.Join(err, s.w.close())
	if s.r != s.w {
		err = errors.Join(err, s.r.close())
	}
	return err
}

// ---------------------------------------------------------------- migrations

func (s *Store) provider(ctx context.Context) (*goose.Provider, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
		goose.WithGoMigrations(goMigrations(s.dialect)...),
	}
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together must not migrate concurrently. The
		// advisory lock id is derived from database and schema so that
		// deployments (and tests) in other schemas of the same server do not
		// queue behind each other.
		var db, schema string
		if err := s.w.db.QueryRowContext(ctx, `SELECT current_database(), COALESCE(current_schema(), '')`).Scan(&db, &schema); err != nil {
			return nil, fmt.Errorf("sqlstore: read schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("gatehouse\x00" + db + "\x00" + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// Migrations go through the write pool: on SQLite that is the only
	// connection allowed to write.
	return goose.NewProvider(dialect, s.w.db, migrations, opts...)
}

// MigrateUp applies every pending migration. Running it on an up-to-date
// database does nothing.
func (s *Store) MigrateUp(ctx context.Context) error {
	p, err := s.provider(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate up: %w", err)
	}
	return nil
}

// SchemaVersion returns the database's migration version (0 for an empty
// database) and the latest version this binary knows. It creates goose's
// version table when missing, as goose does for every operation.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return current, latest, nil
}

// ---------------------------------------------------------------- pools and statements

// pool is a *sql.DB with its prepared statements. Preparing once saves the
// SQL parse on every call (about half the cost of a token lookup on SQLite).
type pool struct {
	db     *sql.DB
	rebind bool
	// detach runs queries without the caller's cancellation. Set on the
	// SQLite read pool: its statements are short indexed reads on a local
	// file, and for a cancellable context modernc.org/sqlite starts a watcher
	// goroutine and progress handler per statement (and database/sql one per
	// Rows), which costs more than the lookup saves by being cancellable.
	detach bool
	stmts  sync.Map // query as written (with ?) → *sql.Stmt
}

// stmt returns the prepared form of query, preparing it on first use.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.db.PrepareContext(ctx, p.sql(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// sql returns query in the driver's placeholder syntax.
func (p *pool) sql(query string) string {
	if p.rebind {
		return rebind(query)
	}
	return query
}

func (p *pool) close() error {
	p.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return p.db.Close()
}

// rebind turns `?` placeholders into PostgreSQL's $1..$n. Queries in this
// package never contain a literal `?`, so no quoting is parsed. It runs once
// per query: its result is what gets prepared and cached.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if c := query[i]; c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// querier is what the query helpers need; both a pool and a transaction
// provide it, so a helper such as insertToken serves plain calls and
// transactions alike.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error)
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (p *pool) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *pool) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	if p.detach {
		ctx = context.WithoutCancel(ctx)
	}
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

func (p *pool) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if p.detach {
		ctx = context.WithoutCancel(ctx)
	}
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// tx is a write transaction. It uses the pool's prepared statements when
// they exist. It must not prepare new ones on the pool: on SQLite the write
// pool's single connection is held by this very transaction, so
// DB.PrepareContext would wait forever. Queries seen for the first time are
// prepared on the transaction alone and remembered, and inTx prepares them on
// the pool once the transaction has released the connection.
type tx struct {
	p      *pool
	tx     *sql.Tx
	missed map[string]*sql.Stmt // prepared on this transaction only
}

func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.p.stmts.Load(query); ok {
		return t.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	if st, ok := t.missed[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, t.p.sql(query))
	if err != nil {
		return nil, err
	}
	if t.missed == nil {
		t.missed = make(map[string]*sql.Stmt)
	}
	t.missed[query] = st
	return st, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// inTx runs fn in a write transaction, committing when it returns nil and
// rolling back when it returns an error or panics (the panic goes on). On a
// transaction-bound Store fn simply runs in that transaction. (SQLite write
// connections begin IMMEDIATE, see package sqlite, so the write lock is taken
// up front and a transaction never fails half-way on a lock upgrade.)
func (s *Store) inTx(ctx context.Context, fn func(t *tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	sqlTx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &tx{p: s.w, tx: sqlTx}
	committed := false
	defer func() {
		// A panicking fn must not keep the transaction open: on SQLite it
		// holds the only write connection, and every later write would wait
		// for it forever.
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	committed = true // Commit releases the connection whether or not it succeeds
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	for q := range t.missed {
		// Best effort: a failure here only means preparing again next time.
		_, _ = s.w.stmt(context.WithoutCancel(ctx), q)
	}
	if s.idle != nil {
		s.idle(context.WithoutCancel(ctx), s.w.db)
	}
	return nil
}

// ---------------------------------------------------------------- errors

// mapErr is the one place driver errors become store sentinels. op names the
// operation for the log; the driver error stays in the chain.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrAlreadyUsed) ||
		errors.Is(err, store.ErrInvalidText) || errors.Is(err, store.ErrSerialization) {
		return fmt.Errorf("%s: %w", op, err) // mapped already, e.g. inside a transaction
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
		case "23503": // foreign_key_violation: the referenced row does not exist
			return fmt.Errorf("%s: %w: %w", op, store.ErrNotFound, err)
		case "22021", "22P05": // character_not_in_repertoire (invalid UTF-8, NUL), untranslatable_character
			return fmt.Errorf("%s: %w: %w", op, store.ErrInvalidText, err)
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%s: %w: %w", op, store.ErrSerialization, err)
		}
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w: %w", op, store.ErrNotFound, err)
		}
		if liteErr.Code()&0xff == sqlite3.SQLITE_BUSY { // busy_timeout ran out (another process held the file)
			return fmt.Errorf("%s: %w: %w", op, store.ErrSerialization, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(op string, res sql.Result, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// ---------------------------------------------------------------- encoding

// ms stores a time as Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS reads Unix milliseconds back, in UTC. The zero time.Time survives the
// round trip (it maps to a fixed negative number and back).
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores an optional time; nil becomes NULL.
func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// nullString stores "" as NULL (tokens.grant_id of client_credentials tokens).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// encodeList stores a string list as a JSON array; nil and empty both become
// "[]".
func encodeList(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// decodeList reads a JSON array of strings; "[]" gives nil. Scopes are read on
// every token lookup, so arrays without escapes (all of them, in practice)
// are split in place: the strings share the scanned text, costing one
// allocation for the slice instead of encoding/json's reflection.
func decodeList(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	if list, ok := splitSimpleList(s); ok {
		return list, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("sqlstore: bad list %q: %w", s, err)
	}
	return list, nil
}

// splitSimpleList parses `["a","b"]` without escapes or whitespace; ok is
// false for anything else, which then goes to encoding/json.
func splitSimpleList(s string) ([]string, bool) {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	list := make([]string, 0, strings.Count(s, `","`)+1)
	i := 1
	for {
		if s[i] != '"' {
			return nil, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return nil, false
		}
		list = append(list, s[i+1:i+1+end])
		i += end + 2
		switch {
		case i == len(s)-1 && s[i] == ']':
			return list, true
		case i < len(s)-1 && s[i] == ',':
			i++
		default:
			return nil, false
		}
	}
}

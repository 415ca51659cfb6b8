package sqlstore

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// InTx implements store.Store: fn gets a Store whose every method, reads
// included, runs in one write transaction, committed when fn returns nil and
// rolled back when it returns an error or panics. Called on a
// transaction-bound Store it runs fn in the same transaction (there are no
// savepoints: an error fn swallows does not undo what it wrote, and on
// PostgreSQL a failed statement aborts the whole transaction, so fn should
// return the errors it gets).
//
// fn must use only the Store it is given. On SQLite the transaction holds
// the one write connection, so a write through the outer Store inside fn
// would wait for it forever.
//
// Isolation is each database's default: SQLite transactions begin IMMEDIATE
// and so run one at a time; PostgreSQL runs READ COMMITTED, where a read
// followed by a write needs LockUser or LockClient to keep concurrent
// transactions (on this replica or another) from deciding on the same
// snapshot.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var fnErr error
	err := s.inTx(ctx, func(t *tx) error {
		fnErr = fn(s.bound(t))
		return fnErr
	})
	if fnErr != nil {
		return fnErr // as fn returned it: services branch on their own errors
	}
	return mapErr("transaction", err) // BEGIN or COMMIT failed
}

// bound returns a Store that runs everything in t. It shares the pools (and
// so their prepared statements) but has no batcher: a write must go
// straight into t, since on SQLite the batcher's commit would wait for the
// write connection that t holds.
func (s *Store) bound(t *tx) *Store {
	return &Store{dialect: s.dialect, w: s.w, r: s.r, wq: t, rq: t, tx: t}
}

// batchDo runs fn through group commit (see batcher), or directly in the
// transaction of a transaction-bound Store.
func (s *Store) batchDo(ctx context.Context, fn func(t *tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	return s.batch.do(ctx, fn)
}

// LockUser implements store.Users. On PostgreSQL it is SELECT … FOR NO KEY
// UPDATE: concurrent lockers of the same user, in any replica, queue until
// the holder's transaction ends, while inserts that merely reference the
// user (tokens, sessions: they take KEY SHARE) are not blocked. On SQLite
// the IMMEDIATE transaction already runs alone, so it only checks that the
// user exists.
func (s *Store) LockUser(ctx context.Context, id string) error {
	return s.lockRow(ctx, "lock user", `SELECT id FROM users WHERE id = ?`, id)
}

// LockClient implements store.Clients, as LockUser for a client.
func (s *Store) LockClient(ctx context.Context, id string) error {
	return s.lockRow(ctx, "lock client", `SELECT id FROM clients WHERE id = ?`, id)
}

func (s *Store) lockRow(ctx context.Context, op, query, id string) error {
	if s.dialect == Postgres {
		query += ` FOR NO KEY UPDATE`
	}
	row, err := s.wq.queryRow(ctx, query, id)
	if err != nil {
		return mapErr(op, err)
	}
	var got string
	return mapErr(op, row.Scan(&got))
}

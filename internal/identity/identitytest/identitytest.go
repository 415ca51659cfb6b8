// Package identitytest builds a real identity.Service over a fresh SQLite
// store in a temporary directory, with a fake clock, for tests of every area
// that needs users, sessions or two-factor (no mocks).
package identitytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backend"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Start is where test clocks begin: the start of a TOTP time step.
var Start = time.Date(2030, time.January, 2, 3, 4, 0, 0, time.UTC)

// FastArgon2 are cheap argon2id parameters for tests (not for production).
var FastArgon2 = identity.Argon2Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Env is a service with its dependencies.
type Env struct {
	Store   *sqlstore.Store
	Service *identity.Service
	Clock   *Clock
	Box     *secret.Box
	Hasher  *credential.Hasher
	Config  identity.Config
}

// Option changes the service configuration before it is built.
type Option func(*identity.Config)

// WithConfig replaces the configuration (FastArgon2 is kept unless set).
func WithConfig(f func(*identity.Config)) Option { return Option(f) }

// New opens a migrated SQLite store under t.TempDir() and builds the service
// with FastArgon2 and a Clock at Start.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return NewWithStore(t, st, opts...)
}

// PostgresEnv names the variable that adds PostgreSQL runs to ForEachBackend.
const PostgresEnv = pgtest.Env

// ForEachBackend runs fn as a subtest on SQLite and, when PostgresEnv is
// set, on PostgreSQL in a schema of its own (otherwise that subtest is
// reported as skipped). fn builds its services with newEnv, which opens a
// fresh store on that backend each time.
func ForEachBackend(t *testing.T, fn func(t *testing.T, newEnv func(t testing.TB, opts ...Option) *Env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, New) })
	t.Run("postgres", func(t *testing.T) {
		base := pgtest.URL(t)
		fn(t, func(t testing.TB, opts ...Option) *Env {
			t.Helper()
			ctx := context.Background()
			dsn, drop, err := postgres.NewSchema(ctx, base, "identitytest")
			if err != nil {
				t.Fatalf("postgres: %v", err)
			}
			t.Cleanup(func() { drop() })
			st, err := backend.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.MigrateUp(ctx); err != nil {
				t.Fatal(err)
			}
			return NewWithStore(t, st, opts...)
		})
	})
}

// NewWithStore builds a service over an existing store (for a second service
// with other settings on the same database).
func NewWithStore(t testing.TB, st *sqlstore.Store, opts ...Option) *Env {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := credential.NewHasher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := identity.DefaultConfig()
	cfg.Argon2 = FastArgon2
	// Room for every goroutine of a race test to wait its turn for the
	// password hasher, however slow the machine: only tests of the limiter
	// itself want busy answers, and they set their own limits.
	cfg.HashLimits = identity.HashLimits{Queue: 1024, MaxWait: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	clock := NewClock(Start)
	svc, err := identity.New(st, box, hasher, clock.Now, rand.Reader, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Store: st, Service: svc, Clock: clock, Box: box, Hasher: hasher, Config: cfg}
}

// CreateUser creates an account or fails the test.
func (e *Env) CreateUser(t testing.TB, email, password string) *store.User {
	t.Helper()
	u, err := e.Service.CreateUser(context.Background(), identity.NewUser{Email: email, Name: "Test User", Password: password})
	if err != nil {
		t.Fatalf("creating %s: %v", email, err)
	}
	return u
}

// EnableTOTP enrols and confirms two-factor for the user, returning the
// base32 secret and the recovery codes. It advances the clock one time step
// so the confirming code is not the one a test uses next.
func (e *Env) EnableTOTP(t testing.TB, userID string) (secret string, recovery []string) {
	t.Helper()
	ctx := context.Background()
	key, err := e.Service.BeginTOTP(ctx, userID)
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	codes, err := e.Service.ConfirmTOTP(ctx, userID, e.Code(t, key.Secret), "")
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	e.Clock.Advance(identity.TOTPPeriod * time.Second)
	return key.Secret, codes
}

// Code is the TOTP code of secret at the clock's current time.
func (e *Env) Code(t testing.TB, secret string) string {
	t.Helper()
	c, err := identity.TOTPCode(secret, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

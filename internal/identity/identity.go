// Package identity is Gatehouse's account service: users and their passwords
// (argon2id, NIST SP 800-63B policy, breached-password list), sign-in with
// throttling and lockout, TOTP two-factor and recovery codes, and server-side
// browser sessions. It decides and returns typed errors; it holds no HTTP code
// (internal/web renders pages, internal/authn speaks HTTP auth schemes).
package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Store is the part of store.Store this service uses.
type Store interface {
	store.Users
	store.Sessions
	store.Throttle
}

// Config tunes the service. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Argon2 are the password hashing parameters (OWASP defaults).
	Argon2 Argon2Params
	// SessionIdleTimeout ends a session not used for this long (default 12h).
	SessionIdleTimeout time.Duration
	// SessionLifetime is the absolute expiry of a session (default 7 days).
	SessionLifetime time.Duration
	// MFAPendingTimeout is how long a session that still owes its second
	// factor may wait for it (default 10 minutes).
	MFAPendingTimeout time.Duration
	// SessionTouchInterval: LastSeenAt is written at most this often (1 min).
	SessionTouchInterval time.Duration
	// Throttle limits password and code guessing.
	Throttle ThrottleConfig
	// HashLimits bound concurrent argon2id work (zero: sized from the
	// cores; internal/app also sizes it from memory).
	HashLimits HashLimits
	// TOTPIssuer is the name authenticator apps show (default "Gatehouse").
	TOTPIssuer string
	// Metrics counts failures and lockouts (nil: not counted).
	Metrics *Metrics
	// Audit records sign-ins, second-factor and password changes (nil:
	// not recorded). The store writes here are single statements, not one
	// transaction, so each entry is written right after its change.
	Audit *audit.Log
	// Activity counts sign-ins, failures and lockouts for the console's
	// overview (nil: not counted).
	Activity *activity.Counter
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Argon2:               DefaultArgon2Params(),
		SessionIdleTimeout:   12 * time.Hour,
		SessionLifetime:      7 * 24 * time.Hour,
		MFAPendingTimeout:    10 * time.Minute,
		SessionTouchInterval: time.Minute,
		Throttle:             DefaultThrottleConfig(),
		TOTPIssuer:           "Gatehouse",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = d.Argon2
	}
	if c.SessionIdleTimeout == 0 {
		c.SessionIdleTimeout = d.SessionIdleTimeout
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = d.SessionLifetime
	}
	if c.MFAPendingTimeout == 0 {
		c.MFAPendingTimeout = d.MFAPendingTimeout
	}
	if c.SessionTouchInterval == 0 {
		c.SessionTouchInterval = d.SessionTouchInterval
	}
	c.Throttle = c.Throttle.withDefaults()
	if c.TOTPIssuer == "" {
		c.TOTPIssuer = d.TOTPIssuer
	}
	return c
}

// Errors. Handlers map them to responses; none carries more detail than is
// safe to show.
var (
	// ErrInvalidCredentials: unknown email, wrong password or disabled
	// account — deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("identity: invalid email or password")
	// ErrOTPRequired: the password was right, the account has two-factor,
	// and no one-time code was given.
	ErrOTPRequired = errors.New("identity: one-time code required")
	// ErrInvalidCode: a wrong TOTP or recovery code.
	ErrInvalidCode = errors.New("identity: invalid code")
	// ErrCodeReused: a TOTP code that was already accepted once.
	ErrCodeReused = errors.New("identity: code already used")
	// ErrEmailTaken: sign-up with an email that has an account. The web
	// layer answers it exactly like a successful sign-up.
	ErrEmailTaken = errors.New("identity: email already registered")
	// ErrInvalidEmail: not an email address.
	ErrInvalidEmail = errors.New("identity: invalid email address")
	// ErrInvalidName: the display name is too long or has control characters.
	ErrInvalidName = errors.New("identity: invalid name")
	// ErrNoSession: no live session for this cookie.
	ErrNoSession = errors.New("identity: no session")
	// ErrTOTPEnabled: two-factor is already on.
	ErrTOTPEnabled = errors.New("identity: two-factor already enabled")
	// ErrTOTPNotEnabled: two-factor is off.
	ErrTOTPNotEnabled = errors.New("identity: two-factor not enabled")
	// ErrNoPendingTOTP: no enrolment was started.
	ErrNoPendingTOTP = errors.New("identity: no two-factor enrolment in progress")
)

// ThrottledError means too many recent attempts: this one was not even
// checked (and not counted). Retry after RetryAfter (HTTP 429 with
// Retry-After).
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "identity: too many attempts; retry after " + e.RetryAfter.String()
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds (≥ 1), as the
// Retry-After header wants it.
func (e *ThrottledError) RetryAfterSeconds() string {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// Service is the account service. It is safe for concurrent use.
type Service struct {
	st     Store
	box    *secret.Box
	hasher *credential.Hasher
	now    func() time.Time
	random io.Reader
	log    *slog.Logger
	cfg    Config
	list   *Blocklist
	hashes *HashLimiter
	// dummyHash is verified against when the email is unknown, so that the
	// answer takes as long as for a wrong password.
	dummyHash string
	// mail tells users of changes an administrator made to their account
	// (nil: no mail). Set once by NewAccountMail, while the server is
	// assembled and before it serves.
	mail *AccountMail
}

// New builds the service. random is crypto/rand.Reader in production; now is
// time.Now (tests pass a fake clock).
func New(st Store, box *secret.Box, hasher *credential.Hasher, now func() time.Time, random io.Reader, log *slog.Logger, cfg Config) (*Service, error) {
	if st == nil || box == nil || hasher == nil || now == nil || random == nil {
		return nil, errors.New("identity: store, box, hasher, clock and random source are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Argon2.validate(); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	list, err := LoadBlocklist()
	if err != nil {
		return nil, err
	}
	s := &Service{st: st, box: box, hasher: hasher, now: now, random: random, log: log, cfg: cfg, list: list,
		hashes: NewHashLimiter(cfg.HashLimits, runtime.GOMAXPROCS(0), cfg.Argon2)}
	s.cfg.HashLimits = s.hashes.Limits()
	if s.dummyHash, err = HashPassword("gatehouse timing equaliser", cfg.Argon2, random); err != nil {
		return nil, err
	}
	return s, nil
}

// HashLimiter returns the limiter every password hash goes through.
func (s *Service) HashLimiter() *HashLimiter { return s.hashes }

// Config returns the effective configuration (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// Blocklist returns the common-password list in use.
func (s *Service) Blocklist() *Blocklist { return s.list }

// time returns the clock truncated to the store's millisecond precision, so
// values compare equal after a round trip through the database.
// audit records e for a change already made (see Config.Audit).
func (s *Service) audit(ctx context.Context, e audit.Entry) { s.cfg.Audit.RecordAfter(ctx, e) }

// userEntry is an entry about a user, done by that user.
func userEntry(typ, userID string, failed bool, details map[string]any) audit.Entry {
	return audit.Entry{Type: typ, ActorKind: store.ActorUser, ActorID: userID, Subject: userID, Failed: failed, Details: details}
}

func (s *Service) time() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

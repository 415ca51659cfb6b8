// Package pat implements personal access tokens (PATs, seed 004): long-lived
// bearer tokens a user creates for their own scripts and command-line tools.
//
// # The API
//
//	GET    /v0/me/tokens           list the caller's PATs (never the secrets)
//	POST   /v0/me/tokens           create one; answers {"accessToken","description","id"}
//	DELETE /v0/me/tokens/{token}   revoke one, by id (or by the token itself)
//
// Creating requires the account owner in person (authn.InPerson): HTTP Basic
// email:password, plus an OTP-Token header when the account has two-factor on
// (otherwise 401 with "OTP-Token: Required"), or the signed-in account page.
// A bearer credential of any kind can never create a PAT, so a leaked token
// cannot mint a longer-lived one. Listing needs the tokens:read scope and
// revoking tokens:revoke (or Basic credentials); a third-party app can be
// granted tokens:read but never tokens:revoke.
//
// # Rules of validity
//
// A PAT is presented as "Authorization: Bearer <token>". It is accepted when,
// and only when, all of the following hold:
//
//  1. it is well formed (prefix gthp_, checksum) — checked offline, before any
//     database access;
//  2. a PAT with its keyed hash exists and is not revoked;
//  3. it has no expiry, or the expiry is in the future;
//  4. its user is not disabled;
//  5. its user's credentials have not changed since it was created: a
//     password change (or disabling the account) moves the user's
//     CredentialsChangedAt forward, and every PAT created before that instant
//     is dead for good — re-enabling the account or changing the password back
//     does not revive it. Create new PATs after a password change.
//
// A PAT bypasses two-factor authentication (seed 004): it stands for the
// email, password and one-time code that were checked when it was created, so
// treat it like a password. It carries only its scopes (by default, every
// scope the catalog allows PATs), so a PAT without tokens:read gets 403
// insufficient_scope from GET /v0/me/tokens.
//
// Revocation takes effect on the next request: validation is one indexed
// lookup by hash, with no cache. Prefer revoking by id: DELETE with the token
// itself in the path works (seed 004) but puts the secret in access logs, so
// such a token is always revoked, whoever owns it.
//
// # Last use
//
// Validation records the time of use in memory (internal/lastuse); a
// background loop writes the stamps in one batch every FlushInterval and on
// shutdown, so the request path never writes to the database.
package pat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/lastuse"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Store is the part of store.Store the service uses.
type Store interface {
	store.PATs
	// InTx and LockUser make the per-user cap hold under concurrency.
	InTx(ctx context.Context, fn func(tx store.Store) error) error
	LockUser(ctx context.Context, id string) error
}

// Config tunes the service. Zero fields take defaults.
type Config struct {
	// MaxLifetime caps expires_in (default one year).
	MaxLifetime time.Duration
	// MaxPerUser caps how many unrevoked PATs a user may hold (default 100).
	MaxPerUser int
	// Env is the credential environment label ("" live, "test" sandbox);
	// tokens of another environment are refused.
	Env string
	// FlushInterval is how often last-use stamps are written (default 30s).
	FlushInterval time.Duration
	// Scopes holds the scope catalog in force (nil: the built-in scopes).
	Scopes *scope.Holder
	// Created, when set, runs in the creating transaction after the PAT is
	// stored (the owner's security notice is queued there, so it exists
	// exactly when the PAT does); an error rolls the creation back.
	Created func(ctx context.Context, tx store.Store, p *store.PAT) error
	// Audit records creation (in the creating transaction) and revocation
	// (nil: not recorded).
	Audit *audit.Log
}

// Limits.
const (
	MaxDescriptionLen  = 200 // characters
	DefaultMaxLifetime = 365 * 24 * time.Hour
	DefaultMaxPerUser  = 100
	DefaultFlush       = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.MaxPerUser <= 0 {
		c.MaxPerUser = DefaultMaxPerUser
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlush
	}
	return c
}

// Errors.
var (
	// ErrInvalidToken: the presented token is malformed, unknown, revoked,
	// expired, or its user is disabled or changed credentials since. The
	// wrapped reason is for logs only.
	ErrInvalidToken = errors.New("pat: invalid token")
	// ErrNotFound: no such PAT among the user's.
	ErrNotFound = errors.New("pat: not found")
	// ErrExpired is the ErrInvalidToken of an expired PAT.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrRevoked is the ErrInvalidToken of a revoked PAT.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalidToken)
	// ErrTooMany: the user holds MaxPerUser PATs already.
	ErrTooMany = errors.New("pat: too many personal access tokens")
)

// InvalidError is a refused input; Field names the JSON field and Message is
// safe to show.
type InvalidError struct {
	Field   string
	Message string
	// Scope is true when the problem is the scopes (answered invalid_scope).
	Scope bool
}

func (e *InvalidError) Error() string { return "pat: " + e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Service creates, lists, revokes and validates PATs. Safe for concurrent use.
type Service struct {
	st       Store
	hasher   *credential.Hasher
	now      func() time.Time
	random   io.Reader
	log      *slog.Logger
	cfg      Config
	lastUsed *lastuse.Recorder
}

// New builds the service. random is crypto/rand.Reader in production; now is
// time.Now (tests pass a fake clock).
func New(st Store, hasher *credential.Hasher, now func() time.Time, random io.Reader, log *slog.Logger, cfg Config) (*Service, error) {
	if st == nil || hasher == nil || now == nil || random == nil {
		return nil, errors.New("pat: store, hasher, clock and random source are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, hasher: hasher, now: now, random: random, log: log, cfg: cfg.withDefaults()}
	s.lastUsed = lastuse.New(st.TouchPATs, log.With("credential", "pat"))
	return s, nil
}

// time is the clock at the store's millisecond precision, so values compare
// equal after a round trip through the database.
func (s *Service) time() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Catalog returns the scope catalog in force.
func (s *Service) Catalog() *scope.Catalog { return s.cfg.Scopes.Load() }

// AllowedScopes returns the scopes a PAT may carry, in catalog order; it is
// also the default set of a new PAT.
func AllowedScopes(cat *scope.Catalog) []string {
	var out []string
	for _, sc := range cat.For(scope.PAT) {
		if !sc.AdminOnly {
			out = append(out, sc.Name)
		}
	}
	return out
}

// CreateRequest is a new PAT. A nil Scopes means the default (AllowedScopes);
// ExpiresIn zero means no expiry.
type CreateRequest struct {
	UserID      string
	Description string
	Scopes      []string
	ExpiresIn   time.Duration
}

// Created is a new PAT with its secret, which exists only here: only its
// keyed hash is stored.
type Created struct {
	PAT   store.PAT
	Token string
}

// CheckDescription trims and validates a description.
func CheckDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	switch {
	case d == "":
		return "", invalid("description", "a description is required")
	case !utf8.ValidString(d):
		return "", invalid("description", "the description is not valid UTF-8")
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		return "", invalid("description", "the description is longer than %d characters", MaxDescriptionLen)
	case strings.IndexFunc(d, unicode.IsControl) >= 0:
		return "", invalid("description", "the description contains control characters")
	}
	return d, nil
}

// CheckScopes validates requested PAT scopes (nil → the default set) and
// returns them without duplicates.
func CheckScopes(cat *scope.Catalog, requested []string) ([]string, error) {
	if requested == nil {
		return AllowedScopes(cat), nil
	}
	if len(requested) == 0 {
		return nil, &InvalidError{Field: "scopes", Message: "at least one scope is required (omit scopes for the default set)", Scope: true}
	}
	var out []string
	for _, name := range requested {
		sc, ok := cat.Lookup(name)
		if !ok {
			return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("unknown scope %q (allowed: %s)", name, strings.Join(AllowedScopes(cat), ", ")), Scope: true}
		}
		if !sc.PAT {
			return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("scope %q cannot be given to a personal access token", name), Scope: true}
		}
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// checkAdminOnly refuses an administrator-only scope (scope.Admin) to a
// user who is not an administrator. It runs after the user's row is locked,
// so it reads the current role.
func checkAdminOnly(ctx context.Context, tx store.Store, cat *scope.Catalog, userID string, scopes []string) error {
	for _, name := range scopes {
		if sc, ok := cat.Lookup(name); ok && sc.AdminOnly {
			u, err := tx.UserByID(ctx, userID)
			if err != nil {
				return err
			}
			if !u.Admin {
				return &InvalidError{Field: "scopes", Message: fmt.Sprintf("scope %q can only be given to an administrator's token", name), Scope: true}
			}
		}
	}
	return nil
}

// CheckExpiresIn validates a lifetime: zero is no expiry, otherwise it must
// be positive and at most max.
func CheckExpiresIn(d, max time.Duration) error {
	if d < 0 || (d > 0 && d < time.Second) {
		return invalid("expires_in", "expires_in must be a positive number of seconds")
	}
	if d > max {
		return invalid("expires_in", "expires_in must be at most %d seconds", int64(max/time.Second))
	}
	return nil
}

// Create issues a PAT. The caller has authenticated the user with password
// (and second factor); see the package doc.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Created, error) {
	if req.UserID == "" {
		return nil, errors.New("pat: no user")
	}
	desc, err := CheckDescription(req.Description)
	if err != nil {
		return nil, err
	}
	scopes, err := CheckScopes(s.Catalog(), req.Scopes)
	if err != nil {
		return nil, err
	}
	if err := CheckExpiresIn(req.ExpiresIn, s.cfg.MaxLifetime); err != nil {
		return nil, err
	}
	now := s.time()
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return nil, fmt.Errorf("pat: id: %w", err)
	}
	token, err := credential.Generate(s.random, credential.PAT, s.cfg.Env)
	if err != nil {
		return nil, err
	}
	p := store.PAT{
		ID:          id.String(),
		UserID:      req.UserID,
		Description: desc,
		Hash:        s.hasher.Hash(token),
		Scopes:      scopes,
		CreatedAt:   now,
	}
	if req.ExpiresIn > 0 {
		exp := now.Add(req.ExpiresIn.Truncate(time.Second))
		p.ExpiresAt = &exp
	}
	// Count and create in one transaction, after locking the user's row:
	// concurrent creations for one user (on this replica or another) then
	// count one after the other, so the cap holds exactly. Counting outside
	// the transaction let 30 parallel requests end above it.
	err = s.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.LockUser(ctx, req.UserID); err != nil {
			return err
		}
		if err := checkAdminOnly(ctx, tx, s.Catalog(), req.UserID, scopes); err != nil {
			return err
		}
		existing, err := tx.ListPATs(ctx, req.UserID)
		if err != nil {
			return err
		}
		live := 0
		for _, p := range existing {
			if p.ExpiresAt == nil || p.ExpiresAt.After(now) {
				live++
			}
		}
		if live >= s.cfg.MaxPerUser {
			return ErrTooMany
		}
		if err := tx.CreatePAT(ctx, &p); err != nil {
			return err
		}
		if err := s.cfg.Audit.Record(ctx, tx, audit.Entry{Type: audit.PATCreated, ActorKind: store.ActorUser, ActorID: p.UserID,
			Subject: p.UserID, Details: map[string]any{"pat_id": p.ID, "scopes": scopes, "expires": p.ExpiresAt != nil}}); err != nil {
			return err
		}
		if s.cfg.Created != nil {
			return s.cfg.Created(ctx, tx, &p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "pat created", "user_id", p.UserID, "pat_id", p.ID, "scopes", strings.Join(scopes, " "))
	return &Created{PAT: p, Token: token}, nil
}

// List returns the user's unrevoked PATs, newest first (expired ones
// included, marked by ExpiresAt), with last use including stamps not yet
// flushed. Hashes are cleared.
func (s *Service) List(ctx context.Context, userID string) ([]store.PAT, error) {
	list, err := s.st.ListPATs(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Hash = ""
		if t, ok := s.lastUsed.Pending(list[i].ID); ok && (list[i].LastUsedAt == nil || t.After(*list[i].LastUsedAt)) {
			list[i].LastUsedAt = &t
		}
	}
	return list, nil
}

// Revoke revokes the user's PAT id; ErrNotFound when the user has no such PAT.
func (s *Service) Revoke(ctx context.Context, userID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrNotFound
	}
	if err := s.st.RevokePAT(ctx, userID, id, s.time()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	s.log.InfoContext(ctx, "pat revoked", "user_id", userID, "pat_id", id)
	// A single statement revoked it; the entry follows in its own
	// transaction.
	s.cfg.Audit.RecordAfter(ctx, audit.Entry{Type: audit.PATRevoked, ActorKind: store.ActorUser, ActorID: userID, Subject: userID,
		Details: map[string]any{"pat_id": id}})
	return nil
}

// RevokeToken revokes the PAT whose secret is token. Seed 004 names the path
// parameter of DELETE /v0/me/tokens/:token "the PAT you wish to revoke", so
// the secret itself is accepted there besides the id. A secret in a URL ends
// up in access logs, so it is treated as leaked: it is revoked even when it is
// another user's PAT (as the public leak endpoint would), but then the answer
// is ErrNotFound, as for an unknown token, so the caller learns nothing.
func (s *Service) RevokeToken(ctx context.Context, userID, token string) error {
	if p, err := credential.Parse(token); err != nil || p.Kind != credential.PAT {
		return ErrNotFound
	}
	info, err := s.st.PATByHash(ctx, s.hasher.Hash(token))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	if info.UserID != userID {
		// Someone else's live PAT in a URL path is a leaked PAT (paths reach
		// access logs): revoke it as POST /v0/credentials/revoke would, and
		// answer as for an unknown token.
		if err := s.st.RevokePATByHash(ctx, info.Hash, s.time()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s.log.WarnContext(ctx, "pat revoked: presented in another user's revoke request", "pat_id", info.ID, "user_id", info.UserID, "by", userID)
		s.cfg.Audit.RecordAfter(ctx, audit.Entry{Type: audit.PATRevoked, ActorKind: store.ActorUser, ActorID: userID, Subject: info.UserID,
			Details: map[string]any{"pat_id": info.ID, "reason": "presented_by_another_user"}})
		return ErrNotFound
	}
	return s.Revoke(ctx, userID, info.ID)
}

// LooksLikeToken reports whether s has the shape of a PAT (used to tell a
// token from an id in DELETE /v0/me/tokens/{token}).
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, credential.Prefix(credential.PAT, ""))
}

// Validate checks a presented token against the rules in the package doc and
// returns the live PAT (hash cleared). Every refusal is ErrInvalidToken
// wrapping the reason. A success records the use (in memory).
func (s *Service) Validate(ctx context.Context, token string) (*store.PAT, error) {
	info, err := s.validate(ctx, token)
	if err != nil {
		return nil, err
	}
	return &info.PAT, nil
}

// validate is Validate returning the owner's profile too (for the principal).
// A revoked PAT is returned with ErrRevoked (for the audit entry of its use).
func (s *Service) validate(ctx context.Context, token string) (*store.PATInfo, error) {
	parsed, err := credential.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	if parsed.Kind != credential.PAT {
		return nil, fmt.Errorf("%w: not a personal access token", ErrInvalidToken)
	}
	if parsed.Env != s.cfg.Env {
		return nil, fmt.Errorf("%w: token of environment %q", ErrInvalidToken, parsed.Env)
	}
	info, err := s.st.PATByHash(ctx, s.hasher.Hash(token))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown", ErrInvalidToken)
		}
		return nil, err
	}
	now := s.now()
	if err := check(info, now); err != nil {
		if errors.Is(err, ErrRevoked) {
			info.Hash = ""
			return info, err
		}
		return nil, err
	}
	s.lastUsed.Record(info.ID, now.UTC().Truncate(time.Millisecond))
	info.Hash = ""
	// A scope the operator has since removed from the catalog (or no longer
	// lets a PAT carry) is no longer carried.
	info.Scopes = s.Catalog().Carried(scope.PAT, info.Scopes)
	return info, nil
}

// check applies rules 2–5 of the package doc.
func check(info *store.PATInfo, now time.Time) error {
	switch {
	case info.RevokedAt != nil:
		return ErrRevoked
	case info.ExpiresAt != nil && !now.Before(*info.ExpiresAt):
		return ErrExpired
	}
	if err := authn.ActsForUser(info.UserDisabled, info.UserCredentialsChangedAt, info.CreatedAt); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return nil
}

// FlushLastUsed writes pending last-use stamps now (call it on shutdown,
// after the HTTP server has drained and before the store closes).
func (s *Service) FlushLastUsed(ctx context.Context) error { return s.lastUsed.Flush(ctx) }

// RunLastUsedFlusher writes last-use stamps every FlushInterval until ctx
// ends, then once more.
func (s *Service) RunLastUsedFlusher(ctx context.Context) {
	s.lastUsed.Run(ctx, s.cfg.FlushInterval, 10*time.Second)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

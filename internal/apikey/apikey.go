// Package apikey implements API keys (seed 000): secrets an app (OAuth
// client) uses for server-to-server calls, acting as the app's owner.
//
// # The API
//
//	POST   /v0/apps/{client_id}/keys        create a key; the secret is in this answer only
//	GET    /v0/apps/{client_id}/keys        list the app's keys (never the secrets)
//	DELETE /v0/apps/{client_id}/keys/{id}   revoke a key, effective on the next request
//
// Only the app's owner or an administrator manages its keys. Creating a key
// needs them in person (authn.InPerson: HTTP Basic email:password + OTP-Token)
// — never a bearer credential of any kind, so no token or key can mint a key
// that outlives it. Listing needs keys:read and revoking keys:revoke (or the
// password); a third-party app is never granted either, and an app-level
// credential (API key, client_credentials token) sees only its own app.
// Rotation is "create the new key, deploy it, revoke the old one".
//
// # Using a key
//
// A key is sent as "Authorization: Bearer <key>" or "X-API-Key: <key>", never
// in a query string (a URL ends up in logs, browser history and Referer
// headers). It is accepted when, and only when:
//
//  1. it is well formed (prefix gthk_, checksum) — checked offline;
//  2. a key with its keyed hash exists and is not revoked;
//  3. it has no expiry, or the expiry is in the future;
//  4. its app is active (a pending or disabled app's keys do not work);
//  5. its app's owner is not disabled and has not changed credentials since
//     the key was created (authn.ActsForUser): disabling the owner or a
//     password change kills every older key for good, as it kills their
//     tokens — re-enabling the owner revives nothing;
//  6. when the key lists allowed CIDRs, the request's client address is in
//     one of them. The client address is the one the server's
//     client-address resolver (internal/clientaddr) left it: the TCP peer,
//     or behind a trusted proxy the address that proxy forwarded.
//
// The request then acts as the app (ClientID) on behalf of its owner
// (UserID), with the key's scopes — app-level catalog scopes that the app is
// also registered for.
//
// Last use is recorded in memory and written in batches (internal/lastuse).
package apikey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
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
	store.APIKeys
	ClientByID(ctx context.Context, id string) (*store.Client, error)
	// InTx and LockClient make the per-app cap hold under concurrency.
	InTx(ctx context.Context, fn func(tx store.Store) error) error
	LockClient(ctx context.Context, id string) error
	UserByID(ctx context.Context, id string) (*store.User, error)
}

// Config tunes the service. Zero fields take defaults.
type Config struct {
	// MaxLifetime caps a key's expiry (default: none — keys may be
	// unlimited, as server credentials usually are; set it to force rotation).
	MaxLifetime time.Duration
	// MaxPerClient caps how many unrevoked keys an app may hold (default 50).
	MaxPerClient int
	// Env is the credential environment label ("" live, "test" sandbox).
	Env string
	// FlushInterval is how often last-use stamps are written (default 30s).
	FlushInterval time.Duration
	// Scopes holds the scope catalog in force (nil: the built-in scopes).
	Scopes *scope.Holder
	// Audit records creation (in the creating transaction) and revocation
	// (nil: not recorded).
	Audit *audit.Log
}

// Limits.
const (
	MaxNameLen          = 200
	MaxCIDRs            = 32
	DefaultMaxPerClient = 50
	DefaultFlush        = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxPerClient <= 0 {
		c.MaxPerClient = DefaultMaxPerClient
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlush
	}
	return c
}

// Errors.
var (
	// ErrInvalidKey: malformed, unknown, revoked or expired key, its app is
	// not active, or its app's owner is disabled or changed credentials since
	// the key was created. The wrapped reason is for logs only.
	ErrInvalidKey = errors.New("apikey: invalid key")
	// ErrRevoked is the ErrInvalidKey of a revoked key.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalidKey)
	// ErrAddressNotAllowed: the key is valid but the request comes from an
	// address outside its allowed CIDRs.
	ErrAddressNotAllowed = errors.New("apikey: client address not allowed for this key")
	// ErrNotFound: no such app, or no such key of the app.
	ErrNotFound = errors.New("apikey: not found")
	// ErrTooMany: the app holds MaxPerClient keys already.
	ErrTooMany = errors.New("apikey: too many API keys")
)

// InvalidError is a refused input; Message is safe to show.
type InvalidError struct {
	Field   string
	Message string
	Scope   bool // answered invalid_scope
}

func (e *InvalidError) Error() string { return "apikey: " + e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Service manages and validates API keys. Safe for concurrent use.
type Service struct {
	st       Store
	hasher   *credential.Hasher
	now      func() time.Time
	random   io.Reader
	log      *slog.Logger
	cfg      Config
	lastUsed *lastuse.Recorder
}

// New builds the service.
func New(st Store, hasher *credential.Hasher, now func() time.Time, random io.Reader, log *slog.Logger, cfg Config) (*Service, error) {
	if st == nil || hasher == nil || now == nil || random == nil {
		return nil, errors.New("apikey: store, hasher, clock and random source are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, hasher: hasher, now: now, random: random, log: log, cfg: cfg.withDefaults()}
	s.lastUsed = lastuse.New(st.TouchAPIKeys, log.With("credential", "api_key"))
	return s, nil
}

func (s *Service) time() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Actor is who manages keys. System is the command line (trusted: it has the
// database); otherwise UserID must own the app or be an administrator.
type Actor struct {
	UserID string
	System bool
}

// Authorize returns the app if actor may manage its keys: the command line,
// the app's owner, or an administrator. Anyone else gets ErrNotFound, exactly
// as for an app that does not exist, so app ids cannot be probed.
func (s *Service) Authorize(ctx context.Context, actor Actor, clientID string) (*store.Client, error) {
	c, err := s.st.ClientByID(ctx, clientID)
	if err != nil {
		// An id that is not text (PostgreSQL refuses to compare it) names
		// no app either.
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if actor.System || (actor.UserID != "" && c.OwnerID == actor.UserID) {
		return c, nil
	}
	if actor.UserID != "" {
		u, err := s.st.UserByID(ctx, actor.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && u.Admin && !u.Disabled {
			return c, nil
		}
	}
	return nil, ErrNotFound
}

// Catalog returns the scope catalog in force.
func (s *Service) Catalog() *scope.Catalog { return s.cfg.Scopes.Load() }

// AppScopes returns the scopes an API key of client c may carry: app-level
// catalog scopes the client is registered for.
func AppScopes(cat *scope.Catalog, c *store.Client) []string { return cat.AppScopes(c.Scopes) }

// CheckScopes validates requested key scopes for client c against cat.
func CheckScopes(cat *scope.Catalog, c *store.Client, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("at least one scope is required (this app's keys may have: %s)", strings.Join(AppScopes(cat, c), ", ")), Scope: true}
	}
	var out []string
	for _, name := range requested {
		sc, ok := cat.Lookup(name)
		switch {
		case !ok:
			return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("unknown scope %q", name), Scope: true}
		case !sc.App:
			return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("scope %q is not an app-level scope", name), Scope: true}
		case !contains(c.Scopes, name):
			return nil, &InvalidError{Field: "scopes", Message: fmt.Sprintf("scope %q is not registered for this app", name), Scope: true}
		}
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// CheckName trims and validates a key name.
func CheckName(n string) (string, error) {
	n = strings.TrimSpace(n)
	switch {
	case n == "":
		return "", invalid("name", "a name is required")
	case !utf8.ValidString(n):
		return "", invalid("name", "the name is not valid UTF-8")
	case utf8.RuneCountInString(n) > MaxNameLen:
		return "", invalid("name", "the name is longer than %d characters", MaxNameLen)
	case strings.IndexFunc(n, unicode.IsControl) >= 0:
		return "", invalid("name", "the name contains control characters")
	}
	return n, nil
}

// CheckCIDRs parses allowed client ranges (a bare address means just that
// address) and returns them in canonical, masked form without duplicates.
func CheckCIDRs(in []string) ([]string, error) {
	if len(in) > MaxCIDRs {
		return nil, invalid("allowed_cidrs", "at most %d ranges", MaxCIDRs)
	}
	var out []string
	for _, raw := range in {
		raw = strings.TrimSpace(raw)
		var p netip.Prefix
		if strings.Contains(raw, "/") {
			var err error
			if p, err = netip.ParsePrefix(raw); err != nil {
				return nil, invalid("allowed_cidrs", "%q is not a CIDR range (e.g. 203.0.113.0/24 or 2001:db8::/32)", raw)
			}
		} else {
			a, err := netip.ParseAddr(raw)
			if err != nil {
				return nil, invalid("allowed_cidrs", "%q is not an IP address or CIDR range", raw)
			}
			if a.Zone() != "" {
				return nil, invalid("allowed_cidrs", "%q: zones are not allowed", raw)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:a.b.c.d/n is how some tools write IPv4; store IPv4.
			if p.Bits() < 96 {
				return nil, invalid("allowed_cidrs", "%q mixes IPv4-mapped and IPv6 space", raw)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		s := p.Masked().String()
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// CheckExpiresIn validates a lifetime (zero: no expiry).
func (s *Service) CheckExpiresIn(d time.Duration) error {
	if d < 0 || (d > 0 && d < time.Second) {
		return invalid("expires_in", "expires_in must be a positive number of seconds")
	}
	if s.cfg.MaxLifetime > 0 && (d == 0 || d > s.cfg.MaxLifetime) {
		return invalid("expires_in", "expires_in is required and must be at most %d seconds", int64(s.cfg.MaxLifetime/time.Second))
	}
	return nil
}

// CreateRequest is a new key.
type CreateRequest struct {
	ClientID     string
	Name         string
	Scopes       []string
	ExpiresIn    time.Duration // zero: no expiry
	AllowedCIDRs []string      // empty: any address
}

// Created is a new key with its secret, shown once.
type Created struct {
	Key    store.APIKey
	Secret string
}

// Create issues a key for the app, after Authorize.
func (s *Service) Create(ctx context.Context, actor Actor, req CreateRequest) (*Created, error) {
	c, err := s.Authorize(ctx, actor, req.ClientID)
	if err != nil {
		return nil, err
	}
	name, err := CheckName(req.Name)
	if err != nil {
		return nil, err
	}
	scopes, err := CheckScopes(s.Catalog(), c, req.Scopes)
	if err != nil {
		return nil, err
	}
	if err := s.CheckExpiresIn(req.ExpiresIn); err != nil {
		return nil, err
	}
	cidrs, err := CheckCIDRs(req.AllowedCIDRs)
	if err != nil {
		return nil, err
	}
	now := s.time()
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return nil, fmt.Errorf("apikey: id: %w", err)
	}
	secret, err := credential.Generate(s.random, credential.APIKey, s.cfg.Env)
	if err != nil {
		return nil, err
	}
	createdBy := actor.UserID
	if actor.System {
		createdBy = c.OwnerID
	}
	k := store.APIKey{
		ID:           id.String(),
		ClientID:     c.ID,
		Name:         name,
		Hash:         s.hasher.Hash(secret),
		Scopes:       scopes,
		AllowedCIDRs: cidrs,
		CreatedBy:    createdBy,
		CreatedAt:    now,
	}
	if k.AllowedCIDRs == nil {
		k.AllowedCIDRs = []string{}
	}
	if req.ExpiresIn > 0 {
		exp := now.Add(req.ExpiresIn.Truncate(time.Second))
		k.ExpiresAt = &exp
	}
	// Count and create in one transaction, after locking the app's row:
	// concurrent creations for one app (on this replica or another) then
	// count one after the other, so the cap holds exactly.
	err = s.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.LockClient(ctx, c.ID); err != nil {
			return err
		}
		existing, err := tx.ListAPIKeys(ctx, c.ID)
		if err != nil {
			return err
		}
		live := 0
		for _, k := range existing {
			if k.ExpiresAt == nil || k.ExpiresAt.After(now) {
				live++
			}
		}
		if live >= s.cfg.MaxPerClient {
			return ErrTooMany
		}
		if err := tx.CreateAPIKey(ctx, &k); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, keyEntry(audit.APIKeyCreated, actor, c.ID, k.ID))
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "api key created", "client_id", c.ID, "key_id", k.ID, "by", createdBy, "system", actor.System)
	return &Created{Key: k, Secret: secret}, nil
}

// List returns the app's unrevoked keys, newest first, with last use
// including unflushed stamps. Hashes are cleared.
func (s *Service) List(ctx context.Context, actor Actor, clientID string) ([]store.APIKey, error) {
	c, err := s.Authorize(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListAPIKeys(ctx, c.ID)
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

// Revoke revokes the app's key id; effective on the next request.
func (s *Service) Revoke(ctx context.Context, actor Actor, clientID, id string) error {
	c, err := s.Authorize(ctx, actor, clientID)
	if err != nil {
		return err
	}
	if _, err := uuid.Parse(id); err != nil {
		return ErrNotFound
	}
	if err := s.st.RevokeAPIKey(ctx, c.ID, id, s.time()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	s.log.InfoContext(ctx, "api key revoked", "client_id", c.ID, "key_id", id, "by", actor.UserID, "system", actor.System)
	// A single statement revoked it; the entry follows in its own
	// transaction.
	s.cfg.Audit.RecordAfter(ctx, keyEntry(audit.APIKeyRevoked, actor, c.ID, id))
	return nil
}

// keyEntry is the audit entry of a change to an app's key.
func keyEntry(typ string, actor Actor, clientID, keyID string) audit.Entry {
	e := audit.Entry{Type: typ, ActorKind: store.ActorUser, ActorID: actor.UserID, Subject: clientID, Details: map[string]any{"key_id": keyID}}
	if actor.System {
		e.ActorKind, e.ActorID = store.ActorSystem, ""
	}
	return e
}

// Validate checks a presented key from client address remote (see the
// package doc) and returns it with its app's state (hash cleared). Refusals
// are ErrInvalidKey or ErrAddressNotAllowed wrapping the reason. A success
// records the use in memory.
func (s *Service) Validate(ctx context.Context, key string, remote netip.Addr) (*store.APIKeyInfo, error) {
	k, err := s.validate(ctx, key, remote)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// validate is Validate, except that a revoked key is returned with
// ErrRevoked (for the audit entry of its use).
func (s *Service) validate(ctx context.Context, key string, remote netip.Addr) (*store.APIKeyInfo, error) {
	parsed, err := credential.Parse(key)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidKey)
	}
	if parsed.Kind != credential.APIKey {
		return nil, fmt.Errorf("%w: not an API key", ErrInvalidKey)
	}
	if parsed.Env != s.cfg.Env {
		return nil, fmt.Errorf("%w: key of environment %q", ErrInvalidKey, parsed.Env)
	}
	info, err := s.st.APIKeyByHash(ctx, s.hasher.Hash(key))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown", ErrInvalidKey)
		}
		return nil, err
	}
	now := s.now()
	switch {
	case info.RevokedAt != nil:
		out := *info
		out.Hash = ""
		return &out, ErrRevoked
	case info.ExpiresAt != nil && !now.Before(*info.ExpiresAt):
		return nil, fmt.Errorf("%w: expired", ErrInvalidKey)
	case info.ClientStatus != store.ClientActive:
		return nil, fmt.Errorf("%w: app is %s", ErrInvalidKey, info.ClientStatus)
	}
	if err := authn.ActsForUser(info.OwnerDisabled, info.OwnerCredentialsChangedAt, info.CreatedAt); err != nil {
		return nil, fmt.Errorf("%w: the app's owner: %w", ErrInvalidKey, err)
	}
	if !AddrAllowed(info.AllowedCIDRs, remote) {
		return nil, fmt.Errorf("%w: %s", ErrAddressNotAllowed, remote)
	}
	s.lastUsed.Record(info.ID, now.UTC().Truncate(time.Millisecond))
	out := *info
	out.Hash = ""
	// A scope the operator has since removed from the catalog (or no longer
	// lets an app-level credential carry) is no longer carried.
	out.Scopes = s.Catalog().Carried(scope.App, info.Scopes)
	return &out, nil
}

// AddrAllowed reports whether addr is inside one of cidrs (empty: any
// address). An invalid addr is allowed only when there is no restriction.
func AddrAllowed(cidrs []string, addr netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// FlushLastUsed writes pending last-use stamps now (on shutdown, after the
// HTTP server drained and before the store closes).
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

// Package apps is the one place apps (OAuth clients) change. Every path that
// creates, edits, reviews, disables, rotates the secrets of, or deletes an
// app — the developer portal, the admin console, the admin API and the
// command line — calls this Service with an Actor saying who asks, so the
// permission checks, the review rules and the change hook (Config.OnChange,
// where audit entries and webhook events attach) cannot be skipped.
package apps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Actor is who asks for a change.
type Actor struct {
	// UserID is the signed-in user ("" for the System actor).
	UserID string
	// Admin: the user is an administrator (checked again against the
	// store, so a stale flag cannot grant anything).
	Admin bool
	// System is an operator at the shell: the command line, which holds the
	// database and the master key anyway.
	System bool
	// InPerson: the request carried the user's password and second factor,
	// or came from a signed-in browser session with a fresh CSRF form. A
	// bearer token alone is never in person. Minting a credential (a client
	// secret) needs it.
	InPerson bool
}

// UserActor is a signed-in user; inPerson as described on Actor.
func UserActor(userID string, inPerson bool) Actor {
	return Actor{UserID: userID, InPerson: inPerson}
}

// AdminActor is an administrator; inPerson as described on Actor.
func AdminActor(userID string, inPerson bool) Actor {
	return Actor{UserID: userID, Admin: true, InPerson: inPerson}
}

// SystemActor is the operator at the command line.
func SystemActor() Actor { return Actor{System: true, InPerson: true} }

// App types, as the developer chooses them at registration.
const (
	TypeWeb    = "web"    // server-side web app: confidential, authorization_code
	TypeSPA    = "spa"    // single-page app: public, authorization_code + PKCE
	TypeNative = "native" // mobile/desktop app: public, authorization_code + PKCE
	TypeM2M    = "m2m"    // machine to machine: confidential, client_credentials
)

// App statuses (store.Client.Status).
const (
	StatusPending  = store.ClientPending
	StatusActive   = store.ClientActive
	StatusRejected = store.ClientRejected
	StatusDisabled = store.ClientDisabled
)

// Environments (setting `environment`).
const (
	EnvProduction = "production"
	EnvSandbox    = "sandbox"
)

// SecretInfo describes one client secret; the secret itself is shown once.
type SecretInfo struct {
	ID       string
	Created  time.Time
	LastUsed *time.Time
	// RetireAt: the secret stops authenticating at this time (nil: never).
	RetireAt *time.Time
}

// App is the view of an app the service returns.
type App struct {
	ID                     string
	ClientID               string
	Name                   string
	Description            string
	HomepageURL            string
	PrivacyURL             string
	TermsURL               string
	HasLogo                bool
	Type                   string   // TypeWeb, TypeSPA, TypeNative, TypeM2M
	RedirectURIs           []string // exact-match registered redirect URIs
	PostLogoutRedirectURIs []string
	// Scopes and GrantTypes are approved: the app can obtain them now.
	Scopes     []string
	GrantTypes []string
	// PendingScopes and PendingGrants await an administrator's review; the
	// approved parts keep working meanwhile.
	PendingScopes []string
	PendingGrants []string
	Status        string // StatusPending, StatusActive, StatusRejected, StatusDisabled
	ReviewReason  string // why it was rejected or disabled (shown to the developer)
	OwnerUserID   string
	Secrets       []SecretInfo
	Environment   string
	// ResourceServer is set on a resource server's credentials (CLI only).
	ResourceServer string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	// AccessTokenFormat is "opaque", "jwt" or "" (the server default); an
	// API's token_format still wins for tokens meant for it.
	AccessTokenFormat string
	// SubjectType is "public" or "pairwise" (never "": public is shown).
	SubjectType string
	Created     time.Time
	Updated     time.Time
}

// Confidential reports whether the app authenticates with a secret.
func (a App) Confidential() bool { return a.Type == TypeWeb || a.Type == TypeM2M }

// RegisterInput is a new app.
type RegisterInput struct {
	Name, Description                 string
	HomepageURL, PrivacyURL, TermsURL string
	Type                              string
	RedirectURIs                      []string
	PostLogoutRedirectURIs            []string
	Scopes                            []string
	GrantTypes                        []string // empty: the type's defaults
	// AccessTokenFormat is "opaque", "jwt" or "" (inherit the server
	// default); SubjectType "public" ("" too) or "pairwise".
	AccessTokenFormat, SubjectType string
	// Owner is the owning user; "" means the actor. Only an administrator
	// or the System actor may register for someone else.
	Owner string
	// The following are for the System actor (the command line) only.
	AccessTTL, RefreshTTL time.Duration
	ResourceServer        string
	// Status, when set by the System actor, overrides the review rule
	// (the CLI registers active apps, as it always did).
	Status string
}

// UpdateInput edits an app's details. Nil fields are left as they are. None
// of these needs a new review (the developer may fix a callback URL after
// approval).
type UpdateInput struct {
	Name, Description                 *string
	HomepageURL, PrivacyURL, TermsURL *string
	RedirectURIs                      *[]string
	PostLogoutRedirectURIs            *[]string
	// AccessTokenFormat ("" inherits) and SubjectType, as at registration.
	// A pairwise app stays pairwise and its redirect URIs stay on one host
	// (the sector its users' subs are computed for).
	AccessTokenFormat, SubjectType *string
}

// ApproveInput says what an administrator approves. The zero value approves
// everything pending (the app itself, its pending scopes and grants).
type ApproveInput struct {
	// Scopes and Grants, when non-nil, approve only these of the pending
	// ones; the rest stay pending.
	Scopes []string
	Grants []string
}

// ListFilter selects apps for List.
type ListFilter struct {
	Owner  string // user id; a non-admin user always sees only their own
	Status string // "" for any
	Query  string // case-insensitive match on name or client id
	Cursor string // from the previous page
	Limit  int    // default 50, at most 200
}

// ReviewCounts is the administrator's review queue at a glance.
type ReviewCounts struct {
	PendingApps  int // apps waiting for their first approval
	PendingParts int // approved apps with scopes or grants awaiting review
	Rejected     int
	Disabled     int
	Active       int
}

// Event is one change to an app, handed to Config.OnChange.
type Event struct {
	Kind  string // "app.registered", "app.updated", "app.approved", ...
	Actor Actor
	AppID string
	At    time.Time
	// Detail is a short human-readable note (a reason, a secret id).
	Detail string
}

// Event kinds.
const (
	EventRegistered      = "app.registered"
	EventUpdated         = "app.updated"
	EventScopesRequested = "app.scopes_requested"
	EventApproved        = "app.approved"
	EventRejected        = "app.rejected"
	EventDisabled        = "app.disabled"
	EventEnabled         = "app.enabled"
	EventSecretRotated   = "app.secret_rotated"
	EventSecretRetired   = "app.secret_retired"
	EventLogoSet         = "app.logo_set"
	EventDeleted         = "app.deleted"
	EventAPIKeyCreated   = "app.api_key_created"
	EventAPIKeyRevoked   = "app.api_key_revoked"
)

// Errors. Match with errors.Is; *InvalidError carries the field messages.
var (
	// ErrNotFound: no such app, or the actor may not see it (the same
	// answer, so app ids cannot be probed).
	ErrNotFound = errors.New("apps: not found")
	// ErrForbidden: the actor may see the app but not do this (a
	// developer approving their own app).
	ErrForbidden = errors.New("apps: forbidden")
	// ErrInvalid: the input was refused; see InvalidError.
	ErrInvalid = errors.New("apps: invalid input")
	// ErrNeedsInPerson: minting a credential needs the user in person
	// (password and second factor, or a browser form), not a bearer token.
	ErrNeedsInPerson = errors.New("apps: this needs your password and second factor (or the signed-in browser), not a bearer token")
	// ErrEmailUnverified: the account's email is not verified.
	ErrEmailUnverified = errors.New("apps: verify your email address before registering an app")
	// ErrTooManySecrets: the app has two live secrets; retire one first.
	ErrTooManySecrets = errors.New("apps: an app has at most two live secrets: retire one first")
)

// InvalidError lists every problem with an input, by field.
type InvalidError struct {
	// Fields maps a field name ("name", "redirect_uris", …) to messages
	// safe to show; "" holds problems not tied to one field.
	Fields map[string][]string
}

func (e *InvalidError) Error() string {
	var parts []string
	for f, msgs := range e.Fields {
		for _, m := range msgs {
			if f == "" {
				parts = append(parts, m)
			} else {
				parts = append(parts, f+": "+m)
			}
		}
	}
	return "apps: invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func (e *InvalidError) add(field, format string, args ...any) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], fmt.Sprintf(format, args...))
}

func (e *InvalidError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Config configures the Service. Store, Hasher, Now and Random are required.
type Config struct {
	Store  store.Store
	Hasher *credential.Hasher
	Now    func() time.Time
	Random io.Reader
	Log    *slog.Logger
	// Scopes holds the scope catalog in force (nil: built-in scopes).
	Scopes *scope.Holder
	// APIKeys is the API key service app keys are managed through (nil:
	// the API key methods answer ErrNotFound).
	APIKeys *apikey.Service
	// OAuth, when set, checks resource server identifiers against the
	// declared APIs and forgets cached client records after a change.
	OAuth *oauth.Service
	// Environment is EnvProduction (default) or EnvSandbox. In the sandbox
	// apps are approved on registration.
	Environment string
	// SecretRetireAfter is how long a rotated-out secret keeps working
	// (default DefaultSecretRetireAfter).
	SecretRetireAfter time.Duration
	// RequireVerifiedEmail, when set, reports whether the user's email is
	// verified; registration by an unverified user answers
	// ErrEmailUnverified. Nil: no check.
	RequireVerifiedEmail func(ctx context.Context, userID string) (bool, error)
	// OnChange is called for every change, inside the transaction that
	// makes it (tx is that transaction's store): an error rolls the change
	// back. Audit entries and webhook outbox rows write through tx. Nil: no-op.
	OnChange func(ctx context.Context, tx store.Store, ev Event) error
}

// DefaultSecretRetireAfter is the grace period of a rotated-out secret.
const DefaultSecretRetireAfter = 168 * time.Hour

// MaxLiveSecrets is how many unretired secrets an app may hold.
const MaxLiveSecrets = 2

// MaxLogoBytes is the largest logo upload accepted.
const MaxLogoBytes = 1 << 20

// MaxLogoSide is the largest width and height a stored logo has.
const MaxLogoSide = 256

// Service manages apps.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Hasher == nil || cfg.Now == nil || cfg.Random == nil {
		return nil, errors.New("apps: store, hasher, clock and random source are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Environment {
	case "":
		cfg.Environment = EnvProduction
	case EnvProduction, EnvSandbox:
	default:
		return nil, fmt.Errorf("apps: environment %q must be %q or %q", cfg.Environment, EnvProduction, EnvSandbox)
	}
	if cfg.SecretRetireAfter <= 0 {
		cfg.SecretRetireAfter = DefaultSecretRetireAfter
	}
	return &Service{cfg: cfg}, nil
}

// APIKeyInput is a new API key for an app (the API key service's request).
type APIKeyInput = apikey.CreateRequest

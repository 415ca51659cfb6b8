// Package store defines Gatehouse's persistent records, one small interface per
// aggregate, and the sentinel errors every backend returns. It holds no SQL and
// no business rules: services decide, stores persist.
//
// Single use and uniqueness are enforced by the database (conditional UPDATEs,
// unique indexes), never by a read followed by a write. Where a rule needs a
// read followed by a write (a cap on how many credentials one owner holds,
// merging consented scopes), the service runs both in one Store.InTx
// transaction after locking the owner's row (LockUser, LockClient).
//
// Each method does one thing. Cascades (revoking a refresh token revokes its
// grant; forgetting consent revokes the grants) are business rules and live
// in the services, which run their steps in one InTx.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap driver errors into these so services can
// branch with errors.Is without knowing which database is underneath.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness constraint refused the write.
	ErrConflict = errors.New("store: conflict")
	// ErrAlreadyUsed: a single-use record (code, refresh token, TOTP step,
	// recovery code) was consumed before.
	ErrAlreadyUsed = errors.New("store: already used")
	// ErrInvalidText: the database refused a text value (PostgreSQL's TEXT
	// takes neither invalid UTF-8 nor NUL; SQLite stores any bytes). Inputs
	// are checked before they get here (internal/safetext); this is the
	// safety net, answered 400, never 500.
	ErrInvalidText = errors.New("store: text is not valid UTF-8 or contains NUL")
	// ErrSerialization: the database aborted the transaction to resolve a
	// deadlock or serialization conflict with another one (PostgreSQL
	// SQLSTATE 40P01 / 40001; SQLite: the file stayed locked past the busy
	// timeout). Nothing was written; running it again may succeed.
	ErrSerialization = errors.New("store: transaction conflict, retry")
)

// Store is everything a Gatehouse backend provides.
type Store interface {
	Users
	Sessions
	Throttle
	Clients
	Consents
	Grants
	AuthCodes
	Tokens
	PATs
	APIKeys
	Meta
	OIDC
	SigningKeys
	Outbox
	AccountTokens
	KnownDevices
	EmailVerification
	Webhooks
	Audit
	Activity

	// InTx runs fn with a Store whose every method, reads included, runs in
	// one write transaction: committed when fn returns nil, rolled back when
	// it returns an error (returned as is) or panics. InTx on the Store fn
	// receives runs in the same transaction. fn must use only that Store (on
	// SQLite the transaction holds the single write connection). Writes go
	// straight into the transaction, not through group commit.
	//
	// Isolation is the backend's default (PostgreSQL: READ COMMITTED), so a
	// decision based on a read must first lock the row that owns what is
	// read: LockUser / LockClient.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Ping reports whether the database is reachable (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
}

// ---------------------------------------------------------------- meta

// Meta holds facts about the deployment itself, one value per name (the
// master key check value is the first).
type Meta interface {
	// MetaValue returns the value stored under name; ErrNotFound when none.
	MetaValue(ctx context.Context, name string) (string, error)
	// InitMetaValue stores value under name unless a value is stored there
	// already, and returns the value stored afterwards: the existing one, or
	// value. The database decides, so concurrent callers all see one value.
	InitMetaValue(ctx context.Context, name, value string, at time.Time) (string, error)
}

// ---------------------------------------------------------------- users

// User is an end-user account.
type User struct {
	ID           string
	Email        string // normalised (trimmed, lower-cased); unique
	Name         string
	PasswordHash string // argon2id PHC string; never the password
	Admin        bool
	Disabled     bool
	// TOTPSecret is the AEAD-sealed TOTP seed ("" when none is set).
	TOTPSecret string
	// TOTPEnabled is true once enrolment was confirmed with a first code.
	TOTPEnabled bool
	// MustChangePassword is set by an administrator: until the user picks a
	// new password, the account can do nothing but change it. A real
	// password change (UpdatePassword with rotate) clears it.
	MustChangePassword bool
	// CredentialsChangedAt moves forward when the password changes or the
	// account is disabled; every credential acting for the user (session,
	// access and refresh token, PAT, API key of their apps) created before
	// it is dead, and re-enabling the account does not revive it.
	CredentialsChangedAt time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Profile is the part of a user that API responses show. Credential lookups
// return it from the join they already make, so a request authenticated by a
// token needs no second query to say who the user is.
type Profile struct {
	ID          string
	Email       string
	Name        string
	TOTPEnabled bool
	CreatedAt   time.Time
}

// Users persists accounts, their second factors and recovery codes.
type Users interface {
	// CreateUser inserts u; ErrConflict when the email is taken.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// LockUser locks the user's row until the end of the InTx transaction
	// it runs in, so transactions that lock the same user run one after the
	// other, on one replica or several; ErrNotFound for an unknown user.
	// Outside InTx it only checks that the user exists.
	LockUser(ctx context.Context, id string) error
	// UpdatePassword stores a new hash. When rotate is true (a real change,
	// not a transparent rehash) CredentialsChangedAt is set to at.
	UpdatePassword(ctx context.Context, userID, hash string, rotate bool, at time.Time) error
	SetDisabled(ctx context.Context, userID string, disabled bool, at time.Time) error
	// SetAdmin grants or takes away the administrator role.
	SetAdmin(ctx context.Context, userID string, admin bool, at time.Time) error
	// SetMustChangePassword sets or clears User.MustChangePassword.
	SetMustChangePassword(ctx context.Context, userID string, must bool, at time.Time) error
	// SetTOTP stores the sealed seed and whether it is enabled; an empty
	// secret with enabled=false removes two-factor.
	SetTOTP(ctx context.Context, userID, sealedSecret string, enabled bool, at time.Time) error
	// UseTOTPStep records that the code of time step `step` was accepted for
	// the user; ErrAlreadyUsed when it was before (unique (user, step)).
	UseTOTPStep(ctx context.Context, userID string, step int64, at time.Time) error
	// DeleteTOTPStepsBefore forgets accepted steps older than step (they can
	// no longer be replayed: the ±1-step window has moved past them).
	DeleteTOTPStepsBefore(ctx context.Context, step int64) (int64, error)
	// ReplaceRecoveryCodes deletes the user's codes and stores these hashes.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time) error
	// UseRecoveryCode consumes one unused code with this hash; ErrNotFound
	// when there is none (unknown or already used).
	UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) error
	// CountRecoveryCodes returns how many unused codes remain.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// ---------------------------------------------------------------- sessions

// Session is a signed-in browser. The cookie carries a random value; only its
// keyed hash is stored (ID).
type Session struct {
	ID         string // keyed hash of the cookie value
	UserID     string
	CSRFSecret string // per-session secret that CSRF tokens are derived from
	// MFAPending marks a session whose password was right but whose second
	// factor is still owed; it authenticates nothing else.
	MFAPending bool
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// Sessions persists browser sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	SessionByID(ctx context.Context, id string) (*Session, error)
	// TouchSession moves LastSeenAt (callers throttle how often).
	TouchSession(ctx context.Context, id string, at time.Time) error
	// CompleteMFA clears MFAPending.
	CompleteMFA(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of the user except exceptID ("" for all).
	DeleteUserSessions(ctx context.Context, userID, exceptID string) error
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteExpiredSessions removes sessions whose absolute expiry is before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// ---------------------------------------------------------------- throttle

// Throttle counts attempts per key (e.g. "acct:<email>", "ip:<addr>",
// "signup:ip:<addr>") in the database, so limits hold across replicas.
//
// An attempt is reserved before the expensive work it guards (a password
// hash, a TOTP check, an account insert): Reserve counts it and checks the
// caller's policy in one atomic statement, so N concurrent attempts on any
// number of replicas can never get past a limit of fewer than N. The caller
// then keeps the reservation (a failure stays counted), refunds it (the
// attempt did not count after all), or clears the key (a success that resets
// the streak).
type Throttle interface {
	// Reserve counts one attempt on key at `at` if the policy allows an
	// attempt then, and reports the outcome. A refused attempt changes
	// nothing (attempts while throttled are not counted, so they cannot
	// extend a lock). Reservations with no quiet gap of p.Window between them
	// form one streak; the first one after such a gap starts a new count.
	Reserve(ctx context.Context, key string, at time.Time, p ThrottlePolicy) (Reservation, error)
	// Refund takes back a granted reservation: the count goes down by one,
	// and when nothing was reserved on the key since, the time of the last
	// attempt goes back to what it was before. Refunding on a cleared key
	// does nothing.
	Refund(ctx context.Context, key string, r Reservation) error
	// Failures returns the current count and the time of the last counted
	// attempt (zero count when none within window).
	Failures(ctx context.Context, key string, now time.Time, window time.Duration) (count int, last time.Time, err error)
	// ClearFailures forgets the key (a success ends the streak).
	ClearFailures(ctx context.Context, key string) error
}

// ThrottlePolicy is when a key allows its next attempt, given the count n of
// attempts in its streak and the time of the last one: at once while
// n < Free; BaseDelay·2^(n−Free) after the last one (at most MaxDelay) while
// Free ≤ n < Limit; LockFor after the last one once n ≥ Limit. So Limit is a
// hard cap: at most Limit attempts are granted before a pause of LockFor.
// The numbers are the caller's; the store applies them inside the statement
// that counts the attempt, which is what makes the cap exact under
// concurrency.
type ThrottlePolicy struct {
	Window    time.Duration
	Free      int
	Limit     int
	BaseDelay time.Duration
	MaxDelay  time.Duration
	LockFor   time.Duration
}

// Delay is how long after the last of n attempts the next one is allowed,
// in whole milliseconds as the store computes it.
func (p ThrottlePolicy) Delay(n int) time.Duration {
	switch {
	case n >= p.Limit:
		return p.LockFor.Truncate(time.Millisecond)
	case n < p.Free:
		return 0
	}
	maxD := p.MaxDelay.Truncate(time.Millisecond)
	d := p.BaseDelay.Truncate(time.Millisecond)
	for i := p.Free; i < n && d < maxD; i++ {
		d *= 2
	}
	return min(d, maxD)
}

// Reservation is the outcome of Throttle.Reserve.
type Reservation struct {
	// Granted: the attempt may go ahead; it is counted.
	Granted bool
	// Count is the streak's count: including this attempt when granted, the
	// current count when refused.
	Count int
	// Last is the time of the last counted attempt: this one when granted
	// (zero when refused with nothing counted).
	Last time.Time
}

// ---------------------------------------------------------------- clients

// Client types (RFC 6749 §2.1).
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"
)

// Client statuses. The portal adds the review workflow on top.
const (
	ClientPending  = "pending"
	ClientActive   = "active"
	ClientDisabled = "disabled"
	// ClientRejected: an administrator refused the app at review.
	ClientRejected = "rejected"
)

// Client is a registered OAuth 2.0 application.
type Client struct {
	ID           string
	Name         string
	Description  string
	OwnerID      string // user who owns the app; client_credentials tokens act as them
	Type         string // ClientConfidential or ClientPublic
	RedirectURIs []string
	GrantTypes   []string // authorization_code, refresh_token, client_credentials, implicit
	Scopes       []string // scopes the client may request
	Status       string
	// AccessTTL and RefreshTTL override the server defaults when non-zero.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// ResourceServer, when set, is the identifier URI of the API (RFC 8707
	// resource) this client speaks for: a resource server's credentials,
	// which may introspect credentials meant for that API and never obtain
	// tokens. "" for an ordinary application.
	ResourceServer string
	// What the developer tells users about the app (consent page).
	HomepageURL string
	PrivacyURL  string
	TermsURL    string
	// AppType is the kind the developer registered (web, spa, native, m2m;
	// "" for clients registered before app types existed).
	AppType string
	// PendingScopes and PendingGrants were requested and await review;
	// Scopes and GrantTypes hold only approved ones.
	PendingScopes []string
	PendingGrants []string
	// PostLogoutRedirectURIs are where the app may send users after logout.
	PostLogoutRedirectURIs []string
	// ReviewReason is why the app was rejected or disabled.
	ReviewReason string
	// Environment is the deployment environment the app was registered in
	// (production or sandbox; "" before environments existed).
	Environment string
	// AccessTokenFormat is the format of the client's access tokens
	// ("opaque" or "jwt") when the API a token is meant for does not set
	// one; "" inherits the server default.
	AccessTokenFormat string
	// SubjectType is the OpenID Connect subject type: "" or "public" (the
	// user id is the sub) or "pairwise" (a per-sector sub, OpenID Connect
	// Core §8.1).
	SubjectType string
	// HasLogo is read-only: whether a logo is stored (SetClientLogo).
	HasLogo   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientSecret is one of a client's secrets (several allow rotation).
type ClientSecret struct {
	ID        string
	ClientID  string
	Hash      string // keyed hash; the secret is shown once at creation
	CreatedAt time.Time
	ExpiresAt *time.Time
	// LastUsedAt is stamped in batches (TouchClientSecrets), so it lags.
	LastUsedAt *time.Time
}

// Clients persists OAuth clients and their secrets.
type Clients interface {
	// CreateClient inserts c with its initial secrets in one transaction.
	CreateClient(ctx context.Context, c *Client, secrets []ClientSecret) error
	ClientByID(ctx context.Context, id string) (*Client, error)
	// LockClient is LockUser for a client.
	LockClient(ctx context.Context, id string) error
	// ListClients lists all clients, or those of ownerID when it is not "".
	ListClients(ctx context.Context, ownerID string) ([]Client, error)
	UpdateClient(ctx context.Context, c *Client) error
	SetClientStatus(ctx context.Context, id, status string, at time.Time) error
	// DeleteClient removes the client and, by cascade, its secrets, grants,
	// codes, tokens, consents and API keys.
	DeleteClient(ctx context.Context, id string) error
	AddClientSecret(ctx context.Context, s *ClientSecret) error
	ClientSecrets(ctx context.Context, clientID string) ([]ClientSecret, error)
	DeleteClientSecret(ctx context.Context, clientID, secretID string) error
	// DeleteClientSecretByHash deletes whatever secret has this hash (leak
	// response) and returns its client's id; ErrNotFound when none.
	DeleteClientSecretByHash(ctx context.Context, hash string) (clientID string, err error)
	// SetClientSecretExpiry sets (nil: clears) when the client's secret
	// stops authenticating; ErrNotFound when the secret is not the client's.
	SetClientSecretExpiry(ctx context.Context, clientID, secretID string, at *time.Time) error
	// TouchClientSecrets is TouchPATs for client secrets.
	TouchClientSecrets(ctx context.Context, lastUsed map[string]time.Time) error
	// SetClientLogo stores (replaces) the client's logo, a PNG; ErrNotFound
	// for an unknown client.
	SetClientLogo(ctx context.Context, clientID string, png []byte, at time.Time) error
	// ClientLogo returns the stored PNG; ErrNotFound when there is none.
	ClientLogo(ctx context.Context, clientID string) ([]byte, error)
}

// ---------------------------------------------------------------- consents

// Consent remembers that a user allowed a client a set of scopes, so a
// later request for the same or fewer scopes skips the consent page.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Consents persists remembered consent.
type Consents interface {
	// UpsertConsent stores c, replacing the scopes of an existing consent.
	UpsertConsent(ctx context.Context, c *Consent) error
	Consent(ctx context.Context, userID, clientID string) (*Consent, error)
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteConsent forgets the consent (nothing else: revoking the grants
	// is the caller's, see Grants.RevokeGrants). No consent is not an error.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// ---------------------------------------------------------------- grants

// Grant is a token family: one authorization (a code redemption chain, or a
// client_credentials issuance). Every token carries its grant id; revoking the
// grant kills every token of the family, including ones minted a moment later.
type Grant struct {
	ID       string
	ClientID string
	UserID   string
	Scopes   []string
	// Audience lists the API identifiers (RFC 8707 resource) the user
	// authorized; nil when the request named none.
	Audience  []string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Grants persists token families.
type Grants interface {
	CreateGrant(ctx context.Context, g *Grant) error
	GrantByID(ctx context.Context, id string) (*Grant, error)
	// RevokeGrant marks the grant revoked (idempotent: the first time
	// stays); ErrNotFound for an unknown grant. A revoked grant is dead
	// whatever its time: validation never compares it with token times.
	RevokeGrant(ctx context.Context, id string, at time.Time) error
	// RevokeGrants revokes every grant of the user for the client (so every
	// token of theirs), keeping earlier revocation times, and returns how
	// many it revoked.
	RevokeGrants(ctx context.Context, userID, clientID string, at time.Time) (int64, error)
}

// ---------------------------------------------------------------- codes

// AuthCode is an authorization code (RFC 6749 §4.1.2), stored by keyed hash.
type AuthCode struct {
	Hash                string
	GrantID             string
	ClientID            string
	UserID              string
	RedirectURI         string // as sent in the authorization request ("" if omitted)
	Scopes              []string
	Audience            []string // RFC 8707 resources of the request (nil: none)
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	AuthTime            time.Time
	CreatedAt           time.Time
	ExpiresAt           time.Time
	ConsumedAt          *time.Time
	// GrantRevoked is set by ConsumeAuthCode: whether the code's grant was
	// revoked when the code was consumed, read in the consuming transaction.
	// A replay of the code revokes the grant only after that transaction
	// committed, so this tells a revocation that happened before the
	// redemption from one a replay causes after it, whatever the clocks say.
	GrantRevoked bool
}

// AuthCodes persists authorization codes.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// AuthCodeByHash returns the code, consumed or not, without changing it;
	// ErrNotFound when unknown. The token endpoint checks a code's binding
	// (client, redirect URI, PKCE) with it before consuming, so a request
	// that fails those checks cannot burn the code of its rightful client.
	AuthCodeByHash(ctx context.Context, hash string) (*AuthCode, error)
	// ConsumeAuthCode marks the code used with one conditional UPDATE and
	// returns it. A code used before returns the record AND ErrAlreadyUsed (so
	// the caller can revoke its grant); an unknown code returns ErrNotFound.
	// Expiry is the caller's to check.
	ConsumeAuthCode(ctx context.Context, hash string, at time.Time) (*AuthCode, error)
	// DeleteExpiredAuthCodes removes codes that expired before `before`.
	DeleteExpiredAuthCodes(ctx context.Context, before time.Time) (int64, error)
}

// ---------------------------------------------------------------- tokens

// Token kinds.
const (
	TokenAccess  = "access"
	TokenRefresh = "refresh"
)

// Token is an OAuth access or refresh token's record, stored under Hash: the
// keyed hash of an opaque token, or for a JWT access token a key made of its
// jti (which is ID), since a JWT is looked up only after its signature
// verified.
type Token struct {
	Hash     string
	ID       string // public identifier (logs, audit, jti)
	Kind     string // TokenAccess or TokenRefresh
	GrantID  string
	ClientID string
	UserID   string
	Scopes   []string
	// Audience lists the API identifiers the token is meant for (RFC 8707);
	// nil means no explicit audience: every API whose scopes it carries.
	Audience   []string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt *time.Time // refresh tokens: rotated
	RevokedAt  *time.Time
}

// TokenInfo is a token with what validation needs from its family, client and
// user, read in one indexed lookup.
type TokenInfo struct {
	Token
	GrantRevoked bool
	ClientStatus string
	UserDisabled bool
	// UserCredentialsChangedAt: see User.CredentialsChangedAt.
	UserCredentialsChangedAt time.Time
	User                     Profile
}

// Tokens persists access and refresh tokens.
type Tokens interface {
	// CreateTokens inserts the tokens in one transaction.
	CreateTokens(ctx context.Context, tokens ...*Token) error
	// TokenByHash returns the token joined with grant, client and user state.
	TokenByHash(ctx context.Context, hash string) (*TokenInfo, error)
	// RotateRefreshToken consumes the refresh token `hash` (conditional
	// UPDATE) and inserts `next` in the same transaction. When the token was
	// consumed before it returns the old token AND ErrAlreadyUsed, inserting
	// nothing; unknown → ErrNotFound.
	RotateRefreshToken(ctx context.Context, hash string, at time.Time, next ...*Token) (*Token, error)
	// RevokeToken revokes this one token (revoking twice keeps the first
	// time) and returns it, or ErrNotFound when unknown. Revoking the rest
	// of its grant is the caller's (RevokeGrant, in the same InTx).
	RevokeToken(ctx context.Context, hash string, at time.Time) (*Token, error)
	// DeleteExpiredTokens removes tokens expired before `before`.
	DeleteExpiredTokens(ctx context.Context, before time.Time) (int64, error)
}

// ---------------------------------------------------------------- PATs

// PAT is a personal access token (seed 004), stored by keyed hash.
type PAT struct {
	ID          string
	UserID      string
	Description string
	Hash        string
	Scopes      []string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
}

// PATInfo is a PAT with the owner state validation needs.
type PATInfo struct {
	PAT
	UserDisabled             bool
	UserCredentialsChangedAt time.Time
	User                     Profile
}

// PATs persists personal access tokens.
type PATs interface {
	CreatePAT(ctx context.Context, p *PAT) error
	PATByHash(ctx context.Context, hash string) (*PATInfo, error)
	// ListPATs lists the user's PATs that are not revoked, newest first.
	ListPATs(ctx context.Context, userID string) ([]PAT, error)
	// RevokePAT revokes the user's PAT id; ErrNotFound when it is not theirs.
	RevokePAT(ctx context.Context, userID, id string, at time.Time) error
	// RevokePATByHash revokes whatever PAT has this hash (leak response).
	RevokePATByHash(ctx context.Context, hash string, at time.Time) error
	// TouchPATs records last use for many PATs in one transaction (batched
	// off the request path), updating rows in ascending id order so that
	// replicas flushing overlapping batches at once cannot deadlock.
	TouchPATs(ctx context.Context, lastUsed map[string]time.Time) error
}

// ---------------------------------------------------------------- API keys

// APIKey is an app's key for server-to-server calls (seed 000).
type APIKey struct {
	ID           string
	ClientID     string
	Name         string
	Hash         string
	Scopes       []string
	AllowedCIDRs []string // empty: any address
	CreatedBy    string   // user id
	CreatedAt    time.Time
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	RevokedAt    *time.Time
}

// APIKeyInfo is a key with its client's state.
type APIKeyInfo struct {
	APIKey
	ClientStatus  string
	ClientOwnerID string
	// OwnerDisabled: a key acts as the app's owner, so it dies with them.
	OwnerDisabled bool
	// OwnerCredentialsChangedAt is the owner's User.CredentialsChangedAt: a
	// key created before it is dead, like every credential acting for them.
	OwnerCredentialsChangedAt time.Time
	Owner                     Profile
}

// APIKeys persists API keys.
type APIKeys interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (*APIKeyInfo, error)
	// ListAPIKeys lists the client's keys that are not revoked, newest first.
	ListAPIKeys(ctx context.Context, clientID string) ([]APIKey, error)
	// RevokeAPIKey revokes the client's key id; ErrNotFound when not theirs.
	RevokeAPIKey(ctx context.Context, clientID, id string, at time.Time) error
	RevokeAPIKeyByHash(ctx context.Context, hash string, at time.Time) error
	// TouchAPIKeys is TouchPATs for API keys.
	TouchAPIKeys(ctx context.Context, lastUsed map[string]time.Time) error
}

// ---------------------------------------------------------------- signing keys

// SigningKey is one key the server signs JSON Web Tokens with. Its life:
// published in the JWKS from CreatedAt, signs from ActiveAt, stops signing at
// RetiredAt, leaves the JWKS at ExpiresAt (nil: not yet decided).
type SigningKey struct {
	KID string
	Alg string // RS256, ES256 or EdDSA
	// PrivateKey is the PKCS #8 DER key sealed with the master key; never
	// stored in the clear.
	PrivateKey string
	CreatedAt  time.Time
	ActiveAt   time.Time
	RetiredAt  *time.Time
	ExpiresAt  *time.Time
}

// SigningKeys persists the signing keys.
type SigningKeys interface {
	// CreateSigningKey inserts k; ErrConflict when its kid exists.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every key not yet expired at now, oldest
	// first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// RetireSigningKeys retires every key of alg other than keepKID that is
	// not retired yet: it stops signing at retiredAt and leaves the JWKS at
	// expiresAt. It returns how many keys it retired.
	RetireSigningKeys(ctx context.Context, alg, keepKID string, retiredAt, expiresAt time.Time) (int, error)
	// DeleteExpiredSigningKeys removes keys whose expiry is before now.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}

// ---------------------------------------------------------------- outbox

// OutboxMessage is one queued unit of work for a topic's handler (an email
// to send, later a webhook to call). Payload is opaque to the store; callers
// seal it when it carries secrets such as account links.
type OutboxMessage struct {
	ID            string
	Topic         string
	Payload       string
	Attempts      int // deliveries started, counted when claimed
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
	DoneAt        *time.Time
	FailedAt      *time.Time
}

// Outbox is the durable queue behind off-request-path work. A message is
// enqueued inside the caller's InTx transaction, so it exists exactly when
// the change that caused it was committed.
type Outbox interface {
	// EnqueueOutbox inserts m (Attempts, lease and outcome fields are
	// ignored); ErrConflict on a duplicate id.
	EnqueueOutbox(ctx context.Context, m *OutboxMessage) error
	// ClaimOutbox leases up to limit pending messages that are due at now and
	// not leased by anyone (or whose lease ran out), to owner until
	// leaseUntil, counting one attempt on each. A message is claimed by one
	// caller at a time, on one replica or several.
	ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]OutboxMessage, error)
	// CompleteOutbox marks a message owner holds as delivered; ErrNotFound
	// when owner no longer holds it (lease lost to another worker).
	CompleteOutbox(ctx context.Context, id, owner string, at time.Time) error
	// RetryOutbox releases a message owner holds, due again at next, noting
	// why this attempt failed; ErrNotFound when owner no longer holds it.
	RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error
	// FailOutbox gives up on a message owner holds; ErrNotFound as above.
	FailOutbox(ctx context.Context, id, owner string, at time.Time, lastErr string) error
	// OutboxByID returns one message in whatever state it is.
	OutboxByID(ctx context.Context, id string) (*OutboxMessage, error)
	// DeleteFinishedOutbox forgets messages delivered or failed before
	// before; pending ones stay whatever their age.
	DeleteFinishedOutbox(ctx context.Context, before time.Time) (int64, error)
}

// ---------------------------------------------------------------- account tokens

// Account token purposes.
const (
	AccountTokenVerify      = "verify"
	AccountTokenReset       = "reset"
	AccountTokenEmailChange = "email_change"
)

// AccountToken is the stored form of a link sent by email: only its hash is
// kept, and it can be used once before it expires.
type AccountToken struct {
	Hash      string
	Purpose   string
	UserID    string
	NewEmail  string // email_change: the address being confirmed
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// AccountTokens stores the hashed single-use links of the account flows.
type AccountTokens interface {
	// CreateAccountToken inserts t; ErrConflict on a duplicate hash,
	// ErrNotFound for an unknown user.
	CreateAccountToken(ctx context.Context, t *AccountToken) error
	// ConsumeAccountToken marks the unused, unexpired token with this hash
	// and purpose used and returns it: ErrAlreadyUsed when it was used
	// before, ErrNotFound when it is unknown, of another purpose or expired.
	// Of concurrent callers exactly one succeeds.
	ConsumeAccountToken(ctx context.Context, hash, purpose string, at time.Time) (*AccountToken, error)
	// DeleteAccountTokens forgets the user's unused tokens of purpose (a new
	// link replaces the old ones; a password reset voids every reset link).
	DeleteAccountTokens(ctx context.Context, userID, purpose string) (int64, error)
	// DeleteExpiredAccountTokens forgets tokens that expired before before.
	DeleteExpiredAccountTokens(ctx context.Context, before time.Time) (int64, error)
}

// ---------------------------------------------------------------- known devices

// KnownDevices remembers where each user has signed in from.
type KnownDevices interface {
	// SeeDevice records a sign-in from fingerprint at at and reports whether
	// the user had never signed in from it before, and whether it is the
	// only device the user is known to have used (the account's first
	// sign-in is no news). Of concurrent first sightings exactly one
	// reports new.
	SeeDevice(ctx context.Context, userID, fingerprint string, at time.Time) (isNew, only bool, err error)
}

// ---------------------------------------------------------------- email verification

// EmailVerification records when a user proved they receive mail at their
// address.
type EmailVerification interface {
	// SetEmailVerified sets (at non-nil) or clears (nil: the address
	// changed) the user's verification time; ErrNotFound for an unknown user.
	SetEmailVerified(ctx context.Context, userID string, at *time.Time) error
	// EmailVerifiedAt returns the verification time, nil when unverified.
	EmailVerifiedAt(ctx context.Context, userID string) (*time.Time, error)
	// ChangeEmail sets the user's address, verified at verifiedAt (the
	// confirmation link proved it); ErrConflict when another account has
	// it, ErrNotFound for an unknown user.
	ChangeEmail(ctx context.Context, userID, email string, verifiedAt time.Time) error
}

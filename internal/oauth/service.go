// Package oauth is Gatehouse's OAuth 2.0 authorization server: the
// authorization endpoint (code with PKCE, and the legacy implicit grant for
// clients that enable it), the token endpoint (authorization_code,
// refresh_token, client_credentials), revocation (RFC 7009), introspection
// (RFC 7662), metadata (RFC 8414) and validation of the opaque access tokens
// it issues, for the API's bearer authentication.
//
// The Service decides and returns typed *Error values; it holds no HTTP
// types. The Handler parses requests into typed values and renders results;
// HTML pages (consent, errors, authorized apps) are drawn by the web package
// through the small UI interface.
//
// # Rules of validity of an access token
//
// An access token is accepted when it is well formed (prefix gtha_,
// checksum), a token with its keyed hash exists, it is an access token, it is
// not revoked or expired, its grant (token family) is not revoked, its client
// is active, its user is not disabled and has not changed credentials since
// the token was issued. Validation is one indexed lookup, with no cache:
// revocation is effective on the next request.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/lastuse"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Grant types (RFC 6749) as registered on clients and in metadata.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	// GrantImplicit is the legacy implicit grant (RFC 6749 §4.2), off unless
	// a client explicitly enables it. RFC 9700 §2.1.2: "Clients SHOULD NOT
	// use the implicit grant".
	GrantImplicit = "implicit"
)

// Defaults.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	// DefaultCodeTTL: seed 004 "This temporary code is valid for a duration
	// of 5 minutes and can only be used once"; RFC 6749 §4.1.2 "A maximum
	// authorization code lifetime of 10 minutes is RECOMMENDED."
	DefaultCodeTTL = 5 * time.Minute
	// DefaultLoginMaxAge: with prompt=login, a sign-in older than this is
	// redone.
	DefaultLoginMaxAge = 2 * time.Minute
	// DefaultIDTokenTTL: an ID token is read by the client once, right
	// after it is issued.
	DefaultIDTokenTTL = time.Hour
)

// Options build a Service.
type Options struct {
	// Issuer is the server's public base URL (no trailing slash). It is the
	// RFC 8414 issuer and the RFC 9207 iss parameter.
	Issuer string
	Store  store.Store
	Hasher *credential.Hasher
	Clock  func() time.Time
	Random io.Reader
	Logger *slog.Logger
	// Env is the credential environment label ("" live, "test" sandbox).
	Env string

	AccessTokenTTL  time.Duration // default 1h; a client's AccessTTL overrides
	RefreshTokenTTL time.Duration // default 30 days, renewed on each rotation
	CodeTTL         time.Duration // default 5 minutes
	LoginMaxAge     time.Duration // prompt=login freshness, default 2 minutes
	// Scopes holds the scope catalog in force (nil: the built-in scopes
	// only). It is read per request, so a reload applies at once.
	Scopes *scope.Holder
	// ClientCacheTTL bounds how long a disabled client or deleted secret may
	// still authenticate at the token endpoint on a replica that cached it
	// (see clientCache). 0 turns the cache off.
	ClientCacheTTL time.Duration
	// APIs are the operator's resource servers (config section `apis`):
	// the values `resource` may name, and what resource-server clients
	// speak for.
	APIs []API
	// Credentials validates credentials of every kind for introspection
	// (the API's authenticator). Without it only refresh tokens introspect
	// as active.
	Credentials CredentialValidator
	// Signer signs ID tokens (OpenID Connect). Without it the openid scope
	// yields no ID token and discovery is not served.
	Signer     Signer
	IDTokenTTL time.Duration // default 1h

	// JWT signs JWT access tokens; nil: every access token is opaque.
	JWT JWTSigner
	// AccessTokenFormat is the default format, FormatOpaque or FormatJWT
	// (an API's TokenFormat overrides it).
	AccessTokenFormat string
	// JWTAccessTokenAlg signs JWT access tokens (default EdDSA).
	JWTAccessTokenAlg string
	// JWTAccessTokenTTL caps a JWT access token's life (default
	// DefaultJWTAccessTokenTTL).
	JWTAccessTokenTTL time.Duration
	// PairwiseKey computes pairwise subject identifiers (OpenID Connect
	// Core §8.1), a key derived from the master key so a sub stays the same
	// across restarts and replicas. Nil: no client may be pairwise.
	PairwiseKey []byte
	// OnEvent is called inside the transaction of a consent, an app's
	// revocation by its user and a token revocation (events.go); an error
	// rolls the change back. Nil: no-op.
	OnEvent func(ctx context.Context, tx store.Store, ev Event) error
	// Audit records tokens issued, refreshed and revoked, replays, and
	// authorizations granted and revoked (nil: not recorded).
	Audit *audit.Log
	// Activity counts access tokens issued and replays detected for the
	// console's overview (nil: not counted).
	Activity *activity.Counter
}

// Service is the OAuth 2.0 authorization server logic.
type Service struct {
	issuer     string
	st         store.Store
	hasher     *credential.Hasher
	now        func() time.Time
	rand       io.Reader
	log        *slog.Logger
	env        string
	accessTTL  time.Duration
	refreshTTL time.Duration
	codeTTL    time.Duration
	loginAge   time.Duration
	clients    *clientCache
	apis       map[string]API
	creds      CredentialValidator
	scopes     *scope.Holder
	signer     Signer
	idTokenTTL time.Duration
	onEvent    func(ctx context.Context, tx store.Store, ev Event) error
	audit      *audit.Log
	activity   *activity.Counter
	// pairwiseKey computes pairwise subjects (subject.go); nil: none.
	pairwiseKey []byte

	// opaque and jwtStrategy are the access token strategies (jwtStrategy
	// nil without a signer); accessFormat is the default.
	opaque       AccessTokenStrategy
	jwtStrategy  *jwtStrategy
	accessFormat string

	// secretUse batches the last-use stamps of client secrets.
	secretUse *lastuse.Recorder
}

// NewService checks the options and builds the Service.
func NewService(o Options) (*Service, error) {
	if o.Issuer == "" || strings.HasSuffix(o.Issuer, "/") {
		return nil, fmt.Errorf("oauth: issuer %q must be set, without a trailing slash", o.Issuer)
	}
	if o.Store == nil || o.Hasher == nil || o.Clock == nil || o.Random == nil {
		return nil, errors.New("oauth: store, hasher, clock and random source are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	apis, err := validateAPIs(o.APIs)
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	s := &Service{
		apis: apis, creds: o.Credentials,
		issuer: o.Issuer, st: o.Store, hasher: o.Hasher, now: o.Clock, rand: o.Random, log: o.Logger, env: o.Env, audit: o.Audit, activity: o.Activity,
		accessTTL: o.AccessTokenTTL, refreshTTL: o.RefreshTokenTTL, codeTTL: o.CodeTTL, loginAge: o.LoginMaxAge,
		clients: newClientCache(o.ClientCacheTTL), scopes: o.Scopes,
		signer: o.Signer, idTokenTTL: o.IDTokenTTL, onEvent: o.OnEvent,
		pairwiseKey: slices.Clone(o.PairwiseKey),
	}
	if s.idTokenTTL <= 0 {
		s.idTokenTTL = DefaultIDTokenTTL
	}
	s.opaque = opaqueStrategy{s}
	switch o.AccessTokenFormat {
	case "", FormatOpaque:
		s.accessFormat = FormatOpaque
	case FormatJWT:
		s.accessFormat = FormatJWT
	default:
		return nil, fmt.Errorf("oauth: access token format %q (want opaque or jwt)", o.AccessTokenFormat)
	}
	if o.JWT != nil {
		alg, ttl := o.JWTAccessTokenAlg, o.JWTAccessTokenTTL
		if alg == "" {
			alg = "EdDSA"
		}
		if ttl <= 0 {
			ttl = DefaultJWTAccessTokenTTL
		}
		s.jwtStrategy = &jwtStrategy{s: s, signer: o.JWT, alg: alg, maxTTL: ttl}
	} else if s.accessFormat == FormatJWT {
		return nil, errors.New("oauth: JWT access tokens need signing keys")
	}
	s.secretUse = lastuse.New(o.Store.TouchClientSecrets, o.Logger.With("credential", "client_secret"))
	if s.scopes == nil {
		s.scopes = scope.NewHolder(nil)
	}
	if s.accessTTL <= 0 {
		s.accessTTL = DefaultAccessTokenTTL
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = DefaultRefreshTokenTTL
	}
	if s.codeTTL <= 0 {
		s.codeTTL = DefaultCodeTTL
	}
	if s.loginAge <= 0 {
		s.loginAge = DefaultLoginMaxAge
	}
	return s, nil
}

// Issuer returns the issuer identifier.
func (s *Service) Issuer() string { return s.issuer }

// time is the clock at the store's millisecond precision.
func (s *Service) time() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// newID returns a UUIDv7 (RFC 9562 §5.7): time-ordered, so the unique
// indexes on token, grant and code ids grow at their right edge instead of
// at a random page per insert — a token endpoint issuing thousands of
// tokens a second dirties one index page per batch rather than one per
// token. The 74 random bits keep ids unguessable; they are not secrets
// (a token's id is its jti and appears in the audit log).
func (s *Service) newID() (string, error) {
	u, err := uuid.NewV7FromReader(s.rand)
	if err != nil {
		return "", fmt.Errorf("oauth: generating id: %w", err)
	}
	return u.String(), nil
}

// newSecret generates a credential of kind k and returns it with its hash.
func (s *Service) newSecret(k credential.Kind) (secret, hash string, err error) {
	secret, err = credential.Generate(s.rand, k, s.env)
	if err != nil {
		return "", "", err
	}
	return secret, s.hasher.Hash(secret), nil
}

// parseSecret checks the shape of a presented credential of kind k offline.
func (s *Service) parseSecret(raw string, k credential.Kind) bool {
	p, err := credential.Parse(raw)
	return err == nil && p.Kind == k && p.Env == s.env
}

func (s *Service) accessTTLFor(c *store.Client) time.Duration {
	if c.AccessTTL > 0 {
		return c.AccessTTL
	}
	return s.accessTTL
}

func (s *Service) refreshTTLFor(c *store.Client) time.Duration {
	if c.RefreshTTL > 0 {
		return c.RefreshTTL
	}
	return s.refreshTTL
}

func hasGrantType(c *store.Client, g string) bool { return containsString(c.GrantTypes, g) }

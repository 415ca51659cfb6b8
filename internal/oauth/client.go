package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Limits on client registration.
const (
	MaxClientNameLen    = 100
	MaxClientDescLen    = 1000
	MaxRedirectURIs     = 20
	MaxClientTokenTTL   = 366 * 24 * time.Hour
	minClientAccessTTL  = time.Minute
	minClientRefreshTTL = time.Hour
)

// GrantTypes lists every grant type a client can be registered for.
func GrantTypes() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantImplicit}
}

// NewClient is a client registration request.
type NewClient struct {
	Name         string
	Description  string
	OwnerID      string
	Public       bool
	RedirectURIs []string
	GrantTypes   []string
	Scopes       []string
	AccessTTL    time.Duration // 0: server default
	RefreshTTL   time.Duration // 0: server default
	// Status defaults to store.ClientActive (the admin CLI); the developer
	// portal creates pending clients.
	Status string
	// ResourceServer, when set, registers the credentials of a resource
	// server instead of an app: the identifier of a declared API. Such a
	// client is confidential, has no redirect URIs, grant types or scopes,
	// and can only introspect credentials meant for that API.
	ResourceServer string
	// ByAdmin: an administrator registers the client (the CLI is the admin
	// path today). Only then may it hold a sensitive scope: sensitive scopes
	// need an app to be reviewed, and until app review exists an
	// administrator's registration is that review.
	ByAdmin bool
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to (OpenID Connect RP-Initiated Logout 1.0 §3).
	PostLogoutRedirectURIs []string
	// IDTokenAlg is id_token_signed_response_alg ("" for RS256).
	IDTokenAlg string
	// AccessTokenFormat is the client's access token format (FormatOpaque,
	// FormatJWT, or "" for the server default); an API's token_format
	// still wins for tokens meant for it.
	AccessTokenFormat string
	// SubjectType is SubjectPublic ("" too) or SubjectPairwise.
	SubjectType string
}

// ValidateClient checks a client record against the scope catalog cat and
// returns every problem at once (joined), or nil. byAdmin says an
// administrator registers it, which sensitive scopes require.
func ValidateClient(c *store.Client, cat *scope.Catalog, byAdmin bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	name := strings.TrimSpace(c.Name)
	switch {
	case name == "":
		bad("a name is required")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxClientNameLen:
		bad("the name must be valid UTF-8 of at most %d characters", MaxClientNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		bad("the name contains control characters")
	}
	if !utf8.ValidString(c.Description) || utf8.RuneCountInString(c.Description) > MaxClientDescLen {
		bad("the description must be valid UTF-8 of at most %d characters", MaxClientDescLen)
	}
	if c.OwnerID == "" {
		bad("an owner is required")
	}
	if c.Type != store.ClientConfidential && c.Type != store.ClientPublic {
		bad("type must be %q or %q", store.ClientConfidential, store.ClientPublic)
	}
	switch c.Status {
	case store.ClientActive, store.ClientPending, store.ClientDisabled, store.ClientRejected:
	default:
		bad("status must be active, pending, rejected or disabled")
	}

	if c.ResourceServer != "" {
		// A resource server authenticates at introspection and nothing
		// else: it never obtains tokens of its own.
		if err := CheckResourceURI(c.ResourceServer); err != nil {
			bad("resource server %q %v", c.ResourceServer, err)
		}
		if c.Type != store.ClientConfidential {
			bad("a resource server must be confidential: it authenticates at introspection with its secret (RFC 7662 §2.1)")
		}
		if len(c.RedirectURIs) > 0 || len(c.GrantTypes) > 0 || len(c.Scopes) > 0 {
			bad("a resource server has no redirect URIs, grant types or scopes: it can only introspect")
		}
		if c.AccessTTL != 0 || c.RefreshTTL != 0 {
			bad("a resource server obtains no tokens, so it has no token lifetimes")
		}
		if c.AccessTokenFormat != "" || c.SubjectType != "" {
			bad("a resource server obtains no tokens, so it has no access token format or subject type")
		}
		return errors.Join(errs...)
	}
	if len(c.GrantTypes) == 0 {
		bad("at least one grant type is required (%s)", strings.Join(GrantTypes(), ", "))
	}
	seen := map[string]bool{}
	for _, g := range c.GrantTypes {
		if !containsString(GrantTypes(), g) {
			bad("unknown grant type %q (known: %s)", g, strings.Join(GrantTypes(), ", "))
		}
		if seen[g] {
			bad("grant type %q is listed twice", g)
		}
		seen[g] = true
	}
	if seen[GrantRefreshToken] && !seen[GrantAuthorizationCode] {
		bad("the refresh_token grant needs authorization_code (refresh tokens come only from the code flow)")
	}
	if c.Type == store.ClientPublic && seen[GrantClientCredentials] {
		// RFC 6749 §4.4: "The client credentials grant type MUST only be
		// used by confidential clients."
		bad("a public client cannot use client_credentials (RFC 6749 §4.4)")
	}
	browser := seen[GrantAuthorizationCode] || seen[GrantImplicit]
	if browser && len(c.RedirectURIs) == 0 {
		bad("at least one redirect URI is required for %s", strings.Join(browserGrants(seen), " and "))
	}
	if len(c.RedirectURIs) > MaxRedirectURIs {
		bad("at most %d redirect URIs", MaxRedirectURIs)
	}
	seenURI := map[string]bool{}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			bad("redirect URI %q: %v", u, err)
		}
		if seenURI[u] {
			bad("redirect URI %q is listed twice", u)
		}
		seenURI[u] = true
	}

	if len(c.Scopes) == 0 {
		bad("at least one scope is required (%s)", strings.Join(cat.Names(), ", "))
	}
	if err := validateClientScopes(cat, c.Scopes); err != nil {
		bad("%v", err)
	}
	for _, s := range c.Scopes {
		// An administrator-only scope is carried by an administrator's
		// personal access token and by nothing an app holds.
		if sc, ok := cat.Lookup(s); ok && sc.AdminOnly {
			bad("scope %q is for administrators' personal access tokens only: no app can be registered with it", s)
		}
	}
	if sens := cat.Sensitive(c.Scopes); len(sens) > 0 && !byAdmin {
		bad("scope %s is sensitive: until app review exists, only an administrator can register a client with it (gatehouse client create)",
			strings.Join(sens, ", "))
	}
	if browser {
		// Users grant an authorization_code or implicit client's scopes to
		// it: a scope that manages credentials must not even be registered
		// there (the authorization endpoint refuses it anyway).
		for _, s := range c.Scopes {
			sc, ok := cat.Lookup(s)
			switch {
			case !ok || sc.Delegate:
			case !sc.BuiltIn:
				bad("scope %q cannot be registered on a client that uses %s: its carriers do not include delegated, so users never grant it to an app (register a separate client_credentials-only client for it)",
					s, strings.Join(browserGrants(seen), " or "))
			default:
				bad("scope %q manages credentials and cannot be registered on a client that uses %s: users never grant it to an app (register a separate client_credentials-only client for it)",
					s, strings.Join(browserGrants(seen), " or "))
			}
		}
	}
	if c.AccessTTL != 0 && (c.AccessTTL < minClientAccessTTL || c.AccessTTL > MaxClientTokenTTL) {
		bad("the access token lifetime must be between %v and %v", minClientAccessTTL, MaxClientTokenTTL)
	}
	if c.RefreshTTL != 0 && (c.RefreshTTL < minClientRefreshTTL || c.RefreshTTL > MaxClientTokenTTL) {
		bad("the refresh token lifetime must be between %v and %v", minClientRefreshTTL, MaxClientTokenTTL)
	}
	switch c.AccessTokenFormat {
	case "", FormatOpaque, FormatJWT:
	default:
		bad("access token format %q must be %q, %q or empty (the server default)", c.AccessTokenFormat, FormatOpaque, FormatJWT)
	}
	switch c.SubjectType {
	case "", SubjectPublic:
	case SubjectPairwise:
		if _, err := SectorOf(c.RedirectURIs); err != nil {
			bad("%v", err)
		}
	default:
		bad("subject type %q must be %q or %q", c.SubjectType, SubjectPublic, SubjectPairwise)
	}
	return errors.Join(errs...)
}

func browserGrants(seen map[string]bool) []string {
	var out []string
	for _, g := range []string{GrantAuthorizationCode, GrantImplicit} {
		if seen[g] {
			out = append(out, g)
		}
	}
	return out
}

// InvalidClientError is a registration refused by ValidateClient.
type InvalidClientError struct{ Err error }

func (e *InvalidClientError) Error() string { return "invalid client: " + e.Err.Error() }
func (e *InvalidClientError) Unwrap() error { return e.Err }

// CreateClient registers a client. A confidential client gets a generated
// secret (≥256 random bits, stored only as a keyed hash), returned here once.
func (s *Service) CreateClient(ctx context.Context, nc NewClient) (*store.Client, string, error) {
	now := s.time()
	id, err := s.newID()
	if err != nil {
		return nil, "", err
	}
	c := &store.Client{
		ID: id, Name: strings.TrimSpace(nc.Name), Description: strings.TrimSpace(nc.Description), OwnerID: nc.OwnerID,
		Type: store.ClientConfidential, RedirectURIs: nonNil(nc.RedirectURIs), GrantTypes: nonNil(nc.GrantTypes),
		Scopes: nonNil(nc.Scopes), Status: nc.Status, AccessTTL: nc.AccessTTL, RefreshTTL: nc.RefreshTTL,
		ResourceServer: nc.ResourceServer, AccessTokenFormat: nc.AccessTokenFormat, SubjectType: nc.SubjectType,
		CreatedAt: now, UpdatedAt: now,
	}
	if nc.Public {
		c.Type = store.ClientPublic
	}
	if c.Status == "" {
		c.Status = store.ClientActive
	}
	if err := ValidateClient(c, s.catalog(), nc.ByAdmin); err != nil {
		return nil, "", &InvalidClientError{Err: err}
	}
	if err := s.CheckClientTokenOptions(c); err != nil {
		return nil, "", &InvalidClientError{Err: err}
	}
	if _, ok := s.apis[c.ResourceServer]; c.ResourceServer != "" && !ok {
		return nil, "", &InvalidClientError{Err: fmt.Errorf("resource server %q is not a declared API (add it to the `apis` section of the configuration file)", c.ResourceServer)}
	}
	var secrets []store.ClientSecret
	secret := ""
	if c.Type == store.ClientConfidential {
		var hash string
		secret, hash, err = s.newSecret(credential.ClientSecret)
		if err != nil {
			return nil, "", err
		}
		sid, err := s.newID()
		if err != nil {
			return nil, "", err
		}
		secrets = append(secrets, store.ClientSecret{ID: sid, ClientID: c.ID, Hash: hash, CreatedAt: now})
	}
	co, err := s.validateClientOIDC(c, nc)
	if err != nil {
		return nil, "", &InvalidClientError{Err: err}
	}
	err = s.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.CreateClient(ctx, c, secrets); err != nil {
			return err
		}
		if co != nil {
			return tx.PutClientOIDC(ctx, co)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("oauth: creating client: %w", err)
	}
	return c, secret, nil
}

// AddClientSecret generates another secret for a confidential client (for
// rotation: deploy the new one, then delete the old).
func (s *Service) AddClientSecret(ctx context.Context, clientID string, expiresAt *time.Time) (store.ClientSecret, string, error) {
	c, err := s.st.ClientByID(ctx, clientID)
	if err != nil {
		return store.ClientSecret{}, "", err
	}
	if c.Type != store.ClientConfidential {
		return store.ClientSecret{}, "", errors.New("oauth: public clients have no secrets")
	}
	secret, hash, err := s.newSecret(credential.ClientSecret)
	if err != nil {
		return store.ClientSecret{}, "", err
	}
	sid, err := s.newID()
	if err != nil {
		return store.ClientSecret{}, "", err
	}
	cs := store.ClientSecret{ID: sid, ClientID: c.ID, Hash: hash, CreatedAt: s.time(), ExpiresAt: expiresAt}
	if err := s.st.AddClientSecret(ctx, &cs); err != nil {
		return store.ClientSecret{}, "", err
	}
	s.clients.forget(c.ID)
	return cs, secret, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// errBadClientCredentials is the one answer for an unknown client and a wrong
// secret, so the endpoint is no oracle for which client ids exist.
func errBadClientCredentials() *Error {
	return ErrInvalidClient("client authentication failed: unknown client or wrong credentials")
}

// AuthenticateClient verifies presented client credentials (RFC 6749 §2.3):
// a confidential client must present one of its unexpired secrets, compared
// in constant time; a public client presents only its client_id ("none") and
// is then bound by PKCE. Only active clients authenticate.
func (s *Service) AuthenticateClient(ctx context.Context, cr ClientCredentials) (*store.Client, error) {
	e, cached, err := s.loadClient(ctx, cr.ID, false)
	if errors.Is(err, store.ErrNotFound) {
		// Spend what a real comparison costs, so timing does not tell
		// unknown clients from wrong secrets.
		if cr.Secret != "" {
			credential.Equal(s.hasher.Hash(cr.Secret), strings.Repeat("0", 64))
		}
		return nil, errBadClientCredentials().WithCause(fmt.Errorf("unknown client %q", cr.ID))
	}
	if err != nil {
		return nil, ErrServerError(err)
	}
	c := e.client
	switch c.Type {
	case store.ClientPublic:
		if cr.Method != AuthMethodNone {
			// RFC 6749 §2.1: public clients are "incapable of maintaining the
			// confidentiality of their credentials"; a public client has none.
			return nil, ErrInvalidClient("this is a public client: send only client_id, without a secret")
		}
	default:
		if cr.Method == AuthMethodNone {
			return nil, ErrInvalidClient("this client must authenticate: use HTTP Basic with client_id and client_secret (client_secret_basic)")
		}
		ok := s.checkClientSecret(e.secrets, cr.Secret)
		if !ok && cached {
			// The cached secrets may predate a new one: look again before failing.
			if e, _, err = s.loadClient(ctx, cr.ID, true); err != nil {
				return nil, errBadClientCredentials().WithCause(err)
			}
			ok = s.checkClientSecret(e.secrets, cr.Secret)
		}
		if !ok {
			return nil, errBadClientCredentials().WithCause(fmt.Errorf("wrong secret for client %q", c.ID))
		}
	}
	if err := reviewError(c); err != nil {
		return nil, err
	}
	if c.Status != store.ClientActive {
		return nil, ErrInvalidClient("this client is %s", c.Status)
	}
	return c, nil
}

// reviewError is the answer to an app the operator has not approved: nil
// for any other status. RFC 6749 §5.2 "unauthorized_client: The
// authenticated client is not authorized to use this authorization grant
// type" — the client is who it says, it is just not allowed yet.
func reviewError(c *store.Client) *Error {
	switch c.Status {
	case store.ClientPending:
		return ErrUnauthorizedClient("this application awaits review by the operator and cannot obtain tokens yet")
	case store.ClientRejected:
		return ErrUnauthorizedClient("this application was rejected at review and cannot obtain tokens")
	}
	return nil
}

// ForgetClient drops the cached record of a client, so a change to it
// (status, secrets) applies at once on this replica.
func (s *Service) ForgetClient(id string) { s.clients.forget(id) }

// checkClientSecret compares the presented secret with every unexpired
// secret of the client, in constant time and without early exit. A secret
// past its retirement time no longer authenticates: rotation's grace period
// ends at use time, without a job. The match's last use is batched.
func (s *Service) checkClientSecret(secrets []store.ClientSecret, secret string) bool {
	if secret == "" || len(secret) > 512 {
		return false
	}
	h := s.hasher.Hash(secret)
	now := s.time()
	matched := ""
	for _, cs := range secrets {
		if cs.ExpiresAt != nil && !now.Before(*cs.ExpiresAt) {
			continue
		}
		if credential.Equal(h, cs.Hash) {
			matched = cs.ID
		}
	}
	if matched != "" {
		s.secretUse.Record(matched, now)
	}
	return matched != ""
}

// FlushSecretLastUsed writes the batched last-use stamps of client secrets.
func (s *Service) FlushSecretLastUsed(ctx context.Context) error { return s.secretUse.Flush(ctx) }

// RunSecretLastUsedFlusher flushes the stamps periodically until ctx ends.
func (s *Service) RunSecretLastUsedFlusher(ctx context.Context) {
	s.secretUse.Run(ctx, 30*time.Second, 10*time.Second)
}

// DeclaredAPI reports whether id is the identifier of an API declared in the
// configuration (the `apis` section), which a resource server client names.
func (s *Service) DeclaredAPI(id string) bool {
	_, ok := s.apis[id]
	return ok
}

package apps

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) catalog() *scope.Catalog { return s.cfg.Scopes.Load() }

// credentialEnv is the label every credential of this deployment carries
// (see credential.EnvLabel).
func (s *Service) credentialEnv() string { return credential.EnvLabel(s.cfg.Environment) }

func (s *Service) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", fmt.Errorf("apps: reading randomness: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newSecret mints a client secret: ≥256 random bits in the credential
// format, returned once; only its keyed hash is stored.
func (s *Service) newSecret(clientID string, at time.Time) (string, store.ClientSecret, error) {
	secret, err := credential.Generate(s.cfg.Random, credential.ClientSecret, s.credentialEnv())
	if err != nil {
		return "", store.ClientSecret{}, err
	}
	id, err := s.newID()
	if err != nil {
		return "", store.ClientSecret{}, err
	}
	return secret, store.ClientSecret{ID: id, ClientID: clientID, Hash: s.cfg.Hasher.Hash(secret), CreatedAt: at}, nil
}

// role is what the actor is, read from the store so a stale flag on the
// Actor grants nothing.
type role int

const (
	roleNone role = iota
	roleUser
	roleAdmin
	roleSystem
)

func (s *Service) role(ctx context.Context, st store.Store, a Actor) (role, error) {
	if a.System {
		return roleSystem, nil
	}
	if a.UserID == "" {
		return roleNone, nil
	}
	u, err := st.UserByID(ctx, a.UserID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		return roleNone, nil
	}
	if err != nil {
		return roleNone, err
	}
	switch {
	case u.Disabled:
		return roleNone, nil
	case u.Admin:
		return roleAdmin, nil
	}
	return roleUser, nil
}

// load returns the client if the actor may see it: its owner, an
// administrator or the System actor. Anyone else gets ErrNotFound, exactly
// as for an app that does not exist, so app ids cannot be probed.
func (s *Service) load(ctx context.Context, st store.Store, a Actor, id string) (*store.Client, role, error) {
	r, err := s.role(ctx, st, a)
	if err != nil {
		return nil, r, err
	}
	if r == roleNone || id == "" {
		return nil, r, ErrNotFound
	}
	c, err := st.ClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		return nil, r, ErrNotFound
	}
	if err != nil {
		return nil, r, err
	}
	if r == roleUser && c.OwnerID != a.UserID {
		return nil, r, ErrNotFound
	}
	return c, r, nil
}

// change runs fn on the app id in one transaction, with the app's row
// locked, and hands the event to OnChange in the same transaction.
func (s *Service) change(ctx context.Context, a Actor, id, kind string, fn func(tx store.Store, c *store.Client, r role) (detail string, err error)) (*store.Client, error) {
	var out *store.Client
	err := s.cfg.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.LockClient(ctx, id); errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		c, r, err := s.load(ctx, tx, a, id)
		if err != nil {
			return err
		}
		detail, err := fn(tx, c, r)
		if err != nil {
			return err
		}
		out = c
		return s.emit(ctx, tx, Event{Kind: kind, Actor: a, AppID: id, At: s.now(), Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	s.forget(id)
	return out, nil
}

func (s *Service) emit(ctx context.Context, tx store.Store, ev Event) error {
	if s.cfg.OnChange == nil {
		return nil
	}
	return s.cfg.OnChange(ctx, tx, ev)
}

func (s *Service) forget(id string) {
	if s.cfg.OAuth != nil {
		s.cfg.OAuth.ForgetClient(id)
	}
}

// view turns a client record into the App view.
func (s *Service) view(ctx context.Context, st store.Store, c *store.Client) (App, error) {
	a := App{
		ID: c.ID, ClientID: c.ID, Name: c.Name, Description: c.Description,
		HomepageURL: c.HomepageURL, PrivacyURL: c.PrivacyURL, TermsURL: c.TermsURL, HasLogo: c.HasLogo,
		Type: c.AppType, RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		Scopes: nonNil(c.Scopes), PendingScopes: nonNil(c.PendingScopes),
		GrantTypes: nonNil(c.GrantTypes), PendingGrants: nonNil(c.PendingGrants),
		Status: c.Status, ReviewReason: c.ReviewReason, OwnerUserID: c.OwnerID, Environment: c.Environment,
		ResourceServer: c.ResourceServer, AccessTTL: c.AccessTTL, RefreshTTL: c.RefreshTTL,
		AccessTokenFormat: c.AccessTokenFormat, SubjectType: c.SubjectType,
		Created: c.CreatedAt, Updated: c.UpdatedAt, Secrets: []SecretInfo{},
	}
	if a.SubjectType == "" {
		a.SubjectType = oauth.SubjectPublic
	}
	if a.Type == "" {
		// Registered before app types existed: the closest type.
		a.Type = TypeWeb
		switch {
		case c.Type == store.ClientPublic:
			a.Type = TypeNative
		case slices.Equal(c.GrantTypes, []string{oauth.GrantClientCredentials}):
			a.Type = TypeM2M
		}
	}
	if a.Environment == "" {
		a.Environment = EnvProduction
	}
	if c.Type != store.ClientConfidential {
		return a, nil
	}
	secs, err := st.ClientSecrets(ctx, c.ID)
	if err != nil {
		return App{}, err
	}
	now := s.now()
	for _, sec := range secs {
		if live(sec, now) {
			a.Secrets = append(a.Secrets, SecretInfo{ID: sec.ID, Created: sec.CreatedAt, LastUsed: sec.LastUsedAt, RetireAt: sec.ExpiresAt})
		}
	}
	return a, nil
}

// live: the secret still authenticates (retirement is checked at use time,
// so no job has to remove secrets whose grace period ended).
func live(sec store.ClientSecret, now time.Time) bool {
	return sec.ExpiresAt == nil || now.Before(*sec.ExpiresAt)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// ---------------------------------------------------------------- register

// typeDefaults maps an app type to its client type and default grants.
func typeDefaults(t string) (clientType string, grants []string, ok bool) {
	switch t {
	case TypeWeb:
		return store.ClientConfidential, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, true
	case TypeSPA, TypeNative:
		return store.ClientPublic, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, true
	case TypeM2M:
		return store.ClientConfidential, []string{oauth.GrantClientCredentials}, true
	}
	return "", nil, false
}

// needsReview splits requested scopes and grants into those a reviewed app
// gets at once and those an administrator approves separately: the
// client_credentials grant (the app acts on its own, as its owner) and every
// scope the catalog marks sensitive.
func needsReview(cat *scope.Catalog, scopes, grants []string) (okScopes, revScopes, okGrants, revGrants []string) {
	sens := cat.Sensitive(scopes)
	for _, sc := range scopes {
		if slices.Contains(sens, sc) {
			revScopes = append(revScopes, sc)
		} else {
			okScopes = append(okScopes, sc)
		}
	}
	for _, g := range grants {
		if g == oauth.GrantClientCredentials {
			revGrants = append(revGrants, g)
		} else {
			okGrants = append(okGrants, g)
		}
	}
	return
}

// checkURL checks an optional https link shown to users (homepage, privacy
// policy, terms).
func checkURL(inv *InvalidError, field, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		inv.add(field, "must be an absolute https URL")
	case u.Scheme != "https":
		inv.add(field, "must use https")
	case len(v) > 2000:
		inv.add(field, "must be at most 2000 characters")
	}
	return v
}

// validate checks the whole client with the OAuth rules (one place:
// oauth.ValidateClient), approved and pending parts together.
func (s *Service) validate(inv *InvalidError, c *store.Client) {
	whole := *c
	whole.Scopes = scope.Union(c.Scopes, c.PendingScopes)
	whole.GrantTypes = scope.Union(c.GrantTypes, c.PendingGrants)
	status := whole.Status
	whole.Status = store.ClientActive
	defer func() { whole.Status = status }()
	// Sensitive scopes are approved at review now, so registration itself
	// may ask for them.
	if err := oauth.ValidateClient(&whole, s.catalog(), true); err != nil {
		for _, m := range strings.Split(err.Error(), "\n") {
			inv.add("", "%s", m)
		}
	}
	for i, u := range c.PostLogoutRedirectURIs {
		if err := oauth.ValidateRedirectURI(u); err != nil {
			inv.add("post_logout_redirect_uris", "%d: %v", i+1, err)
		}
	}
	if s.cfg.OAuth != nil {
		if err := s.cfg.OAuth.CheckClientTokenOptions(&whole); err != nil {
			for _, m := range strings.Split(err.Error(), "\n") {
				inv.add("", "%s", m)
			}
		}
	}
}

// checkPairwiseKept refuses an edit that would undo what a pairwise app's
// users were given: turning pairwise off would hand the app the user ids
// every other app sees (the correlation pairwise exists to prevent), and
// moving its redirect URIs to another host (the sector, OpenID Connect Core
// §8.1) would silently change every user's sub, orphaning their accounts at
// the app. Turning pairwise on is allowed: the developer chooses it knowing
// the subs change once.
func checkPairwiseKept(inv *InvalidError, before, after *store.Client) {
	if before.SubjectType != oauth.SubjectPairwise {
		return
	}
	if after.SubjectType != oauth.SubjectPairwise {
		inv.add("subject_type", "a pairwise app stays pairwise: making it public would show it the user ids every other app sees")
		return
	}
	old, err1 := oauth.SectorOf(before.RedirectURIs)
	now, err2 := oauth.SectorOf(after.RedirectURIs)
	if err1 == nil && err2 == nil && old != now {
		inv.add("redirect_uris", "a pairwise app's redirect URIs stay on host %q: its users' subs are computed for that host", old)
	}
}

// Register creates an app. A production app registered by a user is
// pending until an administrator approves it; in the sandbox, and when an
// administrator or the System actor registers, it is active at once (an
// administrator's registration is the review). A confidential app's secret
// is returned here, once; minting it needs Actor.InPerson.
func (s *Service) Register(ctx context.Context, a Actor, in RegisterInput) (App, string, error) {
	r, err := s.role(ctx, s.cfg.Store, a)
	if err != nil {
		return App{}, "", err
	}
	if r == roleNone {
		return App{}, "", ErrForbidden
	}
	owner := in.Owner
	if owner == "" {
		owner = a.UserID
	}
	if owner != a.UserID && r < roleAdmin {
		return App{}, "", ErrForbidden
	}
	if r != roleSystem && s.cfg.RequireVerifiedEmail != nil {
		ok, err := s.cfg.RequireVerifiedEmail(ctx, a.UserID)
		if err != nil {
			return App{}, "", err
		}
		if !ok {
			return App{}, "", ErrEmailUnverified
		}
	}
	inv := &InvalidError{}
	if r != roleSystem && (in.AccessTTL != 0 || in.RefreshTTL != 0 || in.ResourceServer != "" || in.Status != "") {
		inv.add("", "token lifetimes, resource servers and a status are set by an operator only")
	}
	clientType, defGrants, ok := typeDefaults(in.Type)
	if in.ResourceServer != "" && in.Type == "" {
		clientType, ok = store.ClientConfidential, true
	}
	if !ok {
		inv.add("type", "must be %s, %s, %s or %s", TypeWeb, TypeSPA, TypeNative, TypeM2M)
	}
	grants := in.GrantTypes
	if len(grants) == 0 && in.ResourceServer == "" {
		grants = defGrants
	}
	if owner == "" {
		inv.add("owner", "an owner is required")
	}
	now := s.now()
	c := &store.Client{
		Name: strings.TrimSpace(in.Name), Description: strings.TrimSpace(in.Description), OwnerID: owner,
		Type: clientType, AppType: in.Type, RedirectURIs: nonNil(in.RedirectURIs), PostLogoutRedirectURIs: nonNil(in.PostLogoutRedirectURIs),
		HomepageURL: checkURL(inv, "homepage_url", in.HomepageURL), PrivacyURL: checkURL(inv, "privacy_url", in.PrivacyURL),
		TermsURL: checkURL(inv, "terms_url", in.TermsURL), AccessTTL: in.AccessTTL, RefreshTTL: in.RefreshTTL,
		ResourceServer: in.ResourceServer, Environment: s.cfg.Environment, Status: store.ClientActive,
		AccessTokenFormat: in.AccessTokenFormat, SubjectType: in.SubjectType,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.ResourceServer != "" {
		c.AppType = ""
		if s.cfg.OAuth != nil && !s.cfg.OAuth.DeclaredAPI(in.ResourceServer) {
			inv.add("resource_server", "%q is not a declared API (add it to the `apis` section of the configuration file)", in.ResourceServer)
		}
	}
	reviewed := r >= roleAdmin || s.cfg.Environment == EnvSandbox
	if reviewed {
		c.Scopes, c.GrantTypes = nonNil(in.Scopes), nonNil(grants)
		c.PendingScopes, c.PendingGrants = []string{}, []string{}
	} else {
		c.Status = store.ClientPending
		var revS, revG []string
		c.Scopes, revS, c.GrantTypes, revG = needsReview(s.catalog(), in.Scopes, grants)
		c.Scopes, c.GrantTypes, c.PendingScopes, c.PendingGrants = nonNil(c.Scopes), nonNil(c.GrantTypes), nonNil(revS), nonNil(revG)
	}
	if r == roleSystem && in.Status != "" {
		c.Status = in.Status
	}
	s.validate(inv, c)
	if err := inv.orNil(); err != nil {
		return App{}, "", err
	}
	if c.Type == store.ClientConfidential && !a.InPerson {
		return App{}, "", ErrNeedsInPerson
	}
	if c.ID, err = s.newID(); err != nil {
		return App{}, "", err
	}
	var (
		secret string
		secs   []store.ClientSecret
	)
	if c.Type == store.ClientConfidential {
		var sec store.ClientSecret
		if secret, sec, err = s.newSecret(c.ID, now); err != nil {
			return App{}, "", err
		}
		secs = append(secs, sec)
	}
	var out App
	err = s.cfg.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.CreateClient(ctx, c, secs); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &InvalidError{Fields: map[string][]string{"owner": {"no such user"}}}
			}
			return err
		}
		if err := s.emit(ctx, tx, Event{Kind: EventRegistered, Actor: a, AppID: c.ID, At: now, Detail: c.Status}); err != nil {
			return err
		}
		out, err = s.view(ctx, tx, c)
		return err
	})
	if err != nil {
		return App{}, "", err
	}
	return out, secret, nil
}

// ---------------------------------------------------------------- read

// Get returns the app if the actor may see it (owner, administrator, System).
func (s *Service) Get(ctx context.Context, a Actor, id string) (App, error) {
	c, _, err := s.load(ctx, s.cfg.Store, a, id)
	if err != nil {
		return App{}, err
	}
	return s.view(ctx, s.cfg.Store, c)
}

// Page sizes of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// List returns a page of apps the actor may see, oldest first, and the
// cursor of the next page ("" at the end). A user sees only their own apps
// whatever the filter's Owner says.
func (s *Service) List(ctx context.Context, a Actor, f ListFilter) ([]App, string, error) {
	r, err := s.role(ctx, s.cfg.Store, a)
	if err != nil {
		return nil, "", err
	}
	switch r {
	case roleNone:
		return nil, "", ErrForbidden
	case roleUser:
		f.Owner = a.UserID
	}
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	f.Limit = min(f.Limit, MaxListLimit)
	var after struct {
		ms int64
		id string
	}
	if f.Cursor != "" {
		msStr, id, ok := strings.Cut(f.Cursor, ".")
		ms, perr := strconv.ParseInt(msStr, 10, 64)
		if !ok || perr != nil || id == "" {
			return nil, "", &InvalidError{Fields: map[string][]string{"cursor": {"not a cursor this server issued"}}}
		}
		after.ms, after.id = ms, id
	}
	all, err := s.cfg.Store.ListClients(ctx, f.Owner)
	if err != nil {
		return nil, "", err
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	var out []App
	next := ""
	for i := range all {
		c := &all[i]
		ms := c.CreatedAt.UnixMilli()
		if f.Cursor != "" && (ms < after.ms || (ms == after.ms && c.ID <= after.id)) {
			continue
		}
		if f.Status != "" && c.Status != f.Status {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(c.Name), q) && !strings.Contains(strings.ToLower(c.ID), q) {
			continue
		}
		if len(out) == f.Limit {
			last := out[len(out)-1]
			next = strconv.FormatInt(last.Created.UnixMilli(), 10) + "." + last.ID
			break
		}
		v, err := s.view(ctx, s.cfg.Store, c)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// ReviewCounts returns the review queue counts. Administrators and System.
func (s *Service) ReviewCounts(ctx context.Context, a Actor) (ReviewCounts, error) {
	r, err := s.role(ctx, s.cfg.Store, a)
	if err != nil {
		return ReviewCounts{}, err
	}
	if r < roleAdmin {
		return ReviewCounts{}, ErrForbidden
	}
	all, err := s.cfg.Store.ListClients(ctx, "")
	if err != nil {
		return ReviewCounts{}, err
	}
	var n ReviewCounts
	for _, c := range all {
		switch c.Status {
		case store.ClientPending:
			n.PendingApps++
		case store.ClientRejected:
			n.Rejected++
		case store.ClientDisabled:
			n.Disabled++
		case store.ClientActive:
			n.Active++
			if len(c.PendingScopes)+len(c.PendingGrants) > 0 {
				n.PendingParts++
			}
		}
	}
	return n, nil
}

// ---------------------------------------------------------------- edit

// Update edits the app's details and redirect URIs, without a new review.
func (s *Service) Update(ctx context.Context, a Actor, id string, in UpdateInput) (App, error) {
	var out App
	_, err := s.change(ctx, a, id, EventUpdated, func(tx store.Store, c *store.Client, _ role) (string, error) {
		inv := &InvalidError{}
		before := *c
		if in.Name != nil {
			c.Name = strings.TrimSpace(*in.Name)
		}
		if in.Description != nil {
			c.Description = strings.TrimSpace(*in.Description)
		}
		if in.HomepageURL != nil {
			c.HomepageURL = checkURL(inv, "homepage_url", *in.HomepageURL)
		}
		if in.PrivacyURL != nil {
			c.PrivacyURL = checkURL(inv, "privacy_url", *in.PrivacyURL)
		}
		if in.TermsURL != nil {
			c.TermsURL = checkURL(inv, "terms_url", *in.TermsURL)
		}
		if in.RedirectURIs != nil {
			c.RedirectURIs = nonNil(*in.RedirectURIs)
		}
		if in.PostLogoutRedirectURIs != nil {
			c.PostLogoutRedirectURIs = nonNil(*in.PostLogoutRedirectURIs)
		}
		if in.AccessTokenFormat != nil {
			c.AccessTokenFormat = *in.AccessTokenFormat
		}
		if in.SubjectType != nil {
			c.SubjectType = *in.SubjectType
		}
		checkPairwiseKept(inv, &before, c)
		s.validate(inv, c)
		if err := inv.orNil(); err != nil {
			return "", err
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return "", err
		}
		var err error
		out, err = s.view(ctx, tx, c)
		return "", err
	})
	return out, err
}

// RequestScopes asks for more scopes and grant types. In production a user's
// request goes back to review for those parts only: they become pending
// while the approved parts keep working. An administrator's or the
// sandbox's request is approved at once.
func (s *Service) RequestScopes(ctx context.Context, a Actor, id string, scopes, grants []string) (App, error) {
	var out App
	_, err := s.change(ctx, a, id, EventScopesRequested, func(tx store.Store, c *store.Client, r role) (string, error) {
		var newS, newG []string
		for _, sc := range scopes {
			if !slices.Contains(c.Scopes, sc) && !slices.Contains(newS, sc) {
				newS = append(newS, sc)
			}
		}
		for _, g := range grants {
			if !slices.Contains(c.GrantTypes, g) && !slices.Contains(newG, g) {
				newG = append(newG, g)
			}
		}
		if len(newS)+len(newG) == 0 {
			out, _ = s.view(ctx, tx, c)
			return "", nil
		}
		if r >= roleAdmin || s.cfg.Environment == EnvSandbox {
			c.Scopes, c.GrantTypes = scope.Union(c.Scopes, newS), scope.Union(c.GrantTypes, newG)
			c.PendingScopes = without(c.PendingScopes, newS)
			c.PendingGrants = without(c.PendingGrants, newG)
		} else {
			c.PendingScopes, c.PendingGrants = scope.Union(c.PendingScopes, newS), scope.Union(c.PendingGrants, newG)
		}
		inv := &InvalidError{}
		s.validate(inv, c)
		if err := inv.orNil(); err != nil {
			return "", err
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return "", err
		}
		var err error
		out, err = s.view(ctx, tx, c)
		return strings.Join(append(newS, newG...), " "), err
	})
	return out, err
}

func without(list, drop []string) []string {
	out := []string{}
	for _, v := range list {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

// ---------------------------------------------------------------- review

// admin is change for the review actions: administrators and System only;
// the owner may see the app but not review it.
func (s *Service) admin(ctx context.Context, a Actor, id, kind string, fn func(tx store.Store, c *store.Client) (string, error)) (App, error) {
	var out App
	_, err := s.change(ctx, a, id, kind, func(tx store.Store, c *store.Client, r role) (string, error) {
		if r < roleAdmin {
			return "", ErrForbidden
		}
		detail, err := fn(tx, c)
		if err != nil {
			return "", err
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return "", err
		}
		out, err = s.view(ctx, tx, c)
		return detail, err
	})
	return out, err
}

// Approve approves a pending (or rejected) app and, by default, all its
// pending scopes and grants; ApproveInput narrows which parts. A disabled
// app stays disabled (Enable it). Administrators and System only.
func (s *Service) Approve(ctx context.Context, a Actor, id string, what ApproveInput) (App, error) {
	return s.admin(ctx, a, id, EventApproved, func(_ store.Store, c *store.Client) (string, error) {
		sc, gr := c.PendingScopes, c.PendingGrants
		if what.Scopes != nil || what.Grants != nil {
			sc, gr = intersect(c.PendingScopes, what.Scopes), intersect(c.PendingGrants, what.Grants)
		}
		c.Scopes, c.GrantTypes = scope.Union(c.Scopes, sc), scope.Union(c.GrantTypes, gr)
		c.PendingScopes, c.PendingGrants = without(c.PendingScopes, sc), without(c.PendingGrants, gr)
		if c.Status == store.ClientPending || c.Status == store.ClientRejected {
			c.Status, c.ReviewReason = store.ClientActive, ""
		}
		return strings.Join(append(slices.Clone(sc), gr...), " "), nil
	})
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, v := range a {
		if slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// MaxReasonLen bounds a review reason.
const MaxReasonLen = 1000

func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case required && reason == "":
		return "", &InvalidError{Fields: map[string][]string{"reason": {"a reason is required: the developer sees it"}}}
	case len(reason) > MaxReasonLen:
		return "", &InvalidError{Fields: map[string][]string{"reason": {fmt.Sprintf("at most %d bytes", MaxReasonLen)}}}
	}
	return reason, nil
}

// Reject refuses a pending app with a reason the developer sees. For an app
// that is already active, it refuses the parts awaiting review (they are
// dropped; the approved parts keep working).
func (s *Service) Reject(ctx context.Context, a Actor, id, reason string) (App, error) {
	reason, err := checkReason(reason, true)
	if err != nil {
		return App{}, err
	}
	return s.admin(ctx, a, id, EventRejected, func(_ store.Store, c *store.Client) (string, error) {
		switch c.Status {
		case store.ClientPending:
			c.Status = store.ClientRejected
		case store.ClientActive:
			if len(c.PendingScopes)+len(c.PendingGrants) == 0 {
				return "", &InvalidError{Fields: map[string][]string{"": {"nothing of this app awaits review (disable it instead)"}}}
			}
			c.PendingScopes, c.PendingGrants = []string{}, []string{}
		default:
			return "", &InvalidError{Fields: map[string][]string{"": {"the app is " + c.Status + ": nothing to reject"}}}
		}
		c.ReviewReason = reason
		return reason, nil
	})
}

// Disable stops the app: its live tokens and API keys stop at once (every
// credential validator checks the app's status on each use).
func (s *Service) Disable(ctx context.Context, a Actor, id, reason string) (App, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return App{}, err
	}
	return s.admin(ctx, a, id, EventDisabled, func(_ store.Store, c *store.Client) (string, error) {
		c.Status, c.ReviewReason = store.ClientDisabled, reason
		return reason, nil
	})
}

// Enable re-enables a disabled app. For a pending or rejected app it is
// Approve of everything (the command line's `client enable` always meant
// "re-enable or approve").
func (s *Service) Enable(ctx context.Context, a Actor, id string) (App, error) {
	return s.admin(ctx, a, id, EventEnabled, func(_ store.Store, c *store.Client) (string, error) {
		if c.Status != store.ClientDisabled {
			c.Scopes, c.GrantTypes = scope.Union(c.Scopes, c.PendingScopes), scope.Union(c.GrantTypes, c.PendingGrants)
			c.PendingScopes, c.PendingGrants = []string{}, []string{}
		}
		c.Status, c.ReviewReason = store.ClientActive, ""
		return "", nil
	})
}

// ---------------------------------------------------------------- secrets

// RotateSecret adds a new secret while the current one keeps working; the
// older live secret retires after Config.SecretRetireAfter unless retired
// sooner (RetireSecret). At most MaxLiveSecrets live secrets: rotating
// again before the old one retired answers ErrTooManySecrets. Minting a
// secret needs Actor.InPerson.
func (s *Service) RotateSecret(ctx context.Context, a Actor, id string) (string, SecretInfo, error) {
	if !a.InPerson {
		// Checked after the app is found, below, too; here so a bearer
		// token learns nothing more than it could from Get.
		if _, err := s.Get(ctx, a, id); err != nil {
			return "", SecretInfo{}, err
		}
		return "", SecretInfo{}, ErrNeedsInPerson
	}
	var (
		secret string
		info   SecretInfo
	)
	_, err := s.change(ctx, a, id, EventSecretRotated, func(tx store.Store, c *store.Client, _ role) (string, error) {
		if c.Type != store.ClientConfidential {
			return "", &InvalidError{Fields: map[string][]string{"": {"this app is public (single-page or native): it has no secret"}}}
		}
		now := s.now()
		secs, err := tx.ClientSecrets(ctx, c.ID)
		if err != nil {
			return "", err
		}
		var liveSecs []store.ClientSecret
		for _, sec := range secs {
			if live(sec, now) {
				liveSecs = append(liveSecs, sec)
			}
		}
		if len(liveSecs) >= MaxLiveSecrets {
			return "", ErrTooManySecrets
		}
		retire := now.Add(s.cfg.SecretRetireAfter)
		for _, sec := range liveSecs {
			if sec.ExpiresAt == nil || sec.ExpiresAt.After(retire) {
				if err := tx.SetClientSecretExpiry(ctx, c.ID, sec.ID, &retire); err != nil {
					return "", err
				}
			}
		}
		var sec store.ClientSecret
		if secret, sec, err = s.newSecret(c.ID, now); err != nil {
			return "", err
		}
		if err := tx.AddClientSecret(ctx, &sec); err != nil {
			return "", err
		}
		info = SecretInfo{ID: sec.ID, Created: sec.CreatedAt}
		return sec.ID, nil
	})
	if err != nil {
		return "", SecretInfo{}, err
	}
	return secret, info, nil
}

// RetireSecret stops one secret at once. The app's last live secret cannot
// be retired (rotate first): the app would be locked out.
func (s *Service) RetireSecret(ctx context.Context, a Actor, id, secretID string) error {
	_, err := s.change(ctx, a, id, EventSecretRetired, func(tx store.Store, c *store.Client, _ role) (string, error) {
		now := s.now()
		secs, err := tx.ClientSecrets(ctx, c.ID)
		if err != nil {
			return "", err
		}
		found, others := false, 0
		for _, sec := range secs {
			switch {
			case sec.ID == secretID:
				found = true
			case live(sec, now):
				others++
			}
		}
		if !found {
			return "", ErrNotFound
		}
		if others == 0 {
			return "", &InvalidError{Fields: map[string][]string{"secret": {"this is the app's only live secret: rotate first, then retire it"}}}
		}
		return secretID, tx.DeleteClientSecret(ctx, c.ID, secretID)
	})
	return err
}

// ---------------------------------------------------------------- delete

// Delete removes the app and, with it, every token, grant, code, consent,
// secret, logo and API key of it (the store cascades in one statement, so
// they stop at once).
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	_, err := s.change(ctx, a, id, EventDeleted, func(tx store.Store, c *store.Client, _ role) (string, error) {
		return c.Name, tx.DeleteClient(ctx, c.ID)
	})
	return err
}

// ---------------------------------------------------------------- API keys

func (s *Service) keyActor(a Actor) apikey.Actor {
	return apikey.Actor{UserID: a.UserID, System: a.System}
}

func mapKeyErr(err error) error {
	if errors.Is(err, apikey.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// CreateAPIKey issues an API key for the app through the API key service
// (its rules: scopes, lifetime, CIDRs, cap). Needs Actor.InPerson.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, in APIKeyInput) (*apikey.Created, error) {
	if s.cfg.APIKeys == nil {
		return nil, ErrNotFound
	}
	if _, err := s.Get(ctx, a, in.ClientID); err != nil {
		return nil, err
	}
	if !a.InPerson {
		return nil, ErrNeedsInPerson
	}
	k, err := s.cfg.APIKeys.Create(ctx, s.keyActor(a), in)
	if err != nil {
		return nil, mapKeyErr(err)
	}
	return k, s.emitOutside(ctx, Event{Kind: EventAPIKeyCreated, Actor: a, AppID: in.ClientID, At: s.now(), Detail: k.Key.ID})
}

// ListAPIKeys lists the app's live API keys.
func (s *Service) ListAPIKeys(ctx context.Context, a Actor, id string) ([]store.APIKey, error) {
	if s.cfg.APIKeys == nil {
		return nil, ErrNotFound
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	keys, err := s.cfg.APIKeys.List(ctx, s.keyActor(a), id)
	return keys, mapKeyErr(err)
}

// RevokeAPIKey revokes one of the app's API keys.
func (s *Service) RevokeAPIKey(ctx context.Context, a Actor, id, keyID string) error {
	if s.cfg.APIKeys == nil {
		return ErrNotFound
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return err
	}
	if err := s.cfg.APIKeys.Revoke(ctx, s.keyActor(a), id, keyID); err != nil {
		return mapKeyErr(err)
	}
	return s.emitOutside(ctx, Event{Kind: EventAPIKeyRevoked, Actor: a, AppID: id, At: s.now(), Detail: keyID})
}

// emitOutside reports a change the API key service made in its own
// transaction.
// TODO(apikey): let apikey.Service run inside a caller's transaction so
// the event commits with the key.
func (s *Service) emitOutside(ctx context.Context, ev Event) error {
	if s.cfg.OnChange == nil {
		return nil
	}
	return s.cfg.Store.InTx(ctx, func(tx store.Store) error { return s.emit(ctx, tx, ev) })
}

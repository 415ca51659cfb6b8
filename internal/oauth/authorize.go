package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Limits on free-form authorization request parameters.
const (
	maxStateLen = 1024
	maxNonceLen = 512
	// MaxParamLen caps every protocol parameter Gatehouse reads at the
	// authorization, token, introspection and revocation endpoints; the
	// longest legitimate ones (redirect URIs, scope lists) are far shorter.
	MaxParamLen = 4096
)

// Prompt values (OpenID Connect Core §3.1.2.1), honoured for plain OAuth too.
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
	// PromptSelectAccount: "The Authorization Server SHOULD prompt the
	// End-User to select a user account." Gatehouse shows the sign-in page,
	// where another account can be signed in.
	PromptSelectAccount = "select_account"
)

// AuthorizeRequest is an authorization request as received, before any check.
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scope               string
	ScopeSent           bool
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	Nonce               string
	// OpenID Connect Core §3.1.2.1 parameters.
	MaxAge      string
	LoginHint   string
	IDTokenHint string
	// Intention "signup" sends a signed-out user to sign-up instead of
	// sign-in (seed 004).
	Intention string
	// Resources are the RFC 8707 resource parameters, which may repeat
	// ("Multiple "resource" parameters MAY be used").
	Resources []string
	// Repeated lists the parameters that appeared more than once. RFC 6749
	// §3.1: "Request and response parameters MUST NOT be included more than
	// once."
	Repeated []string
	// Invalid lists the parameters whose value is not acceptable text
	// (safetext.Check: invalid UTF-8, control characters, longer than
	// MaxParamLen). They are refused before anything is looked up or
	// written.
	Invalid []string
}

// authorizeParams are the parameters ParseAuthorizeRequest reads.
var authorizeParams = []string{
	"client_id", "redirect_uri", "response_type", "scope", "state",
	"code_challenge", "code_challenge_method", "prompt", "nonce", "intention",
	"max_age", "login_hint", "id_token_hint",
}

// ParseAuthorizeRequest reads an authorization request from query or form
// values.
func ParseAuthorizeRequest(v url.Values) AuthorizeRequest {
	r := AuthorizeRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), ResponseType: v.Get("response_type"),
		Scope: v.Get("scope"), State: v.Get("state"), CodeChallenge: v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"), Prompt: v.Get("prompt"), Nonce: v.Get("nonce"),
		Intention: v.Get("intention"), Resources: v["resource"],
		MaxAge: v.Get("max_age"), LoginHint: v.Get("login_hint"), IDTokenHint: v.Get("id_token_hint"),
	}
	_, r.ScopeSent = v["scope"]
	for _, p := range authorizeParams {
		if len(v[p]) > 1 {
			r.Repeated = append(r.Repeated, p)
		}
		if safetext.Params(v, MaxParamLen, p) != nil {
			r.Invalid = append(r.Invalid, p)
		}
	}
	return r
}

// Values returns the request as parameters again (the consent form carries
// them back, and the sign-in page returns to them).
func (r AuthorizeRequest) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("client_id", r.ClientID)
	set("redirect_uri", r.RedirectURI)
	set("response_type", r.ResponseType)
	if r.ScopeSent {
		v.Set("scope", r.Scope)
	}
	set("state", r.State)
	set("code_challenge", r.CodeChallenge)
	set("code_challenge_method", r.CodeChallengeMethod)
	set("prompt", r.Prompt)
	set("nonce", r.Nonce)
	set("intention", r.Intention)
	set("max_age", r.MaxAge)
	set("login_hint", r.LoginHint)
	set("id_token_hint", r.IDTokenHint)
	if len(r.Resources) > 0 {
		v["resource"] = slices.Clone(r.Resources)
	}
	return v
}

// Authorization is a validated authorization request.
type Authorization struct {
	Request AuthorizeRequest
	Client  *store.Client
	// RedirectURI is where the response goes (the requested URI, or the only
	// registered one when the request named none).
	RedirectURI string
	Mode        ResponseMode
	State       string
	// Set only once the request is valid beyond client and redirect URI:
	ResponseType        string
	Scopes              []string
	Audience            []string // the requested resources (nil: none)
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	Nonce               string
	Signup              bool
	// MaxAge is max_age (OpenID Connect Core §3.1.2.1), when HasMaxAge.
	MaxAge    time.Duration
	HasMaxAge bool
	// HintSubject is the subject of a valid id_token_hint ("" when none),
	// as the client was shown it: pairwise for a pairwise client.
	HintSubject string
}

// HasPrompt reports whether prompt value p was requested.
func (a *Authorization) HasPrompt(p string) bool { return slices.Contains(a.Prompt, p) }

// PageError is an authorization error that must NOT be redirected: RFC 6749
// §4.1.2.1 "If the request fails due to a missing, invalid, or mismatching
// redirection URI, or if the client identifier is missing or invalid, the
// authorization server SHOULD inform the resource owner of the error and
// MUST NOT automatically redirect the user-agent to the invalid redirection
// URI." The handler shows an error page.
type PageError struct{ Err *Error }

func (e *PageError) Error() string { return e.Err.Error() }
func (e *PageError) Unwrap() error { return e.Err }

func pageError(e *Error) *PageError { return &PageError{Err: e} }

// ValidateAuthorize checks an authorization request. It returns a
// *PageError (show a page, never redirect) while the client and redirect URI
// are not established; after that, the Authorization (with RedirectURI, Mode
// and State set) comes back together with any *Error, which the handler
// redirects to the client.
func (s *Service) ValidateAuthorize(ctx context.Context, req AuthorizeRequest) (*Authorization, error) {
	// 1. Client and redirect URI: errors here are shown, never redirected.
	if slices.Contains(req.Repeated, "client_id") {
		return nil, pageError(ErrInvalidRequest("client_id is included more than once"))
	}
	if req.ClientID == "" {
		return nil, pageError(ErrInvalidRequest("client_id is missing"))
	}
	if slices.Contains(req.Invalid, "client_id") {
		// Never looked up: PostgreSQL would refuse the text outright.
		return nil, pageError(ErrInvalidRequest("client_id is not valid text"))
	}
	c, err := s.st.ClientByID(ctx, req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		// The id is not echoed: the page must not display attacker-chosen text.
		return nil, pageError(ErrInvalidClient("unknown client_id"))
	}
	if err != nil {
		return nil, pageError(ErrServerError(err))
	}
	if c.Status == store.ClientDisabled {
		// The operator stopped trusting a disabled app, its redirect URI
		// included: the user is not sent back to it.
		return nil, pageError(ErrUnauthorizedClient("this application is disabled and cannot ask for access"))
	}
	if slices.Contains(req.Repeated, "redirect_uri") {
		return nil, pageError(ErrInvalidRequest("redirect_uri is included more than once"))
	}
	if slices.Contains(req.Invalid, "redirect_uri") {
		return nil, pageError(ErrInvalidRequest("redirect_uri is not valid text"))
	}
	redirect, rerr := ResolveRedirectURI(c.RedirectURIs, req.RedirectURI)
	if rerr != nil {
		return nil, pageError(ErrInvalidRequest("%v", rerr))
	}

	// 2. From here on errors are redirected to the client.
	a := &Authorization{Request: req, Client: c, RedirectURI: redirect, Mode: ModeQuery, State: req.State}
	rt := normalizeResponseType(req.ResponseType)
	if rt == "token" || rt == ResponseCodeIDToken || rt == ResponseIDTokenToken {
		// RFC 6749 §4.2.2.1: implicit errors are added "to the fragment
		// component of the redirection URI". OAuth 2.0 Multiple Response
		// Type Encoding Practices §5: "the default Response Mode for this
		// Response Type is the fragment encoding" (code id_token, id_token
		// token).
		a.Mode = ModeFragment
	}
	if len(req.State) > maxStateLen || slices.Contains(req.Repeated, "state") || slices.Contains(req.Invalid, "state") {
		a.State = ""
	}
	if err := reviewError(c); err != nil {
		// RFC 6749 §4.1.2.1: only "due to a missing, invalid, or mismatching
		// redirection URI, or if the client identifier is missing or
		// invalid" must the server not redirect. This client is identified
		// and the redirect URI is one the developer registered, so the
		// developer's app is told, with "unauthorized_client: The client is
		// not authorized to request an authorization code using this
		// method", and can show its user why.
		return a, err
	}
	if len(req.Repeated) > 0 {
		return a, ErrInvalidRequest("%s is included more than once (RFC 6749 §3.1)", strings.Join(req.Repeated, ", "))
	}
	// The client and redirect URI are trusted now, so the rest is
	// redirected: RFC 6749 §4.1.2.1 "invalid_request: The request ...
	// includes an invalid parameter value". Checked before anything is
	// written, so a refused request leaves no grant behind.
	if len(req.Invalid) > 0 {
		return a, ErrInvalidRequest("%s is not valid text (UTF-8 without control characters, at most %d bytes)", strings.Join(req.Invalid, ", "), MaxParamLen)
	}
	switch rt {
	case "":
		return a, ErrInvalidRequest("response_type is missing")
	case ResponseCodeIDToken:
		// The hybrid flow hands out an ID token at the authorization
		// endpoint: it needs the code grant and the client's explicit
		// opt-in to front-channel tokens (the implicit grant).
		if !hasGrantType(c, GrantAuthorizationCode) || !hasGrantType(c, GrantImplicit) {
			return a, ErrUnauthorizedClient("this client is not allowed the hybrid flow (response_type=code id_token needs the authorization_code and implicit grants)")
		}
	case ResponseIDTokenToken:
		if !hasGrantType(c, GrantImplicit) {
			return a, ErrUnauthorizedClient("this client is not allowed the implicit grant (response_type=id_token token)")
		}
	case "code":
		if !hasGrantType(c, GrantAuthorizationCode) {
			return a, ErrUnauthorizedClient("this client is not allowed the authorization code grant")
		}
	case "token":
		if !hasGrantType(c, GrantImplicit) {
			return a, ErrUnauthorizedClient("this client is not allowed the implicit grant (response_type=token)")
		}
	default:
		return a, ErrUnsupportedResponseType("response_type %q is not supported; use code", req.ResponseType)
	}
	a.ResponseType = rt
	// Seed 004: state is required — "An unguessable, cryptographically
	// secure random string used to protect against cross-site request
	// forgery attacks."
	if req.State == "" {
		return a, ErrInvalidRequest("state is required: send an unguessable random value and check it on the redirect")
	}
	if len(req.State) > maxStateLen {
		return a, ErrInvalidRequest("state is longer than %d characters", maxStateLen)
	}
	// RFC 6749 §3.3: "If the client omits the scope parameter when
	// requesting authorization, the authorization server MUST either process
	// the request using a pre-defined default value or fail the request
	// indicating an invalid scope." We fail it: scope is required.
	scopes, perr := scope.Parse(req.Scope)
	if perr != nil {
		return a, ErrInvalidScope("%v", perr)
	}
	if len(scopes) == 0 {
		return a, ErrInvalidScope("scope is required (space-separated, e.g. %q)", scope.ProfileRead)
	}
	cat := s.catalog()
	if e := checkScopes(cat, scopes, c.Scopes); e != nil {
		return a, e
	}
	// What a user grants here goes to a third-party app: never a scope that
	// manages credentials, nor one the operator keeps from delegation.
	if e := checkDelegable(cat, scopes); e != nil {
		return a, e
	}
	aud, e := s.resolveResources(req.Resources, nil)
	if e != nil {
		return a, e
	}
	if e := s.checkAudienceScopes(scopes, aud); e != nil {
		return a, e
	}
	a.Scopes, a.Audience = scopes, aud
	if rt == "code" || rt == ResponseCodeIDToken {
		switch {
		case req.CodeChallenge != "" || req.CodeChallengeMethod != "":
			if err := ValidateCodeChallenge(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
				return a, ErrInvalidRequest("%v (RFC 7636)", err)
			}
		case c.Type == store.ClientPublic:
			// RFC 9700 §2.1.1: "public clients MUST use PKCE".
			return a, ErrInvalidRequest("PKCE is required for public clients: send code_challenge with code_challenge_method=S256 (RFC 7636)")
		}
		a.CodeChallenge, a.CodeChallengeMethod = req.CodeChallenge, req.CodeChallengeMethod
	}
	prompt, perr2 := parsePrompt(req.Prompt)
	if perr2 != nil {
		return a, ErrInvalidRequest("%v", perr2)
	}
	a.Prompt = prompt
	if len(req.Nonce) > maxNonceLen {
		return a, ErrInvalidRequest("nonce is longer than %d characters", maxNonceLen)
	}
	a.Nonce = req.Nonce
	if rt == ResponseCodeIDToken || rt == ResponseIDTokenToken {
		// OpenID Connect Core §3.2.2.1 / §3.3.2.11: with an ID token from
		// the authorization endpoint, "nonce: REQUIRED", and the openid
		// scope makes it an OpenID Connect request at all.
		if !isOIDC(scopes) {
			return a, ErrInvalidScope("response_type %q needs the openid scope", rt)
		}
		if req.Nonce == "" {
			return a, ErrInvalidRequest("nonce is required with response_type %q", rt)
		}
		if s.signer == nil {
			return a, ErrUnsupportedResponseType("ID tokens are not available: no signing keys")
		}
	}
	a.Signup = req.Intention == "signup"
	if req.MaxAge != "" {
		// §3.1.2.1 max_age: "Maximum Authentication Age. Specifies the
		// allowable elapsed time in seconds since the last time the End-User
		// was actively authenticated".
		n, err := strconv.ParseInt(req.MaxAge, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return a, ErrInvalidRequest("max_age must be a number of seconds")
		}
		a.MaxAge, a.HasMaxAge = time.Duration(n)*time.Second, true
	}
	if req.IDTokenHint != "" {
		sub, aud, err := s.HintSubject(ctx, req.IDTokenHint)
		if err != nil || !slices.Contains(aud, c.ID) {
			return a, ErrInvalidRequest("id_token_hint is not an ID token this server issued to this client")
		}
		a.HintSubject = sub
	}
	return a, nil
}

// parsePrompt splits prompt (OpenID Connect Core §3.1.2.1: "Space delimited,
// case sensitive list of ASCII string values"). "If this parameter contains
// none with any other value, an error is returned."
func parsePrompt(s string) ([]string, error) {
	var out []string
	for p := range strings.FieldsSeq(s) {
		switch p {
		case PromptNone, PromptLogin, PromptConsent:
		case PromptSelectAccount:
			// One account per browser: the account is "selected" by
			// signing in as it, which prompt=login offers.
		default:
			return nil, fmt.Errorf("prompt %q is not supported (none, login, consent, select_account)", p)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if slices.Contains(out, PromptNone) && len(out) > 1 {
		return nil, errors.New("prompt=none cannot be combined with other values")
	}
	return out, nil
}

// NeedsLogin reports whether the user must (re)authenticate first:
// prompt=login asks for a sign-in that is fresh. authTime is when the
// session's user signed in.
func (s *Service) NeedsLogin(a *Authorization, authTime time.Time) bool {
	age := s.time().Sub(authTime)
	if a.HasMaxAge && age > max(a.MaxAge, s.loginAge) {
		// §3.1.2.1 max_age: "If the elapsed time is greater than this
		// value, the OP MUST attempt to actively re-authenticate the
		// End-User." A sign-in within the prompt=login window counts as
		// the re-authentication (the browser comes back from it a moment
		// later), so a max_age shorter than that window acts like it —
		// §3.1.2.1 itself makes max_age=0 "equivalent to prompt=login".
		return true
	}
	return (a.HasPrompt(PromptLogin) || a.HasPrompt(PromptSelectAccount)) && age > s.loginAge
}

// NeedsConsent reports whether the consent page must be shown: always with
// prompt=consent, otherwise unless the user already allowed this client at
// least the requested scopes ("a later request for the same or fewer scopes
// skips the page").
func (s *Service) NeedsConsent(ctx context.Context, userID string, a *Authorization) (bool, error) {
	if a.HasPrompt(PromptConsent) {
		return true, nil
	}
	c, err := s.st.Consent(ctx, userID, a.Client.ID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !scope.Subset(a.Scopes, c.Scopes), nil
}

// ConsentView is what the consent page shows about a request.
type ConsentView struct {
	ClientID, ClientName, ClientDescription string
	// HomepageURL, PrivacyURL and TermsURL are the links the developer
	// registered; LogoURL is the logo Gatehouse stores and serves itself
	// (never a hot-linked image). Each is "" when there is none. The
	// developer's personal details (their email) are never shown: people
	// decide on the app, and the address would be harvested.
	HomepageURL, PrivacyURL, TermsURL, LogoURL string
	// Reviewed: the operator approved the app after review. Unreviewed:
	// the app is live without review (a sandbox approves on registration),
	// so the page warns.
	Reviewed, Unreviewed bool
	// Groups are the requested scopes under their consent-page headings,
	// sensitive ones first (scope.Catalog.Groups).
	Groups       []scope.Group
	RedirectHost string
	// Fields are the authorization request parameters the form posts back.
	Fields url.Values
}

// rememberConsent adds scopes to what the user allowed the client. Read,
// merge and write run in one transaction after locking the user's row, so
// two approvals of different scopes at once (two tabs, two replicas) end with
// the union rather than whichever wrote last.
func (s *Service) rememberConsent(ctx context.Context, userID, clientID string, scopes []string, now time.Time) error {
	return s.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		merged := scopes
		prev, err := tx.Consent(ctx, userID, clientID)
		switch {
		case err == nil:
			merged = scope.Union(prev.Scopes, scopes)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.UpsertConsent(ctx, &store.Consent{UserID: userID, ClientID: clientID, Scopes: merged, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return s.emit(ctx, tx, Event{Kind: EventAuthorizationGranted, ClientID: clientID, UserID: userID, Scopes: merged})
	})
}

// DescribeConsent gathers what the consent page shows.
func (s *Service) DescribeConsent(ctx context.Context, a *Authorization) (*ConsentView, error) {
	cat := s.catalog()
	v := &ConsentView{
		ClientID: a.Client.ID, ClientName: a.Client.Name, ClientDescription: a.Client.Description,
		// ValidateAuthorize admits delegable scopes only; filtering again keeps
		// a credential-management sentence off the consent page whatever the
		// caller passes.
		Groups: cat.Groups(cat.Delegable(a.Scopes)), Fields: a.Request.Values(),
	}
	if u, err := url.Parse(a.RedirectURI); err == nil {
		v.RedirectHost = u.Host
	}
	describeApp(v, a.Client)
	return v, nil
}

// Approve records consent (when the user just gave it on the consent page)
// and issues the authorization response: a code (response_type=code) or an
// access token (response_type=token). It returns the URL to redirect the user
// agent to. Every successful response carries iss — RFC 9207 §2: "Authorization
// servers supporting this specification MUST provide their issuer identifier
// to clients in the iss parameter in authorization responses".
func (s *Service) Approve(ctx context.Context, a *Authorization, userID string, authTime time.Time, consented bool) (string, error) {
	now := s.time()
	if consented {
		if err := s.rememberConsent(ctx, userID, a.Client.ID, a.Scopes, now); err != nil {
			return "", ErrServerError(err)
		}
	}
	grantID, err := s.newID()
	if err != nil {
		return "", ErrServerError(err)
	}
	g := &store.Grant{ID: grantID, ClientID: a.Client.ID, UserID: userID, Scopes: a.Scopes, Audience: a.Audience, CreatedAt: now}
	if err := s.st.CreateGrant(ctx, g); err != nil {
		return "", ErrServerError(err)
	}
	// CreateGrant was one statement; the entry follows in its own transaction.
	s.audit.RecordAfter(ctx, audit.Entry{Type: audit.AuthorizationGranted, ActorKind: store.ActorUser, ActorID: userID, Subject: userID,
		Details: map[string]any{"client_id": a.Client.ID, "grant_id": grantID, "scopes": a.Scopes, "response_type": a.ResponseType}})
	if isOIDC(a.Scopes) {
		u, err := s.st.UserByID(ctx, userID)
		if err != nil {
			return "", ErrServerError(err)
		}
		if err := s.recordSignIn(ctx, grantID, u, authTime, a.Nonce); err != nil {
			return "", ErrServerError(err)
		}
	}
	p := url.Values{}
	switch a.ResponseType {
	case "code":
		// RFC 6749 §10.10: "The probability of an attacker guessing generated
		// tokens (and other credentials not intended for handling by
		// end-users) MUST be less than or equal to 2^(-128)" — codes carry
		// 256 random bits.
		code, hash, err := s.newSecret(credential.AuthCode)
		if err != nil {
			return "", ErrServerError(err)
		}
		ac := &store.AuthCode{
			Hash: hash, GrantID: grantID, ClientID: a.Client.ID, UserID: userID,
			RedirectURI: a.Request.RedirectURI, Scopes: a.Scopes, Audience: a.Audience,
			CodeChallenge: a.CodeChallenge, CodeChallengeMethod: a.CodeChallengeMethod, Nonce: a.Nonce,
			AuthTime: authTime.UTC().Truncate(time.Millisecond), CreatedAt: now, ExpiresAt: now.Add(s.codeTTL),
		}
		if err := s.st.CreateAuthCode(ctx, ac); err != nil {
			return "", ErrServerError(err)
		}
		p.Set("code", code)
	case ResponseCodeIDToken:
		code, hash, err := s.newSecret(credential.AuthCode)
		if err != nil {
			return "", ErrServerError(err)
		}
		ac := &store.AuthCode{
			Hash: hash, GrantID: grantID, ClientID: a.Client.ID, UserID: userID,
			RedirectURI: a.Request.RedirectURI, Scopes: a.Scopes, Audience: a.Audience,
			CodeChallenge: a.CodeChallenge, CodeChallengeMethod: a.CodeChallengeMethod, Nonce: a.Nonce,
			AuthTime: authTime.UTC().Truncate(time.Millisecond), CreatedAt: now, ExpiresAt: now.Add(s.codeTTL),
		}
		// OpenID Connect Core §3.3.2.11: "c_hash: Code hash value. ...
		// REQUIRED" when the ID token is issued with a code.
		idt, err := s.mintIDToken(ctx, idTokenParams{client: a.Client, userID: userID, grantID: grantID, scopes: a.Scopes, code: code, withNonce: true, now: now})
		if err != nil {
			return "", ErrServerError(err)
		}
		if err := s.st.CreateAuthCode(ctx, ac); err != nil {
			return "", ErrServerError(err)
		}
		p.Set("code", code)
		p.Set("id_token", idt)
	case ResponseIDTokenToken:
		// §3.2.2.5: "access_token ... token_type ... id_token ... state
		// ... expires_in"; no refresh token from the authorization
		// endpoint (RFC 6749 §4.2.2).
		ttl := s.accessTTLFor(a.Client)
		access, err := s.mint(credential.AccessToken, a.Client, userID, grantID, a.Scopes, a.Audience, now, ttl)
		if err != nil {
			return "", ErrServerError(err)
		}
		idt, err := s.mintIDToken(ctx, idTokenParams{client: a.Client, userID: userID, grantID: grantID, scopes: a.Scopes, accessToken: access.secret, withNonce: true, now: now})
		if err != nil {
			return "", ErrServerError(err)
		}
		if err := s.st.CreateTokens(ctx, access.record); err != nil {
			return "", ErrServerError(err)
		}
		p.Set("access_token", access.secret)
		p.Set("token_type", "Bearer")
		p.Set("expires_in", strconv.FormatInt(int64(ttl/time.Second), 10))
		p.Set("scope", scope.Format(a.Scopes))
		p.Set("id_token", idt)
	case "token":
		// RFC 6749 §4.2.2: "The authorization server MUST NOT issue a refresh
		// token."
		ttl := s.accessTTLFor(a.Client)
		access, err := s.mint(credential.AccessToken, a.Client, userID, grantID, a.Scopes, a.Audience, now, ttl)
		if err != nil {
			return "", ErrServerError(err)
		}
		if err := s.st.CreateTokens(ctx, access.record); err != nil {
			return "", ErrServerError(err)
		}
		p.Set("access_token", access.secret)
		p.Set("token_type", "Bearer")
		p.Set("expires_in", strconv.FormatInt(int64(access.ttl/time.Second), 10))
		p.Set("scope", scope.Format(a.Scopes))
	default:
		return "", ErrServerError(fmt.Errorf("approve: response_type %q", a.ResponseType))
	}
	p.Set("state", a.State)
	p.Set("iss", s.issuer)
	return buildRedirect(a.RedirectURI, a.Mode, p), nil
}

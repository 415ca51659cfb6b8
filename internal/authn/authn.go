package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/store"
)

// BearerValidator validates one kind of bearer token. The OAuth, PAT and API
// key areas each register one with RegisterBearer.
//
// Return (principal, nil) for a good token. For a token that is unknown,
// expired, revoked, or not usable here, return an error for which
// errors.Is(err, ErrInvalidToken) holds (InvalidToken("…") builds one with a
// description safe to show the client; store.ErrNotFound is accepted too).
// Any other error is an internal failure: it is logged and answered 500.
type BearerValidator interface {
	ValidateBearer(ctx context.Context, token string, r *http.Request) (*Principal, error)
}

// BearerFunc adapts a function to BearerValidator.
type BearerFunc func(ctx context.Context, token string, r *http.Request) (*Principal, error)

// ValidateBearer implements BearerValidator.
func (f BearerFunc) ValidateBearer(ctx context.Context, token string, r *http.Request) (*Principal, error) {
	return f(ctx, token, r)
}

// ErrInvalidToken is the error validators return (or wrap) for a bad token.
var ErrInvalidToken = errors.New("invalid_token")

// TokenError is an invalid-token error with a description for the client.
type TokenError struct{ Description string }

func (e *TokenError) Error() string        { return "invalid_token: " + e.Description }
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// InvalidToken returns an ErrInvalidToken with a description that is safe to
// send to the client (RFC 6750 error_description).
func InvalidToken(description string) error { return &TokenError{Description: description} }

// PasswordAuthenticator checks Basic email:password plus the OTP-Token
// header. *identity.Service implements it.
type PasswordAuthenticator interface {
	AuthenticateBasic(ctx context.Context, email, password, otp, ip string) (*store.User, error)
}

// Basic-auth policies (config basic_auth).
const (
	// BasicEverywhere accepts Basic email:password on every API route that
	// allows it (the default, as seed 004 shows for GET /v0/me).
	BasicEverywhere = "all"
	// BasicCredentialsOnly accepts it only on routes marked
	// CredentialManagement (creating PATs and the like).
	BasicCredentialsOnly = "credentials"
)

// Config configures the Authenticator.
type Config struct {
	// Issuer is the server's public base URL. HTTP Basic with a password is
	// refused unless it is https://, or http:// on a loopback host.
	Issuer string
	// Realm is the challenge realm (default "gatehouse").
	Realm string
	// BasicAuth is BasicEverywhere (default) or BasicCredentialsOnly.
	BasicAuth string
	// ClientIP returns the client address used for throttling (default: the
	// client address as internal/clientaddr resolved it).
	ClientIP func(*http.Request) string
	// CredentialEnv is the credential label of this deployment
	// (credential.EnvLabel of the `environment` setting; "" production).
	CredentialEnv string
	// Audit records uses of revoked credentials (RevokedError); nil: not
	// recorded.
	Audit *audit.Log
	// Now is the clock that spaces those entries (default time.Now).
	Now func() time.Time
}

// Authenticator is the API authentication middleware.
type Authenticator struct {
	cfg          Config
	passwords    PasswordAuthenticator
	log          *slog.Logger
	basicAllowed bool // Issuer is HTTPS or loopback

	mu       sync.RWMutex
	bearers  map[credential.Kind]BearerValidator
	fallback BearerValidator

	revoked revokedUses // when each revoked credential's use was last audited
}

// New builds the Authenticator. passwords may be nil (Basic then always
// fails).
func New(cfg Config, passwords PasswordAuthenticator, log *slog.Logger) (*Authenticator, error) {
	if cfg.Realm == "" {
		cfg.Realm = "gatehouse"
	}
	if cfg.BasicAuth == "" {
		cfg.BasicAuth = BasicEverywhere
	}
	if cfg.BasicAuth != BasicEverywhere && cfg.BasicAuth != BasicCredentialsOnly {
		return nil, fmt.Errorf("authn: basic_auth must be %q or %q", BasicEverywhere, BasicCredentialsOnly)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = RemoteIP
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("authn: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	return &Authenticator{
		cfg: cfg, passwords: passwords, log: log,
		basicAllowed: u.Scheme == "https" || IsLoopbackHost(u.Hostname()),
		bearers:      map[credential.Kind]BearerValidator{},
	}, nil
}

// RegisterBearer routes bearer tokens of credential kind k (credential.Parse)
// to v. Register during start-up, before serving.
func (a *Authenticator) RegisterBearer(k credential.Kind, v BearerValidator) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bearers[k] = v
}

// RegisterFallback handles bearer tokens that are not Gatehouse credentials
// (for example JWT access tokens). Without one they are invalid_token.
func (a *Authenticator) RegisterFallback(v BearerValidator) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fallback = v
}

// RemoteIP is the request's client address as the resolver
// (internal/clientaddr) decided it; "" when there is none.
func RemoteIP(r *http.Request) string {
	if a := clientaddr.Of(r); a.IsValid() {
		return a.String()
	}
	return ""
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Option tunes one protected route.
type Option func(*routeOpts)

type routeOpts struct {
	credentialManagement bool
	noBasic              bool
	inPerson             bool
}

// CredentialManagement marks a route that manages credentials (creating or
// listing PATs, API keys): Basic email:password is accepted there even when
// the basic_auth setting restricts it to such routes.
func CredentialManagement() Option { return func(o *routeOpts) { o.credentialManagement = true } }

// NoBasic refuses password authentication on the route (tokens only).
func NoBasic() Option { return func(o *routeOpts) { o.noBasic = true } }

// OwnerInPerson marks a route that mints a credential (creating a PAT or an
// API key): only the account owner in person passes (InPerson), so a bearer
// credential of any kind is answered 401 password_required with a Basic
// challenge. It implies CredentialManagement.
func OwnerInPerson() Option {
	return func(o *routeOpts) { o.inPerson, o.credentialManagement = true, true }
}

// Require returns middleware that lets a request through only when it
// authenticates and carries scope ("" for any authenticated principal). The
// Principal is in the request context (FromContext).
func (a *Authenticator) Require(scope string, opts ...Option) func(http.Handler) http.Handler {
	var o routeOpts
	for _, f := range opts {
		f(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := a.authenticate(w, r, scope, o)
			if !ok {
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// Authenticate is Require for handlers that check inline: it writes the
// error response and returns false when the request may not proceed.
func (a *Authenticator) Authenticate(w http.ResponseWriter, r *http.Request, scope string, opts ...Option) (*Principal, bool) {
	var o routeOpts
	for _, f := range opts {
		f(&o)
	}
	return a.authenticate(w, r, scope, o)
}

func (a *Authenticator) basicOnRoute(o routeOpts) bool {
	if o.noBasic || a.passwords == nil {
		return false
	}
	return a.cfg.BasicAuth == BasicEverywhere || o.credentialManagement
}

func (a *Authenticator) authenticate(w http.ResponseWriter, r *http.Request, scope string, o routeOpts) (*Principal, bool) {
	basicHere := a.basicOnRoute(o)
	// RFC 6750 §2.3 allows the token in the URI query and §2.2 in a form
	// body; we refuse both: URLs end up in logs, browser history and
	// Referer headers (seed 004).
	if r.URL.Query().Has("access_token") {
		a.invalidRequest(w, "Send the access token in the Authorization header (Authorization: Bearer <token>); tokens in the URL are refused because URLs leak into logs, history and Referer headers.")
		return nil, false
	}
	if isForm(r) {
		if err := r.ParseForm(); err == nil && r.PostForm.Has("access_token") {
			a.invalidRequest(w, "Send the access token in the Authorization header (Authorization: Bearer <token>); tokens in the request body are refused.")
			return nil, false
		}
	}
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		a.invalidRequest(w, "Send exactly one Authorization header.")
		return nil, false
	}
	if len(authz) == 0 || strings.TrimSpace(authz[0]) == "" {
		a.challenge(w, basicHere, http.StatusUnauthorized, "", "Authentication required: send Authorization: Bearer <token>"+basicHint(basicHere)+".")
		return nil, false
	}
	schemeName, cred, _ := strings.Cut(strings.TrimSpace(authz[0]), " ")
	cred = strings.TrimSpace(cred)
	var (
		p  *Principal
		ok bool
	)
	switch {
	case strings.EqualFold(schemeName, "Bearer"):
		p, ok = a.bearer(w, r, cred, basicHere)
	case strings.EqualFold(schemeName, "Basic"):
		p, ok = a.basic(w, r, basicHere, o)
	default:
		a.challenge(w, basicHere, http.StatusUnauthorized, "", "Unsupported authorization scheme; use Bearer"+basicHint(basicHere)+".")
		return nil, false
	}
	if !ok {
		return nil, false
	}
	if o.inPerson && InPerson(p) != nil {
		a.passwordRequired(w)
		return nil, false
	}
	if !p.HasScope(scope) {
		a.InsufficientScope(w, scope)
		return nil, false
	}
	return p, true
}

// InsufficientScope answers 403 insufficient_scope for a request whose
// credential lacks scope (a space-separated list when several are needed).
// RFC 6750 §3.1: "The request requires higher privileges than provided by
// the access token. The resource server SHOULD respond with the HTTP 403
// (Forbidden) status code and MAY include the "scope" attribute with the
// scope necessary to access the protected resource."
func (a *Authenticator) InsufficientScope(w http.ResponseWriter, scope string) {
	h := w.Header()
	h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="insufficient_scope", error_description=%q, scope=%q`,
		a.cfg.Realm, "The token does not carry the scope this request needs.", quoteSafe(scope)))
	httpx.WriteError(w, http.StatusForbidden, "insufficient_scope", "This request needs the scope "+scope+".")
}

func basicHint(basic bool) string {
	if basic {
		return " or HTTP Basic email:password (plus an OTP-Token header when two-factor is on)"
	}
	return ""
}

func isForm(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil || r.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// Validate checks a bearer credential of any kind with the validator
// registered for its kind — the same one the API's Require uses — so every
// rule (expiry, revocation, token family, owner disabled or password changed,
// app disabled or deleted, API-key address ranges) is applied identically
// wherever a credential is presented: the API, introspection, the gateway.
//
// r is the request the credential arrived with; API-key address ranges are
// checked against its client address. With r nil the caller's address is
// unknown, and a key limited to address ranges is refused.
//
// A refused credential gives an error for which errors.Is(err,
// ErrInvalidToken) holds; any other error is an internal failure.
func (a *Authenticator) Validate(ctx context.Context, token string, r *http.Request) (*Principal, error) {
	if token == "" || safetext.Check(token, 4096) != nil {
		return nil, InvalidToken("The access token is missing or malformed.")
	}
	var v BearerValidator
	a.mu.RLock()
	if parsed, err := credential.Parse(token); err == nil {
		// One rule for every credential kind: a sandbox credential is no
		// good on production and the reverse, and the developer is told
		// which it is (the prefix says so anyway).
		if err := credential.CheckEnv(parsed, a.cfg.CredentialEnv); err != nil {
			a.mu.RUnlock()
			return nil, InvalidToken(err.Error())
		}
		v = a.bearers[parsed.Kind]
	} else {
		v = a.fallback
	}
	a.mu.RUnlock()
	if v == nil {
		return nil, InvalidToken("The access token is invalid, expired or revoked.")
	}
	p, err := v.ValidateBearer(ctx, token, r)
	if err == nil && p == nil {
		err = ErrInvalidToken
	}
	var re *RevokedError
	if errors.As(err, &re) {
		addr := ""
		if r != nil {
			addr = a.cfg.ClientIP(r)
		}
		a.auditRevoked(ctx, re, addr)
		return nil, InvalidToken(re.Description)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		err = fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (a *Authenticator) bearer(w http.ResponseWriter, r *http.Request, token string, basicHere bool) (*Principal, bool) {
	p, err := a.Validate(r.Context(), token, r)
	if err != nil {
		var te *TokenError
		switch {
		case errors.As(err, &te):
			a.invalidToken(w, te.Description)
		case errors.Is(err, ErrInvalidToken):
			a.invalidToken(w, "The access token is invalid, expired or revoked.")
		default:
			a.log.Error("validating bearer token", "err", err)
			httpx.WriteError(w, http.StatusInternalServerError, "server_error", "The token could not be checked; try again.")
		}
		return nil, false
	}
	return p, true
}

// maxBasicField bounds the email and the password of Basic credentials, as
// the identity service's own bound on what it even hashes; it applies the
// real limits (254-byte emails, 256-character passwords).
const maxBasicField = 2048

func (a *Authenticator) basic(w http.ResponseWriter, r *http.Request, basicHere bool, o routeOpts) (*Principal, bool) {
	if !basicHere {
		desc := "Password authentication is not accepted on this route; use a token."
		if a.cfg.BasicAuth == BasicCredentialsOnly && !o.noBasic {
			desc = "Password authentication is accepted only on the credential-management routes (for example to create a personal access token); use a token here."
		}
		a.challenge(w, false, http.StatusUnauthorized, "", desc)
		return nil, false
	}
	if !a.basicAllowed {
		// Config validation already insists on HTTPS for non-loopback
		// issuers; this is the last line.
		httpx.WriteError(w, http.StatusForbidden, "invalid_request", "HTTP Basic authentication with a password is refused over plain HTTP; use HTTPS.")
		return nil, false
	}
	email, password, ok := r.BasicAuth()
	if !ok {
		a.badBasic(w, "The Basic credentials are malformed; send base64(email:password).")
		return nil, false
	}
	// No account has an email that is not text, and no password is one
	// either: answered exactly like a wrong password, without a lookup
	// (PostgreSQL would refuse the text) or a password hash.
	if safetext.Check(email, maxBasicField) != nil || safetext.Check(password, maxBasicField) != nil {
		a.badBasic(w, "The email or password is not right.")
		return nil, false
	}
	u, err := a.passwords.AuthenticateBasic(r.Context(), email, password, r.Header.Get("OTP-Token"), a.cfg.ClientIP(r))
	var (
		te *identity.ThrottledError
		be *identity.BusyError
	)
	switch {
	case err == nil && u.MustChangePassword:
		// The password is right but an administrator asked for a new one:
		// until it is changed (in the browser) it authenticates nothing.
		httpx.NoStore(w)
		httpx.WriteError(w, http.StatusForbidden, "password_change_required",
			"An administrator requires you to choose a new password: sign in to the web interface and change it, then retry.")
	case err == nil:
		return &Principal{UserID: u.ID, Method: MethodPassword, User: &store.Profile{
			ID: u.ID, Email: u.Email, Name: u.Name, TOTPEnabled: u.TOTPEnabled, CreatedAt: u.CreatedAt,
		}}, true
	case errors.As(err, &te):
		w.Header().Set("Retry-After", te.RetryAfterSeconds())
		httpx.NoStore(w)
		httpx.WriteError(w, http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts; try again after "+te.RetryAfterSeconds()+" seconds.")
	case errors.As(err, &be):
		// Not a verdict on the credentials: the password was not checked.
		w.Header().Set("Retry-After", be.RetryAfterSeconds())
		httpx.NoStore(w)
		httpx.WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The server is busy checking other passwords; retry after "+be.RetryAfterSeconds()+" seconds, or use a token.")
	case errors.Is(err, identity.ErrOTPRequired):
		a.otpRequired(w, "This account has two-factor authentication: repeat the request with the current code from your authenticator in the OTP-Token header.")
	case errors.Is(err, identity.ErrInvalidCode), errors.Is(err, identity.ErrCodeReused):
		a.otpRequired(w, "The OTP-Token is wrong or was already used: repeat the request with the current code from your authenticator.")
	case errors.Is(err, identity.ErrInvalidCredentials), errors.Is(err, store.ErrInvalidText):
		a.badBasic(w, "The email or password is not right.")
	default:
		a.log.Error("password authentication", "err", err)
		httpx.WriteError(w, http.StatusInternalServerError, "server_error", "Authentication failed on the server; try again.")
	}
	return nil, false
}

func (a *Authenticator) basicChallenge() string {
	return fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, a.cfg.Realm)
}

func (a *Authenticator) badBasic(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", a.basicChallenge())
	httpx.NoStore(w)
	httpx.WriteError(w, http.StatusUnauthorized, "invalid_credentials", desc)
}

// passwordRequired refuses a bearer credential on a route that mints
// credentials: a credential never mints a longer-lived one.
func (a *Authenticator) passwordRequired(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", a.basicChallenge())
	httpx.NoStore(w)
	httpx.WriteError(w, http.StatusUnauthorized, "password_required",
		"Creating a credential needs your email and password (HTTP Basic, plus the OTP-Token header when two-factor is on) or a signed-in browser session; a token or API key cannot create credentials.")
}

// otpRequired answers 401 with the seed's `OTP-Token: Required` header.
func (a *Authenticator) otpRequired(w http.ResponseWriter, desc string) {
	h := w.Header()
	// Written with the seed's exact spelling (not Go's canonical
	// "Otp-Token"); header names are case-insensitive, but some scripts
	// compare them literally.
	h["OTP-Token"] = []string{"Required"}
	h.Set("WWW-Authenticate", a.basicChallenge())
	httpx.NoStore(w)
	httpx.WriteError(w, http.StatusUnauthorized, "otp_required", desc)
}

// challenge answers with Bearer (and Basic, where accepted) challenges. With
// no credentials at all, RFC 6750 §3.1: "the resource server SHOULD NOT
// include an error code or other error information" in the challenge.
func (a *Authenticator) challenge(w http.ResponseWriter, basicHere bool, status int, code, desc string) {
	h := w.Header()
	if code == "" {
		h.Add("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q`, a.cfg.Realm))
	} else {
		h.Add("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error=%q, error_description=%q`, a.cfg.Realm, code, quoteSafe(desc)))
	}
	if basicHere {
		h.Add("WWW-Authenticate", a.basicChallenge())
	}
	httpx.NoStore(w)
	if code == "" {
		code = "unauthorized"
	}
	httpx.WriteError(w, status, code, desc)
}

func (a *Authenticator) invalidToken(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_token", error_description=%q`, a.cfg.Realm, quoteSafe(desc)))
	httpx.NoStore(w)
	httpx.WriteError(w, http.StatusUnauthorized, "invalid_token", desc)
}

func (a *Authenticator) invalidRequest(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_request", error_description=%q`, a.cfg.Realm, quoteSafe(desc)))
	httpx.NoStore(w)
	httpx.WriteError(w, http.StatusBadRequest, "invalid_request", desc)
}

// quoteSafe keeps only the characters RFC 6750 §3 allows inside
// error_description and scope (%x20-21 / %x23-5B / %x5D-7E), so %q quoting
// never needs an escape.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' {
			return '\''
		}
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

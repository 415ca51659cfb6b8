package bearer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxTokenLength bounds a credential before any call is made; Gatehouse's
// are under 100 characters.
const maxTokenLength = 4096

// Options configure the middleware. The zero value is usable.
type Options struct {
	// Realm names the protection space in WWW-Authenticate (RFC 6750 §3).
	// Printable ASCII without quotes or backslashes. Default "api".
	Realm string
	// Audience, when set, must be one of the principal's audiences ("aud").
	Audience string
	// Kinds, when set, lists the credential kinds accepted (KindAccessToken,
	// KindPAT, KindAPIKey); a principal whose Kind is not listed — or
	// unknown — is refused with invalid_token.
	Kinds []string
	// DisableAPIKeyHeader ignores the X-API-Key header; only
	// "Authorization: Bearer" is read.
	DisableAPIKeyHeader bool
	// Now is the clock that checks "exp". Default time.Now.
	Now func() time.Time
	// Logger receives validation failures (never the credential).
	// Default: discard.
	Logger *slog.Logger
}

// Middleware authenticates requests to a provider's API with a Validator and
// answers refusals as RFC 6750 §3 requires. Build one with New and wrap each
// route with Require. It is safe for concurrent use.
type Middleware struct {
	v            Validator
	realm        string
	audience     string
	kinds        []string
	apiKeyHeader bool
	now          func() time.Time
	log          *slog.Logger
}

// New returns middleware that validates credentials with v.
func New(v Validator, o Options) (*Middleware, error) {
	if v == nil {
		return nil, errors.New("bearer: a Validator is required")
	}
	m := &Middleware{
		v: v, realm: o.Realm, audience: o.Audience, kinds: slices.Clone(o.Kinds),
		apiKeyHeader: !o.DisableAPIKeyHeader, now: o.Now, log: o.Logger,
	}
	if m.realm == "" {
		m.realm = "api"
	}
	if !quotable(m.realm) {
		return nil, fmt.Errorf("bearer: realm %q must be printable ASCII without quotes or backslashes", m.realm)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// Require returns middleware that lets a request through only with a valid
// credential carrying every scope listed (none: any valid credential). The
// handler finds the Principal with FromContext. Require panics on a scope
// that is not a valid RFC 6749 §3.3 scope-token, as http.ServeMux panics on
// a bad pattern: it is a programming error found at start-up.
func (m *Middleware) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !scopeToken(s) {
			panic(fmt.Sprintf("bearer: %q is not a valid scope (RFC 6749 §3.3)", s))
		}
	}
	scopes = slices.Clone(scopes)
	want := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, pr := m.authenticate(r)
			if pr == nil && !p.hasAll(scopes) {
				// RFC 6750 §3.1: "insufficient_scope The request requires
				// higher privileges than provided by the access token. The
				// resource server SHOULD respond with the HTTP 403
				// (Forbidden) status code and MAY include the "scope"
				// attribute with the scope necessary to access the
				// protected resource."
				pr = &problem{status: http.StatusForbidden, code: "insufficient_scope",
					desc: "The credential does not carry the scope this request needs: " + want + ".", scope: want}
			}
			if pr != nil {
				m.write(w, pr)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
		})
	}
}

// problem is a refusal; code "" is the bare challenge of RFC 6750 §3.1.
type problem struct {
	status int
	code   string
	desc   string
	scope  string
}

func invalidRequest(desc string) *problem {
	// RFC 6750 §3.1: "invalid_request The request is missing a required
	// parameter, includes an unsupported parameter or parameter value,
	// repeats the same parameter, uses more than one method for including
	// an access token, or is otherwise malformed. The resource server
	// SHOULD respond with the HTTP 400 (Bad Request) status code."
	return &problem{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidToken(desc string) *problem {
	// RFC 6750 §3.1: "invalid_token The access token provided is expired,
	// revoked, malformed, or invalid for other reasons. The resource SHOULD
	// respond with the HTTP 401 (Unauthorized) status code."
	return &problem{status: http.StatusUnauthorized, code: "invalid_token", desc: desc}
}

// authenticate finds the one credential of r and validates it.
func (m *Middleware) authenticate(r *http.Request) (*Principal, *problem) {
	token, from, pr := m.credential(r)
	if pr != nil {
		return nil, pr
	}
	if len(token) > maxTokenLength {
		return nil, invalidToken("The credential is invalid, expired or revoked.")
	}
	p, err := m.v.Validate(r.Context(), token)
	switch {
	case errors.Is(err, ErrInvalidToken) || (err == nil && p == nil):
		return nil, invalidToken("The credential is invalid, expired or revoked.")
	case err != nil:
		// Never fail open: a credential that could not be checked is not a
		// valid one.
		if r.Context().Err() == nil {
			m.log.Warn("bearer: the credential could not be validated", "err", err)
		}
		return nil, &problem{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			desc: "The credential could not be checked; try again later."}
	}
	// The validator's answer may be cached, and its clock is not ours.
	if !p.ExpiresAt.IsZero() && !m.now().Before(p.ExpiresAt) {
		return nil, invalidToken("The credential has expired.")
	}
	if m.audience != "" && !slices.Contains(p.Audience, m.audience) {
		return nil, invalidToken("The credential is not meant for this API.")
	}
	if len(m.kinds) > 0 && !slices.Contains(m.kinds, p.Kind) {
		return nil, invalidToken("This kind of credential is not accepted here.")
	}
	if from == headerAPIKey && p.Kind != "" && p.Kind != KindAPIKey {
		return nil, invalidToken("The X-API-Key header carries API keys only.")
	}
	return p, nil
}

const (
	headerAuthorization = "Authorization"
	headerAPIKey        = "X-API-Key"
)

// credential extracts the single credential of r, from
// "Authorization: Bearer" or X-API-Key.
func (m *Middleware) credential(r *http.Request) (token, from string, pr *problem) {
	// RFC 6750 §2.3 allows the token in the URI query and §2.2 in a form
	// body; both are refused here: URLs end up in logs, browser history and
	// Referer headers, and §2.3 itself says the query method "SHOULD NOT be
	// used" unless the header is impossible.
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		if q.Has("access_token") || q.Has("api_key") || q.Has("apikey") {
			return "", "", invalidRequest("Send the credential in the Authorization header (Authorization: Bearer <token>), not in the URL: URLs leak into logs, history and Referer headers.")
		}
	}
	if isForm(r) {
		// ParseForm keeps the parsed body in r.PostForm for the handler.
		if err := r.ParseForm(); err != nil {
			return "", "", invalidRequest("The form body could not be read.")
		}
		if r.PostForm.Has("access_token") {
			return "", "", invalidRequest("Send the credential in the Authorization header (Authorization: Bearer <token>), not in the request body.")
		}
	}
	authz := r.Header.Values(headerAuthorization)
	if len(authz) > 1 {
		return "", "", invalidRequest("Send exactly one Authorization header.")
	}
	if keys := r.Header.Values(headerAPIKey); m.apiKeyHeader && len(keys) > 0 {
		switch {
		case len(keys) > 1:
			return "", "", invalidRequest("Send exactly one X-API-Key header.")
		case len(authz) > 0:
			return "", "", invalidRequest("Send either X-API-Key or Authorization, not both.")
		}
		key := strings.TrimSpace(keys[0])
		if !b64token(key) {
			return "", "", invalidRequest("The X-API-Key header is malformed.")
		}
		// Gatehouse API keys read gthk_…; anything else is not one.
		if !strings.HasPrefix(key, "gthk_") {
			return "", "", invalidToken("The X-API-Key header carries API keys only.")
		}
		return key, headerAPIKey, nil
	}
	if len(authz) == 0 || strings.TrimSpace(authz[0]) == "" {
		// RFC 6750 §3.1: "If the request lacks any authentication
		// information (e.g., the client was unaware that authentication is
		// necessary or attempted using an unsupported authentication
		// method), the resource server SHOULD NOT include an error code or
		// other error information."
		return "", "", &problem{status: http.StatusUnauthorized,
			desc: "Authentication required: send Authorization: Bearer <token>."}
	}
	// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token. The scheme is
	// case-insensitive (RFC 7235 §2.1).
	scheme, rest, _ := strings.Cut(strings.TrimSpace(authz[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", "", &problem{status: http.StatusUnauthorized,
			desc: "Unsupported authorization scheme: send Authorization: Bearer <token>."}
	}
	token = strings.TrimLeft(rest, " ")
	if !b64token(token) {
		return "", "", invalidRequest("The Authorization header is malformed: expected Bearer <token>.")
	}
	return token, headerAuthorization, nil
}

func isForm(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// write answers a refusal: the WWW-Authenticate challenge of RFC 6750 §3
// (except for 503, which is no statement about the credential) and a JSON
// body {"error", "error_description"}.
func (m *Middleware) write(w http.ResponseWriter, pr *problem) {
	h := w.Header()
	if pr.status != http.StatusServiceUnavailable {
		// RFC 6750 §3: "All challenges defined by this specification MUST
		// use the auth-scheme value "Bearer". This scheme MUST be followed
		// by one or more auth-param values." Every value written here is
		// checked by quotable, so no escaping is ever needed.
		c := fmt.Sprintf(`Bearer realm="%s"`, m.realm)
		if pr.code != "" {
			c += fmt.Sprintf(`, error="%s", error_description="%s"`, pr.code, pr.desc)
		}
		if pr.scope != "" {
			c += fmt.Sprintf(`, scope="%s"`, pr.scope)
		}
		h.Set("WWW-Authenticate", c)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(pr.status)
	code := pr.code
	if code == "" {
		code = "unauthorized"
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // application/json, never rendered as HTML
	_ = enc.Encode(struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}{code, pr.desc})
}

// quotable reports whether s may stand inside a quoted auth-param as is.
// RFC 6750 §3: values of error_description "MUST NOT include characters
// outside the set %x20-21 / %x23-5B / %x5D-7E".
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func scopeToken(s string) bool {
	return s != "" && quotable(s) && !strings.Contains(s, " ")
}

// b64token reports whether s matches RFC 6750 §2.1:
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func b64token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

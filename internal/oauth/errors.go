package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Error is an OAuth 2.0 protocol error: the RFC error code, a human-readable
// description that is safe to show to the client, the HTTP status it is
// answered with, and an internal cause that is logged but never sent.
type Error struct {
	Code        string
	Description string
	Status      int
	cause       error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

// Unwrap exposes the internal cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.cause }

// Cause returns the internal cause (nil when none).
func (e *Error) Cause() error { return e.cause }

// WithCause returns a copy of e that records an internal cause for the logs.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.cause = err
	return &c
}

// Error codes. RFC 6749 §4.1.2.1 / §4.2.2.1 (authorization endpoint),
// §5.2 (token endpoint), RFC 6750 §3.1 (resource), RFC 7009 §2.2.1,
// OpenID Connect Core §3.1.2.6 (prompt=none).
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeInvalidToken            = "invalid_token"
	CodeInsufficientScope       = "insufficient_scope"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	CodeInteractionRequired     = "interaction_required"
	CodeInvalidTarget           = "invalid_target"
)

func newError(code string, status int, format string, args ...any) *Error {
	d := format
	if len(args) > 0 {
		d = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Description: d, Status: status}
}

// ErrInvalidRequest: "The request is missing a required parameter, includes an
// invalid parameter value, includes a parameter more than once, or is
// otherwise malformed." (RFC 6749 §5.2)
func ErrInvalidRequest(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

// ErrInvalidClient: "Client authentication failed (e.g., unknown client, no
// client authentication included, or unsupported authentication method)."
// Answered with 401 and a WWW-Authenticate challenge (RFC 6749 §5.2).
func ErrInvalidClient(format string, args ...any) *Error {
	return newError(CodeInvalidClient, http.StatusUnauthorized, format, args...)
}

// ErrInvalidGrant: "The provided authorization grant (e.g., authorization
// code, resource owner credentials) or refresh token is invalid, expired,
// revoked, does not match the redirection URI used in the authorization
// request, or was issued to another client." (RFC 6749 §5.2)
func ErrInvalidGrant(format string, args ...any) *Error {
	return newError(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

// ErrUnauthorizedClient: "The authenticated client is not authorized to use
// this authorization grant type." (RFC 6749 §5.2, §4.1.2.1)
func ErrUnauthorizedClient(format string, args ...any) *Error {
	return newError(CodeUnauthorizedClient, http.StatusBadRequest, format, args...)
}

// ErrUnsupportedGrantType: "The authorization grant type is not supported by
// the authorization server." (RFC 6749 §5.2)
func ErrUnsupportedGrantType(format string, args ...any) *Error {
	return newError(CodeUnsupportedGrantType, http.StatusBadRequest, format, args...)
}

// ErrInvalidScope: "The requested scope is invalid, unknown, malformed, or
// exceeds the scope granted by the resource owner." (RFC 6749 §5.2)
func ErrInvalidScope(format string, args ...any) *Error {
	return newError(CodeInvalidScope, http.StatusBadRequest, format, args...)
}

// ErrInvalidTarget: "The requested resource is invalid, missing, unknown, or
// malformed." (RFC 8707 §2)
func ErrInvalidTarget(format string, args ...any) *Error {
	return newError(CodeInvalidTarget, http.StatusBadRequest, format, args...)
}

// ErrAccessDenied: "The resource owner or authorization server denied the
// request." (RFC 6749 §4.1.2.1)
func ErrAccessDenied(format string, args ...any) *Error {
	return newError(CodeAccessDenied, http.StatusForbidden, format, args...)
}

// ErrUnsupportedResponseType: "The authorization server does not support
// obtaining an authorization code using this method." (RFC 6749 §4.1.2.1)
func ErrUnsupportedResponseType(format string, args ...any) *Error {
	return newError(CodeUnsupportedResponseType, http.StatusBadRequest, format, args...)
}

// ErrServerError: "The authorization server encountered an unexpected
// condition that prevented it from fulfilling the request." The description
// is generic; the cause goes to the log only.
//
// A cause of store.ErrInvalidText is not the server's fault: the database
// refused text that should have been checked at the edge, so the answer is
// invalid_request ("includes an invalid parameter value"), never a 500.
func ErrServerError(cause error) *Error {
	if errors.Is(cause, store.ErrInvalidText) {
		return ErrInvalidRequest("a parameter is not valid text").WithCause(cause)
	}
	return &Error{Code: CodeServerError, Description: "internal error", Status: http.StatusInternalServerError, cause: cause}
}

// ErrTemporarilyUnavailable (RFC 6749 §4.1.2.1).
func ErrTemporarilyUnavailable(format string, args ...any) *Error {
	return newError(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, format, args...)
}

// ErrInvalidToken: "The access token provided is expired, revoked, malformed,
// or invalid for other reasons." (RFC 6750 §3.1)
func ErrInvalidToken(format string, args ...any) *Error {
	return newError(CodeInvalidToken, http.StatusUnauthorized, format, args...)
}

// ErrInsufficientScope: "The request requires higher privileges than provided
// by the access token." (RFC 6750 §3.1)
func ErrInsufficientScope(format string, args ...any) *Error {
	return newError(CodeInsufficientScope, http.StatusForbidden, format, args...)
}

// ErrUnsupportedTokenType (RFC 7009 §2.2.1). Gatehouse never answers it: the
// token_type_hint is only a hint and every kind of token it issues can be
// revoked.
func ErrUnsupportedTokenType(format string, args ...any) *Error {
	return newError(CodeUnsupportedTokenType, http.StatusBadRequest, format, args...)
}

// ErrLoginRequired / ErrConsentRequired: prompt=none could not be honoured
// without showing a page (OpenID Connect Core §3.1.2.6).
func ErrLoginRequired(format string, args ...any) *Error {
	return newError(CodeLoginRequired, http.StatusBadRequest, format, args...)
}

// ErrConsentRequired: see ErrLoginRequired.
func ErrConsentRequired(format string, args ...any) *Error {
	return newError(CodeConsentRequired, http.StatusBadRequest, format, args...)
}

// AsError converts any error into a protocol error: an *Error anywhere in the
// chain is returned as is; anything else becomes server_error with err as its
// cause.
func AsError(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return ErrServerError(err)
}

// logError records the internal cause of e (if any) and server errors.
func logError(logger *slog.Logger, r *http.Request, e *Error) {
	if logger == nil {
		return
	}
	if e.Status >= 500 {
		logger.ErrorContext(r.Context(), "oauth: server error", "path", r.URL.Path, "err", e.cause)
		return
	}
	if e.cause != nil {
		logger.InfoContext(r.Context(), "oauth: request refused", "path", r.URL.Path, "error", e.Code, "err", e.cause)
	}
}

// Realm is the realm of the Basic challenge sent with invalid_client.
const Realm = "gatehouse"

// setNoStore sets the headers RFC 6749 §5.1 requires on every response that
// carries tokens or credentials: "The authorization server MUST include the
// HTTP "Cache-Control" response header field [RFC2616] with a value of
// "no-store" in any response containing tokens, credentials, or other
// sensitive information, as well as the "Pragma" response header field
// [RFC2616] with a value of "no-cache"."
func setNoStore(h http.Header) {
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
}

// The values of the headers every token response carries, shared by all of
// them rather than allocated per response by Header.Set. Each slice has
// capacity 1, so an Add appends to a copy, never to the shared array.
var (
	noStore  = []string{"no-store"}[:1:1]
	noCache  = []string{"no-cache"}[:1:1]
	jsonUTF8 = []string{"application/json;charset=UTF-8"}[:1:1]
)

// writeJSON writes v as JSON with no-store headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonUTF8
	setNoStore(h)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONError is THE writer for errors of the token, introspection and
// revocation endpoints (RFC 6749 §5.2): a JSON object with "error" and
// "error_description". invalid_client is answered with 401 and a Basic
// challenge: "If the client attempted to authenticate via the "Authorization"
// request header field, the authorization server MUST respond with an HTTP 401
// (Unauthorized) status code and include the "WWW-Authenticate" response
// header field matching the authentication scheme used by the client." — we
// always send it, so a client that did not authenticate learns which scheme
// to use.
func WriteJSONError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := AsError(err)
	logError(logger, r, e)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if e.Code == CodeInvalidClient {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
	}
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, sanitizeDescription(e.Description)}
	writeJSON(w, status, body)
}

// ResponseMode says where authorization response parameters go.
type ResponseMode int

const (
	// ModeQuery: the query component of the redirect URI (response_type=code).
	ModeQuery ResponseMode = iota
	// ModeFragment: the fragment (response_type=token, RFC 6749 §4.2.2).
	ModeFragment
)

// buildRedirect adds params to redirectURI's query (keeping the query the URI
// was registered with — RFC 6749 §3.1.2: "The endpoint URI MAY include an
// "application/x-www-form-urlencoded" formatted ... query component, which
// MUST be retained when adding additional query parameters") or puts them in
// the fragment.
func buildRedirect(redirectURI string, mode ResponseMode, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// Registered URIs are validated at registration; never reached.
		return redirectURI
	}
	if mode == ModeFragment {
		u.Fragment = ""
		u.RawFragment = ""
		return u.String() + "#" + params.Encode()
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// RedirectError is THE writer for authorization endpoint errors that may be
// redirected (RFC 6749 §4.1.2.1): it sends the user agent back to the
// client's (already validated) redirect URI with error, error_description,
// state and iss (RFC 9207 §2: "the iss parameter ... in the authorization
// response", which includes error responses).
func RedirectError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, redirectURI string, mode ResponseMode, state, issuer string, err error) {
	e := AsError(err)
	logError(logger, r, e)
	p := url.Values{}
	p.Set("error", e.Code)
	if e.Description != "" {
		p.Set("error_description", sanitizeDescription(e.Description))
	}
	if state != "" {
		p.Set("state", state)
	}
	if issuer != "" {
		p.Set("iss", issuer)
	}
	setNoStore(w.Header())
	http.Redirect(w, r, buildRedirect(redirectURI, mode, p), http.StatusFound)
}

// sanitizeDescription keeps error_description inside the character set RFC
// 6749 §4.1.2.1 allows: "Values for the "error_description" parameter MUST NOT
// include characters outside the set %x20-21 / %x23-5B / %x5D-7E."
func sanitizeDescription(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E) {
			return r
		}
		return -1
	}, s)
}

// WriteBearerError answers a protected resource request (RFC 6750 §3): 401
// with a Bearer challenge for a missing or bad token, 403 insufficient_scope,
// 400 invalid_request. err nil means no credentials were sent: §3.1 "If the
// request lacks any authentication information ..., the resource server
// SHOULD NOT include an error code or other error information."
func WriteBearerError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	challenge := `Bearer realm="` + Realm + `"`
	if err == nil {
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, struct {
			Error string `json:"error"`
		}{CodeInvalidToken})
		return
	}
	e := AsError(err)
	logError(logger, r, e)
	status := e.Status
	switch e.Code {
	case CodeInvalidToken:
		status = http.StatusUnauthorized
	case CodeInsufficientScope:
		status = http.StatusForbidden
	case CodeInvalidRequest:
		status = http.StatusBadRequest
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	desc := sanitizeDescription(e.Description)
	if e.Code != CodeServerError {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, e.Code, desc)
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, desc})
}

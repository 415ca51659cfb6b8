// Package gateway is the check endpoint a reverse proxy asks before it
// forwards a request to the operator's own API: nginx auth_request, Caddy
// forward_auth, Traefik ForwardAuth and Envoy's HTTP ext_authz. The proxy
// sends the original request's method, URI and headers; the route rules
// (configuration section gateway_routes) say what the route needs; the same
// Authenticator that guards Gatehouse's own API decides who the caller is.
//
// 200 lets the request through and carries the caller's identity in
// X-Gatehouse-* headers for the proxy to copy to the upstream. 401 and 403
// are RFC 6750 answers (WWW-Authenticate, and OTP-Token: Required when a
// password needs its second factor) that the proxy passes back to the
// caller. A route no rule matches is denied (403): an API that forgets a
// rule is closed, not open.
package gateway

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Paths the endpoint is mounted at.
const (
	// CheckPath is for proxies that describe the original request in
	// headers (nginx, Caddy, Traefik).
	CheckPath = "/gateway/check"
	// EnvoyPrefix is for Envoy's HTTP ext_authz (path_prefix): the check
	// request itself has the original method, and its path is the original
	// path below this prefix.
	EnvoyPrefix = "/gateway/check/envoy"
)

// Identity headers on a 200 answer, always all five; an empty value means
// none. The proxy copies them to the upstream request and must remove any
// the client sent itself (the shipped nginx and Caddy configurations do).
const (
	HeaderSubject        = "X-Gatehouse-Subject"         // user id; empty for an API key acting for no user
	HeaderScopes         = "X-Gatehouse-Scopes"          // space-separated; "*" for the owner in person (password)
	HeaderClient         = "X-Gatehouse-Client"          // OAuth client / app id, when there is one
	HeaderCredentialKind = "X-Gatehouse-Credential-Kind" // password | access_token | pat | api_key
	HeaderEmail          = "X-Gatehouse-Email"           // when the credential lookup read the profile
)

// Handler serves the check endpoint.
type Handler struct {
	rules *Rules
	auth  *authn.Authenticator
	log   *slog.Logger
}

// New builds the check endpoint.
func New(rules *Rules, auth *authn.Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if rules == nil {
		rules = &Rules{}
	}
	return &Handler{rules: rules, auth: auth, log: log}
}

// Routes mounts the endpoint for every method: the proxy forwards the
// original method (Envoy) or sends its own (nginx sends the original one,
// Caddy and Traefik GET).
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc(CheckPath, h.check)
	mux.HandleFunc(EnvoyPrefix+"/", h.check)
}

// original rebuilds the request the proxy is asking about. ok is false when
// the description is missing, ambiguous or malformed; the answer is then 400
// and the proxy denies.
func original(r *http.Request) (method, uri string, ok bool) {
	if rest, isEnvoy := strings.CutPrefix(r.URL.EscapedPath(), EnvoyPrefix); isEnvoy && rest != "" {
		// Envoy: the request is its own description; any header claiming
		// otherwise came from the client and is ignored.
		uri = rest
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
		return r.Method, uri, true
	}
	// nginx sends X-Original-*, Caddy and Traefik X-Forwarded-*. A proxy
	// sets its own pair and passes the client's other headers on
	// untouched, so a client could send the other pair to describe a
	// different request. Both present and disagreeing, or either repeated,
	// is refused rather than guessed.
	om, ou := r.Header.Values("X-Original-Method"), r.Header.Values("X-Original-Uri")
	fm, fu := r.Header.Values("X-Forwarded-Method"), r.Header.Values("X-Forwarded-Uri")
	if len(om) > 1 || len(ou) > 1 || len(fm) > 1 || len(fu) > 1 {
		return "", "", false
	}
	pick := func(a, b []string) (string, bool) {
		switch {
		case len(a) == 1 && len(b) == 1:
			return a[0], a[0] == b[0]
		case len(a) == 1:
			return a[0], true
		case len(b) == 1:
			return b[0], true
		}
		return "", false
	}
	uri, ok = pick(ou, fu)
	if !ok {
		return "", "", false
	}
	if len(om) == 0 && len(fm) == 0 {
		return "", "", false
	}
	method, ok = pick(om, fm)
	return method, uri, ok
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	httpx.NoStore(w)
	method, uri, ok := original(r)
	if !ok || !isToken(method) || !strings.HasPrefix(uri, "/") {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request",
			"The proxy must describe the original request: X-Original-Method and X-Original-URI (nginx), X-Forwarded-Method and X-Forwarded-Uri (Caddy, Traefik), once each, or call "+EnvoyPrefix+"/<path> (Envoy).")
		return
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "The original URI is malformed.")
		return
	}
	// The original request as the API will see it: its method and URL, the
	// client's headers, no body (proxies do not send it to the check). The
	// Authenticator's refusals of tokens in the URL then apply to the
	// original URL, not to the check request's.
	// A shallow copy (hot path: no deep copy of the headers, which nothing
	// below changes except the X-API-Key rewrite the server already made).
	orig := r.WithContext(r.Context())
	orig.Method, orig.URL, orig.RequestURI = method, u, uri
	orig.Body, orig.ContentLength = http.NoBody, 0
	h.auth.APIKeyHeader(http.HandlerFunc(h.decide)).ServeHTTP(oneChallengeLine{w}, orig)
}

// oneChallengeLine joins several WWW-Authenticate fields (Bearer and Basic)
// into one line before the header is written. RFC 9110 §11.6.1 allows it:
// "a server MAY generate multiple challenges with a comma-separated list of
// challenges within one WWW-Authenticate field". A proxy copies a header of
// the check answer through a variable that holds only the first field (nginx
// $upstream_http_www_authenticate before 1.23), and would drop the rest.
type oneChallengeLine struct{ http.ResponseWriter }

func (w oneChallengeLine) WriteHeader(status int) {
	if v := w.Header().Values("WWW-Authenticate"); len(v) > 1 {
		w.Header().Set("WWW-Authenticate", strings.Join(v, ", "))
	}
	w.ResponseWriter.WriteHeader(status)
}

// decide applies the first matching rule to the original request.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	rule := h.rules.Match(r)
	if rule == nil {
		httpx.WriteError(w, http.StatusForbidden, "access_denied", "No gateway route rule allows "+r.Method+" on this path.")
		return
	}
	if rule.Public {
		setIdentity(w.Header(), nil)
		w.WriteHeader(http.StatusOK)
		return
	}
	// Scope "" first: who is calling (401 when nobody), then every scope
	// the rule needs (403 insufficient_scope naming all of them).
	p, ok := h.auth.Authenticate(w, r, "")
	if !ok {
		return
	}
	for _, s := range rule.Scopes {
		if !p.HasScope(s) {
			h.auth.InsufficientScope(w, rule.ScopeParam)
			return
		}
	}
	setIdentity(w.Header(), p)
	w.WriteHeader(http.StatusOK)
}

// setIdentity writes every identity header on a 200, an empty value meaning
// "none" (no user, no client, or no credential at all on a public route).
// They are always present because Caddy's forward_auth copy_headers (2.6)
// copies a header missing from the answer as its literal placeholder text,
// "{http.reverse_proxy.header.X-Gatehouse-Client}"; nginx drops a header
// whose value is empty.
func setIdentity(h http.Header, p *authn.Principal) {
	var subject, scopes, client, kind, email string
	if p != nil {
		subject, client, kind = p.UserID, p.ClientID, p.Method
		if p.Scopes == nil {
			scopes = "*"
		} else {
			scopes = strings.Join(p.Scopes, " ")
		}
		if p.User != nil && p.User.ID == p.UserID {
			email = p.User.Email
		}
	}
	h.Set(HeaderSubject, subject)
	h.Set(HeaderScopes, scopes)
	h.Set(HeaderClient, client)
	h.Set(HeaderCredentialKind, kind)
	h.Set(HeaderEmail, email)
}

package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/safetext"
)

// UI is what the OAuth handlers need from the web pages: the signed-in user,
// the sign-in redirect, CSRF protection and three pages. The web package
// implements it (web.OAuthUI); this package renders no HTML itself.
type UI interface {
	// Wrap prepares a page request (per-request session lookup).
	Wrap(next http.Handler) http.Handler
	// CurrentUser returns the signed-in user of the request and when they
	// signed in; ok is false when no one is (fully) signed in.
	CurrentUser(r *http.Request) (userID string, authTime time.Time, ok bool)
	// RedirectToLogin sends the browser to sign in — or sign up when signup
	// is true — and back to returnTo (a path on this server).
	RedirectToLogin(w http.ResponseWriter, r *http.Request, returnTo string, signup bool)
	// RedirectToLoginAs is RedirectToLogin with the email field filled in
	// (OpenID Connect login_hint).
	RedirectToLoginAs(w http.ResponseWriter, r *http.Request, returnTo, email string, signup bool)
	// SignOut ends the browser's session (RP-initiated logout).
	SignOut(w http.ResponseWriter, r *http.Request) error
	// ConfirmLogout asks the user to confirm signing out (RP-initiated
	// logout without a valid id_token_hint).
	ConfirmLogout(w http.ResponseWriter, r *http.Request)
	// Reauthenticate sends the browser to sign in again, then back to
	// returnTo (prompt=login). It changes no state: the current session
	// stays until the new sign-in succeeds.
	Reauthenticate(w http.ResponseWriter, r *http.Request, returnTo string)
	// VerifyCSRF checks the csrf_token of a POSTed form; CSRFFailed answers
	// a failure.
	VerifyCSRF(r *http.Request) bool
	CSRFFailed(w http.ResponseWriter, r *http.Request)
	// RenderConsent shows the consent page: a form POSTing v.Fields, the CSRF
	// token and decision=allow|deny to PathConsent.
	RenderConsent(w http.ResponseWriter, r *http.Request, v *ConsentView)
	// RenderError shows an authorization error that must not be redirected.
	RenderError(w http.ResponseWriter, r *http.Request, e *Error)
	// RenderApps shows the user's authorized apps, each with a revoke form
	// POSTing to /account/apps/{client_id}/revoke.
	RenderApps(w http.ResponseWriter, r *http.Request, apps []AuthorizedApp, notice string)
}

// PathConsent receives the consent form.
const PathConsent = "/oauth2/consent"

// Handler serves the OAuth 2.0 endpoints and the authorized-apps pages.
type Handler struct {
	svc *Service
	ui  UI
	log *slog.Logger
}

// NewHandler builds the HTTP side of the Service.
func NewHandler(svc *Service, ui UI, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, ui: ui, log: log}
}

// Routes mounts the endpoints:
//
//	GET  /oauth2/authorize                    authorization endpoint (RFC 6749 §3.1)
//	GET  /authorize/{client_id}               the same, seed 004 form
//	POST /oauth2/consent                      the consent page's Allow / Deny
//	POST /oauth2/token                        token endpoint (RFC 6749 §3.2)
//	POST /oauth2/revoke                       RFC 7009
//	POST /oauth2/introspect                   RFC 7662
//	GET  /.well-known/oauth-authorization-server   RFC 8414
//	GET  /account/apps                        the user's authorized apps
//	POST /account/apps/{client_id}/revoke     revoke one (kills its tokens)
func (h *Handler) Routes(mux *http.ServeMux) {
	page := func(f http.HandlerFunc) http.Handler { return h.ui.Wrap(f) }
	mux.Handle("GET "+PathAuthorize, page(h.authorize))
	mux.Handle("GET /authorize/{client_id}", page(h.authorize))
	mux.Handle("POST "+PathConsent, page(h.consent))
	mux.HandleFunc("POST "+PathToken, h.token)
	mux.HandleFunc("POST "+PathRevoke, h.revoke)
	mux.HandleFunc("POST "+PathIntrospect, h.introspect)
	for _, p := range metadataPaths(h.svc.issuer) {
		mux.HandleFunc("GET "+p, h.metadata)
	}
	mux.Handle("GET "+PathApps, page(h.apps))
	mux.Handle("POST "+PathApps+"/{client_id}/revoke", page(h.revokeApp))
	h.oidcRoutes(mux)
}

// ---------------------------------------------------------------- authorize

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if id := r.PathValue("client_id"); id != "" {
		// Seed 004: /authorize/<client_id>?state=…&scope=…, where the
		// response type is implied. The path's client_id goes through the
		// same parser (and text checks) as the query's.
		if q.Has("client_id") && q.Get("client_id") != id {
			h.authorizeError(w, r, nil, pageError(ErrInvalidRequest("client_id in the path and in the query differ")))
			return
		}
		if !q.Has("client_id") {
			q.Set("client_id", id)
		}
		if !q.Has("response_type") {
			q.Set("response_type", "code")
		}
	}
	req := ParseAuthorizeRequest(q)
	a, err := h.svc.ValidateAuthorize(r.Context(), req)
	if err != nil {
		h.authorizeError(w, r, a, err)
		return
	}
	userID, authTime, ok := h.ui.CurrentUser(r)
	if !ok {
		if a.HasPrompt(PromptNone) {
			h.authorizeError(w, r, a, ErrLoginRequired("the user is not signed in"))
			return
		}
		h.ui.RedirectToLoginAs(w, r, r.URL.RequestURI(), req.LoginHint, a.Signup)
		return
	}
	if a.HintSubject != "" && !h.svc.hintMatches(a.Client, a.HintSubject, userID) {
		// OpenID Connect Core §3.1.2.1 id_token_hint: "If the End-User
		// identified by the ID Token is logged in or is logged in by the
		// request, then the Authorization Server returns a positive
		// response; otherwise, it SHOULD return an error, such as
		// login_required."
		h.authorizeError(w, r, a, ErrLoginRequired("another user is signed in than the one id_token_hint names"))
		return
	}
	if h.svc.NeedsLogin(a, authTime) {
		if a.HasPrompt(PromptNone) {
			// §3.1.2.6 login_required: "The Authorization Server requires
			// End-User authentication." (max_age exceeded).
			h.authorizeError(w, r, a, ErrLoginRequired("the sign-in is older than max_age allows"))
			return
		}
		// OpenID Connect Core §3.1.2.1, prompt=login: "The Authorization
		// Server SHOULD prompt the End-User for reauthentication." Prompt,
		// not sign out: the session is replaced after the new sign-in.
		h.ui.Reauthenticate(w, r, r.URL.RequestURI())
		return
	}
	need, err := h.svc.NeedsConsent(r.Context(), userID, a)
	if err != nil {
		h.authorizeError(w, r, a, ErrServerError(err))
		return
	}
	if need {
		if a.HasPrompt(PromptNone) {
			h.authorizeError(w, r, a, ErrConsentRequired("the user has not allowed this application these scopes"))
			return
		}
		v, err := h.svc.DescribeConsent(r.Context(), a)
		if err != nil {
			h.authorizeError(w, r, a, ErrServerError(err))
			return
		}
		h.ui.RenderConsent(w, r, v)
		return
	}
	h.approve(w, r, a, userID, authTime, false)
}

func (h *Handler) consent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.ui.RenderError(w, r, ErrInvalidRequest("the form could not be read"))
		return
	}
	if !h.ui.VerifyCSRF(r) {
		h.ui.CSRFFailed(w, r)
		return
	}
	req := ParseAuthorizeRequest(r.PostForm)
	// The request is validated again from scratch: the form is only a
	// carrier, and may have been tampered with.
	a, err := h.svc.ValidateAuthorize(r.Context(), req)
	if err != nil {
		h.authorizeError(w, r, a, err)
		return
	}
	userID, authTime, ok := h.ui.CurrentUser(r)
	if !ok {
		h.ui.RedirectToLogin(w, r, PathAuthorize+"?"+req.Values().Encode(), a.Signup)
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		h.approve(w, r, a, userID, authTime, true)
	case "deny":
		// RFC 6749 §4.1.2.1: access_denied "The resource owner or
		// authorization server denied the request."
		h.svc.Deny(r.Context(), a, userID)
		h.authorizeError(w, r, a, ErrAccessDenied("the user denied the request"))
	default:
		h.ui.RenderError(w, r, ErrInvalidRequest("choose Allow or Deny"))
	}
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request, a *Authorization, userID string, authTime time.Time, consented bool) {
	loc, err := h.svc.Approve(r.Context(), a, userID, authTime, consented)
	if err != nil {
		h.authorizeError(w, r, a, err)
		return
	}
	setNoStore(w.Header())
	http.Redirect(w, r, loc, http.StatusFound)
}

// authorizeError shows a page for errors that must not be redirected (no
// valid client or redirect URI yet), and redirects the rest to the client.
func (h *Handler) authorizeError(w http.ResponseWriter, r *http.Request, a *Authorization, err error) {
	var pe *PageError
	if errors.As(err, &pe) || a == nil || a.RedirectURI == "" {
		e := AsError(err)
		logError(h.log, r, e)
		h.ui.RenderError(w, r, e)
		return
	}
	RedirectError(w, r, h.log, a.RedirectURI, a.Mode, a.State, h.svc.issuer, err)
}

// ---------------------------------------------------------------- token

// readForm parses a token / revocation / introspection request: POST with an
// application/x-www-form-urlencoded body (RFC 6749 §3.2, RFC 7009 §2.1,
// RFC 7662 §2.1), nothing in the query string (credentials and codes in a
// URL end up in logs), at most one Authorization header.
func readForm(r *http.Request) (authorization string, body url.Values, err *Error) {
	mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if perr != nil || mt != "application/x-www-form-urlencoded" {
		return "", nil, ErrInvalidRequest("send the parameters as an application/x-www-form-urlencoded body")
	}
	if r.URL.RawQuery != "" {
		return "", nil, ErrInvalidRequest("parameters must be sent in the request body, not the URL")
	}
	if len(r.Header.Values("Authorization")) > 1 {
		return "", nil, ErrInvalidRequest("more than one Authorization header")
	}
	if e := r.ParseForm(); e != nil {
		return "", nil, ErrInvalidRequest("the request body could not be read").WithCause(e)
	}
	return r.Header.Get("Authorization"), r.PostForm, nil
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	authz, body, ferr := readForm(r)
	if ferr != nil {
		WriteJSONError(w, r, h.log, ferr)
		return
	}
	req, perr := ParseTokenRequest(authz, body)
	if perr != nil {
		WriteJSONError(w, r, h.log, perr)
		return
	}
	resp, err := h.svc.Token(r.Context(), req)
	if err != nil {
		WriteJSONError(w, r, h.log, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// tokenQuery reads the form that introspection (RFC 7662 §2.1) and
// revocation (RFC 7009 §2.1) share: client credentials, token, hint. On
// failure it has already answered.
func (h *Handler) tokenQuery(w http.ResponseWriter, r *http.Request) (TokenQuery, bool) {
	authz, body, err := readForm(r)
	if err != nil {
		WriteJSONError(w, r, h.log, err)
		return TokenQuery{}, false
	}
	q, err := ParseTokenQuery(authz, body)
	if err != nil {
		WriteJSONError(w, r, h.log, err)
		return TokenQuery{}, false
	}
	return q, true
}

func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	q, ok := h.tokenQuery(w, r)
	if !ok {
		return
	}
	res, err := h.svc.Introspect(r.Context(), q)
	if err != nil {
		WriteJSONError(w, r, h.log, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	q, ok := h.tokenQuery(w, r)
	if !ok {
		return
	}
	if err := h.svc.Revoke(r.Context(), q); err != nil {
		WriteJSONError(w, r, h.log, err)
		return
	}
	// RFC 7009 §2.2: "The content of the response body is ignored by the
	// client as all necessary information is conveyed in the response code."
	setNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(h.svc.Metadata())
}

// ---------------------------------------------------------------- apps

// appNotices are the fixed messages ?msg= may select.
var appNotices = map[string]string{
	"revoked": "Access was revoked. The app's tokens no longer work; it has to ask you again.",
}

func (h *Handler) apps(w http.ResponseWriter, r *http.Request) {
	userID, _, ok := h.ui.CurrentUser(r)
	if !ok {
		h.ui.RedirectToLogin(w, r, PathApps, false)
		return
	}
	apps, err := h.svc.AuthorizedApps(r.Context(), userID)
	if err != nil {
		e := ErrServerError(err)
		logError(h.log, r, e)
		h.ui.RenderError(w, r, e)
		return
	}
	h.ui.RenderApps(w, r, apps, appNotices[r.URL.Query().Get("msg")])
}

func (h *Handler) revokeApp(w http.ResponseWriter, r *http.Request) {
	if !h.ui.VerifyCSRF(r) {
		h.ui.CSRFFailed(w, r)
		return
	}
	userID, _, ok := h.ui.CurrentUser(r)
	if !ok {
		h.ui.RedirectToLogin(w, r, PathApps, false)
		return
	}
	clientID := r.PathValue("client_id")
	if err := safetext.Field("client_id", clientID, MaxParamLen); err != nil {
		h.ui.RenderError(w, r, ErrInvalidRequest("%v", err))
		return
	}
	if err := h.svc.RevokeApp(r.Context(), userID, clientID); err != nil {
		e := ErrServerError(err)
		logError(h.log, r, e)
		h.ui.RenderError(w, r, e)
		return
	}
	http.Redirect(w, r, PathApps+"?msg=revoked", http.StatusSeeOther)
}

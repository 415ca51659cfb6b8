// Package web serves Gatehouse's server-rendered pages: sign-up, sign-in,
// the two-factor prompt, sign-out and account settings. Pages are html/template
// files embedded in the binary, share one layout and one small stylesheet, and
// work without JavaScript.
//
// Other areas add pages the same way: drop a template file in templates/
// that defines "content" (see templates/README.md), then call Handler.Render
// with a Page. Every POST form must carry {{template "csrf_field" .}} and its
// handler must call Handler.VerifyCSRF (or wrap itself in Handler.RequireCSRF).
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the pages.
type Config struct {
	// Issuer is the public base URL. https:// makes cookies Secure and
	// __Host- prefixed; plain http is for loopback development only.
	Issuer string
	// SiteName is shown in titles and the header (default "Gatehouse").
	SiteName string
	// LogoURL, when set, is an image shown beside the site name (a path on
	// this server or an https:// URL the CSP's img-src allows).
	LogoURL string
	// AccentColor (#rrggbb, checked by the configuration) recolours buttons
	// and links through /static/theme.css; "" keeps the stylesheet's blue.
	AccentColor string
	// SupportHref and SupportLabel, when set, name where to get help
	// (mailto: or https:) in the footer and on error pages.
	SupportHref, SupportLabel string
	// DisableSignup hides and refuses the public sign-up page (accounts are
	// then created with `gatehouse user create`).
	DisableSignup bool
	// ClientIP returns the client address for throttling (default: the
	// address internal/clientaddr resolved, authn.RemoteIP).
	ClientIP func(*http.Request) string
	// AppNames, when set, names the application a sign-in or sign-up was
	// reached from, so the page can say "Sign in to continue to <app>".
	AppNames AppNamer
	// Mail, when set, sends the account emails: verification at sign-up,
	// new-device and security notices (see email_pages.go).
	Mail AccountMail
	// Sandbox marks a sandbox deployment (the `environment` setting): every
	// page carries a banner so nobody mistakes it for production.
	Sandbox bool
}

// AppNamer names the application behind a return URL. It is an interface so
// that these pages need not know how authorization requests are shaped.
type AppNamer interface {
	// AppName returns the display name of the registered application whose
	// authorization request returnTo (a path on this server, already
	// checked by SafeReturnTo) is, or "" when it is not one that would be
	// honoured.
	AppName(ctx context.Context, returnTo string) string
}

// Handler serves the account pages and offers rendering, CSRF and session
// helpers to the other page-serving areas.
type Handler struct {
	cfg    Config
	id     *identity.Service
	hasher *credential.Hasher
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	secure bool
	cop    *http.CrossOriginProtection

	sessionCookie string
	// pendingCookie carries a sign-in that still owes its second factor. It
	// is separate from the session cookie so that re-authentication
	// (prompt=login) leaves the current session untouched until the new
	// sign-in is complete.
	pendingCookie string
	csrfCookie    string
	// codesCookie carries freshly made recovery codes, sealed to the
	// session, from the form that made them to the page that shows them.
	codesCookie string
	// theme is /static/theme.css: the operator's accent colour as CSS
	// custom properties, served as a file because the CSP forbids inline
	// styles.
	theme []byte
}

// New builds the handler. now is the clock (time.Now in production).
func New(cfg Config, id *identity.Service, hasher *credential.Hasher, now func() time.Time, log *slog.Logger) (*Handler, error) {
	if id == nil || hasher == nil || now == nil {
		return nil, errors.New("web: identity service, hasher and clock are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SiteName == "" {
		cfg.SiteName = "Gatehouse"
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = authn.RemoteIP
	}
	theme, err := themeCSS(cfg.AccentColor)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("web: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	pages, err := parseTemplates(templateFS)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, id: id, hasher: hasher, log: log, now: now, pages: pages,
		secure: u.Scheme == "https",
		cop:    http.NewCrossOriginProtection(),
		theme:  theme,
	}
	// RFC 6265bis §4.1.3.2: a "__Host-" cookie must be Secure, have Path=/
	// and no Domain, so it is bound to this exact origin. Browsers refuse
	// Secure cookies over plain HTTP, hence the unprefixed names in
	// loopback development.
	h.sessionCookie, h.pendingCookie, h.csrfCookie, h.codesCookie = "gh_session", "gh_pending", "gh_csrf", "gh_codes"
	if h.secure {
		h.sessionCookie, h.pendingCookie, h.csrfCookie, h.codesCookie = "__Host-gh_session", "__Host-gh_pending", "__Host-gh_csrf", "__Host-gh_codes"
	}
	return h, nil
}

// parseTemplates builds one template set per page: the layout (and every
// partial, files named _*.html) plus that page.
func parseTemplates(fsys fs.FS) (map[string]*template.Template, error) {
	base := template.New("layout.html").Funcs(template.FuncMap{
		"join":      strings.Join,
		"timestamp": timestamp,
		"date":      date,
	})
	partials, err := fs.Glob(fsys, "templates/_*.html")
	if err != nil {
		return nil, err
	}
	base, err = base.ParseFS(fsys, append([]string{"templates/layout.html"}, partials...)...)
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := path.Base(f)
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// timestamp renders t as a <time> element whose text is the time in UTC,
// named as such, so it is right without JavaScript; pages.js rewrites the
// text to the browser's local time with its zone (data-local). Built from
// the time alone, so marking it safe HTML is sound.
func timestamp(t time.Time) template.HTML {
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `" data-local="datetime">` +
		t.Format("2 Jan 2006, 15:04 UTC") + `</time>`)
}

// date is timestamp for a day: the UTC date, which pages.js turns into the
// browser's local date (it may differ near midnight).
func date(t time.Time) template.HTML {
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `" data-local="date">` +
		t.Format("2 January 2006") + `</time>`)
}

// Routes mounts the account pages and the stylesheet. Every POST is
// CSRF-checked here, before its handler runs, so no form can forget it.
func (h *Handler) Routes(mux *http.ServeMux) {
	get := func(path string, f http.HandlerFunc) { mux.Handle("GET "+path, h.Wrap(f)) }
	post := func(path string, f http.HandlerFunc) { mux.Handle("POST "+path, h.Wrap(h.RequireCSRF(f))) }
	mux.Handle("GET /static/", h.static())
	mux.HandleFunc("GET /static/theme.css", h.serveTheme)
	get("/login", h.loginPage)
	post("/login", h.login)
	get("/login/2fa", h.secondFactorPage)
	post("/login/2fa", h.secondFactor)
	get("/signup", h.signupPage)
	post("/signup", h.signup)
	get("/logout", h.logoutPage)
	post("/logout", h.logout)
	get("/account", h.account)
	post("/account/password", h.changePassword)
	post("/account/2fa/start", h.totpStart)
	get("/account/2fa", h.totpSetupPage)
	post("/account/2fa", h.totpConfirm)
	post("/account/2fa/disable", h.totpDisable)
	post("/account/recovery-codes", h.recoveryCodes)
	get("/account/recovery-codes", h.recoveryCodesPage)
	get("/account/recovery-codes/download", h.recoveryCodesDownload)
	post("/account/recovery-codes/done", h.recoveryCodesDone)
	post("/account/sessions/end", h.endSession)
	post("/account/sessions/end-others", h.endOtherSessions)
}

func (h *Handler) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}

// ---------------------------------------------------------------- rendering

// Page is what every template receives. Handlers set Title and Data (and
// Error/Notice); Render fills in the rest.
type Page struct {
	Title    string
	Error    string // shown in an alert region at the top of the content
	Notice   string // a neutral status message
	ReturnTo string // carried through sign-in forms
	Data     any    // the page's own data

	// Filled in by Render.
	SiteName      string
	LogoURL       string
	SupportHref   string
	SupportLabel  string
	SignupEnabled bool
	Sandbox       bool
	User          *store.User // the signed-in user, or nil
	CSRFToken     string
}

// Render writes the page template `name` (a file in templates/) inside the
// layout with the given status. Pages are never cached: they carry CSRF
// tokens and personal data.
func (h *Handler) Render(w http.ResponseWriter, r *http.Request, status int, name string, p Page) {
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("web: unknown template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.SiteName, p.LogoURL = h.cfg.SiteName, h.cfg.LogoURL
	p.SupportHref, p.SupportLabel = h.cfg.SupportHref, h.cfg.SupportLabel
	p.SignupEnabled = !h.cfg.DisableSignup
	p.Sandbox = h.cfg.Sandbox
	st := h.state(r)
	if p.User == nil && st.sess != nil && !st.sess.MFAPending {
		p.User = st.user
	}
	p.CSRFToken = h.CSRFToken(w, r)
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("web: rendering", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// ---------------------------------------------------------------- sessions

type ctxKey struct{}

// reqState memoises the session lookup for one request.
type reqState struct {
	loaded bool
	sess   *store.Session
	user   *store.User
}

// state returns the session of the request (looked up once per request
// when the request went through Wrap, otherwise on each call).
func (h *Handler) state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(ctxKey{}).(*reqState); ok && st.loaded {
		return st
	}
	st, _ := r.Context().Value(ctxKey{}).(*reqState)
	if st == nil {
		st = &reqState{}
	}
	st.loaded = true
	if c, err := r.Cookie(h.sessionCookie); err == nil {
		sess, u, err := h.id.Session(r.Context(), c.Value)
		if err == nil {
			st.sess, st.user = sess, u
		} else if !errors.Is(err, identity.ErrNoSession) {
			h.log.Error("web: session lookup", "err", err)
		}
	}
	return st
}

// Wrap memoises the session lookup for the request (pages call CurrentUser,
// Render and VerifyCSRF, each of which needs it), and refuses a posted form
// with a field that is not text (see badForm) before any handler sees it.
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(ctxKey{}).(*reqState); !ok {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &reqState{}))
		}
		if h.badForm(w, r) {
			return
		}
		if u, _, ok := h.CurrentUser(r); ok && u.MustChangePassword && !allowedBeforePasswordChange(r) {
			// An administrator requires a new password: until it is
			// chosen, the session reaches only the form that changes it
			// (and sign-out).
			http.Redirect(w, r, "/account?msg=password_change_required", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedBeforePasswordChange lists what a session whose user must change
// the password may still do: see the account page, change the password,
// sign out (or in again).
func allowedBeforePasswordChange(r *http.Request) bool {
	switch r.URL.Path {
	case "/account", "/account/password", "/logout", "/login", "/login/2fa":
		return true
	}
	return false
}

// maxFormField bounds every field of the forms these pages render; each
// field's own limit (254-byte emails, 100-character names, 200-character
// descriptions) is applied by the service behind it.
const maxFormField = 4096

// badForm answers 400 when a POSTed form has a field that is not acceptable
// text (safetext.Check): every form here is one of ours, so no field may hold
// invalid UTF-8 or control characters, and none is that long. Checked once,
// here, so no page handler can forget it — PostgreSQL would refuse such text
// with an error where SQLite would store it.
func (h *Handler) badForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	if err := r.ParseForm(); err != nil {
		return false // the handler reports unreadable bodies as it always has
	}
	err := safetext.Values(r.PostForm, maxFormField)
	if err == nil {
		return false
	}
	h.log.Info("web: form refused", "path", r.URL.Path, "err", err)
	h.Render(w, r, http.StatusBadRequest, "error.html", Page{
		Title: "This form could not be accepted",
		Error: "A field holds characters that cannot be accepted (control characters or invalid text), or is far too long. Nothing was changed. Go back, correct it and try again.",
	})
	return true
}

// CurrentUser returns the signed-in user and session of a request: ok is
// false when there is no session, or the session still owes its second
// factor.
func (h *Handler) CurrentUser(r *http.Request) (*store.User, *store.Session, bool) {
	st := h.state(r)
	if st.sess == nil || st.sess.MFAPending {
		return nil, nil, false
	}
	return st.user, st.sess, true
}

// RequireUser returns the signed-in user or, when there is none, redirects
// to the sign-in page (which comes back to this URL) and returns ok=false.
func (h *Handler) RequireUser(w http.ResponseWriter, r *http.Request) (*store.User, *store.Session, bool) {
	u, s, ok := h.CurrentUser(r)
	if !ok {
		h.RedirectToLogin(w, r, r.URL.RequestURI(), false)
		return nil, nil, false
	}
	return u, s, true
}

// RedirectToLogin sends the browser to the sign-in page — or the sign-up
// page when signup is true (the authorization request's intention=signup,
// seed 004) — which returns to returnTo afterwards.
func (h *Handler) RedirectToLogin(w http.ResponseWriter, r *http.Request, returnTo string, signup bool) {
	http.Redirect(w, r, LoginURL(returnTo, signup && !h.cfg.DisableSignup), http.StatusSeeOther)
}

// ReauthURL is the sign-in page asking a signed-in user to sign in again
// (prompt=login), then returning to returnTo. Showing it changes nothing: the
// current session stays until the new sign-in, second factor included,
// succeeds.
func ReauthURL(returnTo string) string {
	p := "/login?reauth=1"
	if rt := SafeReturnTo(returnTo); rt != "" {
		p += "&return_to=" + url.QueryEscape(rt)
	}
	return p
}

// LoginURL is /login?return_to=… (or /signup?return_to=…).
func LoginURL(returnTo string, signup bool) string {
	p := "/login"
	if signup {
		p = "/signup"
	}
	if rt := SafeReturnTo(returnTo); rt != "" {
		p += "?return_to=" + url.QueryEscape(rt)
	}
	return p
}

func (h *Handler) setSessionCookie(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: h.sessionCookie, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) setPendingCookie(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: h.pendingCookie, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearPendingCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.pendingCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// ---------------------------------------------------------------- CSRF

// CSRF tokens are HMACs (under the server pepper) of a secret the browser
// holds in an HttpOnly cookie: the session's CSRFSecret once signed in, or a
// random pre-session cookie before (so the sign-in and sign-up forms are
// protected against login CSRF too). A cross-site page can neither read the
// cookie nor the token. On top, net/http's CrossOriginProtection refuses
// cross-origin POSTs by Sec-Fetch-Site / Origin.

const csrfField = "csrf_token"

func (h *Handler) sessionCSRF(sess *store.Session) string {
	return h.hasher.Hash("csrf:session:" + sess.CSRFSecret)
}

func (h *Handler) anonCSRF(cookie string) string {
	return h.hasher.Hash("csrf:anon:" + cookie)
}

// CSRFToken returns the token to put in the page's forms, setting the
// pre-session cookie on w if the browser has neither it nor a session.
func (h *Handler) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if st := h.state(r); st.sess != nil {
		return h.sessionCSRF(st.sess)
	}
	if c, err := r.Cookie(h.csrfCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 128 {
		return h.anonCSRF(c.Value)
	}
	v, err := h.id.NewRandomToken()
	if err != nil {
		h.log.Error("web: csrf cookie", "err", err)
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	// Later reads in this request (another form) must see the same value.
	r.AddCookie(&http.Cookie{Name: h.csrfCookie, Value: v})
	return h.anonCSRF(v)
}

// VerifyCSRF reports whether a state-changing request carries a valid CSRF
// token (form field csrf_token or header X-CSRF-Token) and is not a
// cross-origin browser request.
func (h *Handler) VerifyCSRF(r *http.Request) bool {
	if err := h.cop.Check(r); err != nil {
		return false
	}
	got := r.PostFormValue(csrfField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if got == "" {
		return false
	}
	if st := h.state(r); st.sess != nil && credential.Equal(got, h.sessionCSRF(st.sess)) {
		return true
	}
	if c, err := r.Cookie(h.csrfCookie); err == nil && len(c.Value) >= 32 && credential.Equal(got, h.anonCSRF(c.Value)) {
		return true
	}
	return false
}

// CSRFFailed answers 403 with an explanation page; nothing was changed.
func (h *Handler) CSRFFailed(w http.ResponseWriter, r *http.Request) {
	h.Render(w, r, http.StatusForbidden, "error.html", Page{
		Title: "This form has expired",
		Error: "The form could not be accepted: it has expired or was sent from another site. Nothing was changed. Go back, reload the page and try again.",
	})
}

// RequireCSRF wraps a POST handler with VerifyCSRF.
func (h *Handler) RequireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.VerifyCSRF(r) {
			h.CSRFFailed(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ---------------------------------------------------------------- return_to

// SafeReturnTo returns s when it is a same-origin relative reference that is
// safe to redirect to after sign-in — a path starting with exactly one "/"
// (not "//" or "/\", which browsers treat as another host), without a scheme,
// host, backslash or control character — and "" otherwise.
func SafeReturnTo(s string) string {
	if s == "" || len(s) > 4096 || s[0] != '/' {
		return ""
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	// A percent-encoded slash or backslash at the start would be decoded by
	// some servers and proxies into "//host".
	if p := strings.ToLower(s); strings.HasPrefix(p, "/%2f") || strings.HasPrefix(p, "/%5c") {
		return ""
	}
	return s
}

func returnToOr(s, def string) string {
	if rt := SafeReturnTo(s); rt != "" {
		return rt
	}
	return def
}

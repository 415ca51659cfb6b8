// Package portal serves the developer portal: a signed-in user registers and
// manages their apps (OAuth clients) and, in a sandbox deployment, creates
// test users. It holds no app rules: every change goes through the apps
// service with the user as the actor; these handlers parse forms and render
// pages (through the account pages' layout, CSRF and session helpers).
package portal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// Config configures the portal.
type Config struct {
	// Sandbox enables the test-user page (the `environment` setting).
	Sandbox bool
}

// Handler serves the portal pages and the public app logos.
type Handler struct {
	cfg    Config
	web    *web.Handler
	apps   *apps.Service
	id     *identity.Service
	scopes *scope.Holder
	log    *slog.Logger
	hooks  *webhook.Service // nil: no webhook pages
}

// New builds the portal. scopes may be nil (built-in scopes only).
func New(cfg Config, pages *web.Handler, appSvc *apps.Service, id *identity.Service, scopes *scope.Holder, log *slog.Logger) (*Handler, error) {
	if pages == nil || appSvc == nil || id == nil {
		return nil, errors.New("portal: pages, apps service and identity service are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if scopes == nil {
		scopes = scope.NewHolder(scope.Builtin())
	}
	return &Handler{cfg: cfg, web: pages, apps: appSvc, id: id, scopes: scopes, log: log}, nil
}

// Routes mounts the portal. Every POST is CSRF-checked before its handler
// runs; the forms that upload a logo are multipart and size-limited first.
func (h *Handler) Routes(mux *http.ServeMux) {
	get := func(path string, f http.HandlerFunc) { mux.Handle("GET "+path, h.web.Wrap(f)) }
	post := func(path string, f http.HandlerFunc) {
		mux.Handle("POST "+path, h.multipart(h.web.Wrap(h.web.RequireCSRF(f))))
	}
	get("/portal", h.index)
	get("/portal/apps/new", h.newPage)
	post("/portal/apps/new", h.register)
	get("/portal/apps/{id}", h.show)
	post("/portal/apps/{id}/edit", h.edit)
	post("/portal/apps/{id}/logo", h.setLogo)
	post("/portal/apps/{id}/scopes", h.requestScopes)
	post("/portal/apps/{id}/secrets/rotate", h.rotate)
	post("/portal/apps/{id}/secrets/retire", h.retire)
	post("/portal/apps/{id}/api-keys", h.createKey)
	post("/portal/apps/{id}/api-keys/revoke", h.revokeKey)
	post("/portal/apps/{id}/delete", h.delete)
	get("/portal/test-users", h.testUsersPage)
	post("/portal/test-users", h.createTestUser)
	h.webhookRoutes(get, post)
	mux.HandleFunc("GET /apps/{id}/logo.png", h.logo)
}

// maxUpload bounds a multipart form: the largest logo plus room for the
// form's text fields.
const maxUpload = apps.MaxLogoBytes + 64<<10

// multipart reads a multipart form (the logo uploads) with a size limit
// before anything else looks at the body, so the CSRF check and the text
// check of every field (web.Handler.Wrap) see its fields; the file stays
// in r.MultipartForm.
func (h *Handler) multipart(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
		if err := r.ParseMultipartForm(maxUpload); err != nil {
			var tooBig *http.MaxBytesError
			status, msg := http.StatusBadRequest, "The form could not be read. Nothing was changed. Go back and try again."
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, "The upload is too large: a logo may be at most 1 MiB. Nothing was changed. Go back and choose a smaller image."
			}
			h.web.Render(w, r, status, "error.html", web.Page{Title: "This form could not be accepted", Error: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ---------------------------------------------------------------- helpers

// user is the signed-in user, or a redirect to sign in (coming back to the
// portal page the request was about).
func (h *Handler) user(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, _, ok := h.web.CurrentUser(r)
	if !ok {
		back := r.URL.Path
		if r.Method != http.MethodGet {
			back = "/portal"
			if id := r.PathValue("id"); id != "" {
				back = "/portal/apps/" + id
			}
		}
		h.web.RedirectToLogin(w, r, back, false)
		return nil, false
	}
	return u, true
}

// actor is the user as the apps service sees them. A POST here passed the
// CSRF check on a signed-in browser session: the user is present in person
// (apps.Actor.InPerson), which is what lets a form mint a secret.
func actor(u *store.User, r *http.Request) apps.Actor {
	return apps.UserActor(u.ID, r.Method == http.MethodPost)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.web.Render(w, r, http.StatusNotFound, "not_found.html", web.Page{Title: "Page not found"})
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("portal: request failed", "path", r.URL.Path, "err", err)
	h.web.Render(w, r, http.StatusInternalServerError, "error.html", web.Page{
		Title: "Something went wrong",
		Error: "The request could not be completed. Nothing was changed. Try again in a moment.",
	})
}

// fail renders the error the service returned for a request about an app:
// 404 for an app the user may not see (the same answer as no app at all),
// the service's own sentence for the errors made to be shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) (status int, msg string, handled bool) {
	switch {
	case errors.Is(err, apps.ErrNotFound):
		h.notFound(w, r)
		return 0, "", true
	case errors.Is(err, apps.ErrForbidden):
		return http.StatusForbidden, "You may not do that with this app.", false
	case errors.Is(err, apps.ErrNeedsInPerson):
		return http.StatusForbidden, "Sign in again and use this page to do that.", false
	case errors.Is(err, apps.ErrEmailUnverified):
		return http.StatusForbidden, "Verify your email address before registering an app.", false
	case errors.Is(err, apps.ErrTooManySecrets):
		return http.StatusConflict, "An app has at most two live secrets: retire the old one first.", false
	case errors.Is(err, apps.ErrInvalid):
		return http.StatusBadRequest, "Please correct the highlighted fields.", false
	}
	h.serverError(w, r, err)
	return 0, "", true
}

// fieldErrors turns the service's field messages into one line per field.
func fieldErrors(err error) map[string]string {
	out := map[string]string{}
	var ie *apps.InvalidError
	if errors.As(err, &ie) {
		for f, msgs := range ie.Fields {
			out[f] = strings.Join(msgs, " ")
		}
	}
	return out
}

// uriList splits the redirect-URI field: URIs separated by spaces (a URI
// holds none; the form field is one line, as every field here must be
// acceptable text without control characters, line breaks included).
func uriList(s string) []string {
	return strings.Fields(s)
}

// logoFile returns the uploaded logo, nil when none was chosen.
func logoFile(r *http.Request) ([]byte, error) {
	f, _, err := r.FormFile("logo")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, apps.MaxLogoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// LogoURL is where an app's stored logo is served; v changes with the app
// so a replaced logo is not read from a cache.
func LogoURL(a apps.App) string {
	if !a.HasLogo {
		return ""
	}
	return "/apps/" + a.ID + "/logo.png?v=" + a.Updated.UTC().Format("20060102150405")
}

// scopeChoice is one scope on the forms.
type scopeChoice struct {
	scope.Scope
	Checked, Approved, Pending bool
}

// grantChoice is one grant type on the forms.
type grantChoice struct {
	Name, Label                string
	Checked, Approved, Pending bool
}

var grantLabels = []struct{ Name, Label string }{
	{"authorization_code", "Authorization code — people sign in and allow your app"},
	{"refresh_token", "Refresh tokens — keep access without asking again"},
	{"client_credentials", "Client credentials — your app acts as itself (reviewed separately)"},
}

// scopeChoices lists the scopes an app may ask for: those a user can grant
// it and those an app credential can carry.
func (h *Handler) scopeChoices(checked, approved, pending []string) []scopeChoice {
	var out []scopeChoice
	for _, s := range h.scopes.Load().All() {
		if !s.Delegate && !s.App {
			continue
		}
		out = append(out, scopeChoice{Scope: s, Checked: slices.Contains(checked, s.Name),
			Approved: slices.Contains(approved, s.Name), Pending: slices.Contains(pending, s.Name)})
	}
	return out
}

func grantChoices(checked, approved, pending []string) []grantChoice {
	var out []grantChoice
	for _, g := range grantLabels {
		out = append(out, grantChoice{Name: g.Name, Label: g.Label, Checked: slices.Contains(checked, g.Name),
			Approved: slices.Contains(approved, g.Name), Pending: slices.Contains(pending, g.Name)})
	}
	return out
}

// ---------------------------------------------------------------- my apps

type appItem struct {
	apps.App
	Logo string
}

type indexData struct {
	Apps    []appItem
	Sandbox bool
}

var notices = map[string]string{
	"deleted": "The app was deleted; its tokens, grants and keys no longer work.",
	"retired": "The secret was retired: it no longer works.",
	"saved":   "Your changes were saved.",
	"revoked": "The API key was revoked.",
	"logo":    "The logo was updated.",
	"asked":   "Your request was sent for review. What is already approved keeps working.",
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	list, _, err := h.apps.List(r.Context(), actor(u, r), apps.ListFilter{Owner: u.ID, Limit: 200})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := indexData{Sandbox: h.cfg.Sandbox}
	for _, a := range list {
		d.Apps = append(d.Apps, appItem{App: a, Logo: LogoURL(a)})
	}
	h.web.Render(w, r, http.StatusOK, "portal_index.html", web.Page{
		Title: "Your apps", Notice: notices[r.URL.Query().Get("msg")], Data: d,
	})
}

// ---------------------------------------------------------------- register

type newData struct {
	In          apps.RegisterInput
	Redirects   string
	Types       []typeChoice
	Scopes      []scopeChoice
	Grants      []grantChoice
	FieldErrors map[string]string
	Sandbox     bool
}

type typeChoice struct {
	Value, Label, Hint string
	Checked            bool
}

func typeChoices(sel string) []typeChoice {
	if sel == "" {
		sel = apps.TypeWeb
	}
	out := []typeChoice{
		{apps.TypeWeb, "Web app", "Runs on your server, which keeps a client secret.", false},
		{apps.TypeSPA, "Single-page app", "Runs in the browser; no secret, uses PKCE.", false},
		{apps.TypeNative, "Native app", "A mobile or desktop app; no secret, uses PKCE.", false},
		{apps.TypeM2M, "Machine to machine", "A server acting as itself (client credentials); reviewed separately.", false},
	}
	for i := range out {
		out[i].Checked = out[i].Value == sel
	}
	return out
}

func (h *Handler) renderNew(w http.ResponseWriter, r *http.Request, status int, msg string, in apps.RegisterInput, errs map[string]string) {
	h.web.Render(w, r, status, "portal_new.html", web.Page{
		Title: "Register an app", Error: msg,
		Data: newData{In: in, Redirects: strings.Join(in.RedirectURIs, " "), Types: typeChoices(in.Type),
			Scopes: h.scopeChoices(in.Scopes, nil, nil), Grants: grantChoices(in.GrantTypes, nil, nil),
			FieldErrors: errs, Sandbox: h.cfg.Sandbox},
	})
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.user(w, r); !ok {
		return
	}
	h.renderNew(w, r, http.StatusOK, "", apps.RegisterInput{}, nil)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	in := apps.RegisterInput{
		Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		HomepageURL: strings.TrimSpace(r.PostFormValue("homepage_url")), PrivacyURL: strings.TrimSpace(r.PostFormValue("privacy_url")),
		TermsURL: strings.TrimSpace(r.PostFormValue("terms_url")), Type: r.PostFormValue("type"),
		RedirectURIs: uriList(r.PostFormValue("redirect_uris")), Scopes: r.PostForm["scope"], GrantTypes: r.PostForm["grant_type"],
		AccessTokenFormat: r.PostFormValue("access_token_format"), SubjectType: r.PostFormValue("subject_type"),
	}
	logo, err := logoFile(r)
	if err != nil {
		h.renderNew(w, r, http.StatusBadRequest, "The logo could not be read. Choose the file again.", in, map[string]string{"logo": "The logo could not be read."})
		return
	}
	if len(logo) > apps.MaxLogoBytes {
		h.renderNew(w, r, http.StatusBadRequest, "Please correct the highlighted fields.", in, map[string]string{"logo": "A logo may be at most 1 MiB."})
		return
	}
	app, secret, err := h.apps.Register(r.Context(), actor(u, r), in)
	if err != nil {
		status, msg, handled := h.fail(w, r, err)
		if !handled {
			fe := fieldErrors(err)
			h.renderNew(w, r, status, alertText(msg, fe), in, fe)
		}
		return
	}
	notice := "Your app is registered."
	if app.Status == apps.StatusPending {
		notice += " It is pending review: it cannot obtain tokens until it is approved."
	}
	d := appPageData{NewSecret: secret}
	if logo != nil {
		if err := h.apps.SetLogo(r.Context(), actor(u, r), app.ID, logo); err != nil {
			// The app exists now; the page says what was wrong with the
			// logo and offers the upload again.
			d.FieldErrors = fieldErrors(err)
			if len(d.FieldErrors) == 0 {
				d.FieldErrors = map[string]string{"logo": "The logo could not be stored."}
			}
			notice += " The logo was not accepted: see below."
		} else if a, err := h.apps.Get(r.Context(), actor(u, r), app.ID); err == nil {
			app = a
		}
	}
	if secret == "" && d.FieldErrors == nil {
		// Nothing to show once: an ordinary redirect, so reloading does
		// not register the app again.
		http.Redirect(w, r, "/portal/apps/"+app.ID+"?msg=registered", http.StatusSeeOther)
		return
	}
	h.renderApp(w, r, u, app, http.StatusCreated, web.Page{Notice: notice}, d)
}

// ---------------------------------------------------------------- one app

type appPageData struct {
	App         apps.App
	Logo        string
	Types       []typeChoice
	Redirects   string
	Scopes      []scopeChoice
	Grants      []grantChoice
	Secrets     []apps.SecretInfo
	NewSecret   string // shown once: at registration or rotation
	Keys        []store.APIKey
	KeysOn      bool // the service manages API keys for this app
	KeyScopes   []scope.Scope
	NewKey      string // shown once
	FieldErrors map[string]string
	Sandbox     bool
	Webhooks    bool // the webhook pages are on
}

func (h *Handler) renderApp(w http.ResponseWriter, r *http.Request, u *store.User, a apps.App, status int, p web.Page, d appPageData) {
	d.App, d.Logo, d.Sandbox, d.Webhooks = a, LogoURL(a), h.cfg.Sandbox, h.hooks != nil
	d.Redirects = strings.Join(a.RedirectURIs, " ")
	d.Scopes = h.scopeChoices(nil, a.Scopes, a.PendingScopes)
	d.Grants = grantChoices(nil, a.GrantTypes, a.PendingGrants)
	d.Secrets = slices.Clone(a.Secrets)
	sort.SliceStable(d.Secrets, func(i, j int) bool { return d.Secrets[i].Created.After(d.Secrets[j].Created) })
	if d.FieldErrors == nil {
		d.FieldErrors = map[string]string{}
	}
	if keys, err := h.apps.ListAPIKeys(r.Context(), apps.UserActor(u.ID, false), a.ID); err == nil {
		d.Keys, d.KeysOn = keys, true
		for _, sc := range h.scopes.Load().All() {
			if sc.App {
				d.KeyScopes = append(d.KeyScopes, sc)
			}
		}
	}
	if p.Title == "" {
		p.Title = a.Name
	}
	p.Data = d
	h.web.Render(w, r, status, "portal_app.html", p)
}

// load returns the app of the request if the signed-in user may see it.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (*store.User, apps.App, bool) {
	u, ok := h.user(w, r)
	if !ok {
		return nil, apps.App{}, false
	}
	a, err := h.apps.Get(r.Context(), apps.UserActor(u.ID, false), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return nil, apps.App{}, false
	}
	return u, a, true
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	notice := notices[r.URL.Query().Get("msg")]
	if r.URL.Query().Get("msg") == "registered" {
		notice = "Your app is registered."
		if a.Status == apps.StatusPending {
			notice += " It is pending review: it cannot obtain tokens until it is approved."
		}
	}
	h.renderApp(w, r, u, a, http.StatusOK, web.Page{Notice: notice}, appPageData{})
}

// after answers a change: back to the app page with a fixed notice, or
// the page again with the service's complaint.
func (h *Handler) after(w http.ResponseWriter, r *http.Request, u *store.User, err error, msg string) {
	if err == nil {
		http.Redirect(w, r, "/portal/apps/"+r.PathValue("id")+"?msg="+msg, http.StatusSeeOther)
		return
	}
	status, text, handled := h.fail(w, r, err)
	if handled {
		return
	}
	a, gerr := h.apps.Get(r.Context(), apps.UserActor(u.ID, false), r.PathValue("id"))
	if gerr != nil {
		h.fail(w, r, gerr)
		return
	}
	fe := fieldErrors(err)
	h.renderApp(w, r, u, a, status, web.Page{Error: alertText(text, fe)}, appPageData{FieldErrors: fe})
}

// alertText is the page's alert: the service's problems that belong to no
// one field when there are some, else msg.
func alertText(msg string, fe map[string]string) string {
	if general := fe[""]; general != "" {
		return general
	}
	return msg
}

func optional(r *http.Request, name string) *string {
	if _, ok := r.PostForm[name]; !ok {
		return nil
	}
	v := strings.TrimSpace(r.PostFormValue(name))
	return &v
}

func (h *Handler) edit(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	in := apps.UpdateInput{
		Name: optional(r, "name"), Description: optional(r, "description"),
		HomepageURL: optional(r, "homepage_url"), PrivacyURL: optional(r, "privacy_url"), TermsURL: optional(r, "terms_url"),
		AccessTokenFormat: optional(r, "access_token_format"), SubjectType: optional(r, "subject_type"),
	}
	if _, ok := r.PostForm["redirect_uris"]; ok {
		uris := uriList(r.PostFormValue("redirect_uris"))
		in.RedirectURIs = &uris
	}
	_, err := h.apps.Update(r.Context(), actor(u, r), r.PathValue("id"), in)
	h.after(w, r, u, err, "saved")
}

func (h *Handler) setLogo(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	logo, err := logoFile(r)
	switch {
	case err != nil:
		err = &apps.InvalidError{Fields: map[string][]string{"logo": {"The logo could not be read. Choose the file again."}}}
	case logo == nil:
		err = &apps.InvalidError{Fields: map[string][]string{"logo": {"Choose an image file."}}}
	case len(logo) > apps.MaxLogoBytes:
		err = &apps.InvalidError{Fields: map[string][]string{"logo": {"A logo may be at most 1 MiB."}}}
	default:
		err = h.apps.SetLogo(r.Context(), actor(u, r), r.PathValue("id"), logo)
	}
	h.after(w, r, u, err, "logo")
}

func (h *Handler) requestScopes(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	_, err := h.apps.RequestScopes(r.Context(), actor(u, r), r.PathValue("id"), r.PostForm["scope"], r.PostForm["grant_type"])
	h.after(w, r, u, err, "asked")
}

func (h *Handler) rotate(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	secret, _, err := h.apps.RotateSecret(r.Context(), actor(u, r), r.PathValue("id"))
	if err != nil {
		h.after(w, r, u, err, "")
		return
	}
	a, err := h.apps.Get(r.Context(), actor(u, r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The new secret is in this response only: it is not stored anywhere
	// it could be read back from.
	h.renderApp(w, r, u, a, http.StatusOK, web.Page{
		Notice: "A new secret was added. The previous one keeps working until you retire it (or its grace period ends).",
	}, appPageData{NewSecret: secret})
}

func (h *Handler) retire(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	err := h.apps.RetireSecret(r.Context(), actor(u, r), r.PathValue("id"), r.PostFormValue("secret_id"))
	h.after(w, r, u, err, "retired")
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	a, err := h.apps.Get(r.Context(), actor(u, r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.apps.CreateAPIKey(r.Context(), actor(u, r), apps.APIKeyInput{
		ClientID: a.ClientID, Name: strings.TrimSpace(r.PostFormValue("key_name")), Scopes: r.PostForm["key_scope"],
	})
	var kie *apikey.InvalidError
	switch {
	case err == nil:
	case errors.As(err, &kie):
		field := "key_name"
		if kie.Field == "scopes" {
			field = "key_scope"
		}
		h.renderApp(w, r, u, a, http.StatusBadRequest, web.Page{Error: "Please correct the highlighted fields."},
			appPageData{FieldErrors: map[string]string{field: kie.Message}})
		return
	case errors.Is(err, apikey.ErrTooMany):
		h.renderApp(w, r, u, a, http.StatusConflict, web.Page{Error: "This app has as many API keys as it may have: revoke one first."}, appPageData{})
		return
	default:
		h.after(w, r, u, err, "")
		return
	}
	h.renderApp(w, r, u, a, http.StatusCreated, web.Page{Notice: "The API key was created."}, appPageData{NewKey: c.Secret})
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	err := h.apps.RevokeAPIKey(r.Context(), actor(u, r), r.PathValue("id"), r.PostFormValue("key_id"))
	h.after(w, r, u, err, "revoked")
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		h.after(w, r, u, &apps.InvalidError{Fields: map[string][]string{"confirm": {"Tick the box to confirm that the app and everything issued to it should be deleted."}}}, "")
		return
	}
	if err := h.apps.Delete(r.Context(), actor(u, r), r.PathValue("id")); err != nil {
		h.after(w, r, u, err, "")
		return
	}
	http.Redirect(w, r, "/portal?msg=deleted", http.StatusSeeOther)
}

// ---------------------------------------------------------------- logo

// logo serves an app's stored logo. Logos are public — the consent page
// shows them to people who are not the app's developer — and always the PNG
// the apps service re-encoded, never the uploaded bytes.
func (h *Handler) logo(w http.ResponseWriter, r *http.Request) {
	b, ctype, err := h.apps.Logo(r.Context(), r.PathValue("id"))
	if errors.Is(err, apps.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log.Error("portal: logo", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if ctype != "image/png" {
		// Only re-encoded PNGs are stored; anything else is not served as
		// an image from this origin.
		h.log.Error("portal: logo of unexpected type", "type", ctype)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	hd := w.Header()
	hd.Set("Content-Type", "image/png")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("ETag", etag)
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "logo.png", time.Time{}, bytes.NewReader(b))
}

// ---------------------------------------------------------------- test users

type testUsersData struct {
	Email, Name string
	Created     string
	FieldErrors map[string]string
}

func (h *Handler) testUsersPage(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Sandbox {
		h.notFound(w, r)
		return
	}
	if _, ok := h.user(w, r); !ok {
		return
	}
	h.web.Render(w, r, http.StatusOK, "portal_test_users.html", web.Page{Title: "Test users", Data: testUsersData{FieldErrors: map[string]string{}}})
}

// createTestUser makes an ordinary account in the sandbox's own database,
// for signing in to the developer's app while testing it.
func (h *Handler) createTestUser(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Sandbox {
		h.notFound(w, r)
		return
	}
	u, ok := h.user(w, r)
	if !ok {
		return
	}
	d := testUsersData{Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")), FieldErrors: map[string]string{}}
	nu, err := h.id.CreateUser(r.Context(), identity.NewUser{Email: d.Email, Name: d.Name, Password: r.PostFormValue("password")})
	var pe *identity.PolicyError
	switch {
	case err == nil:
		h.log.Info("portal: test user created", "by", u.ID, "user", nu.ID)
		d.Created, d.Email, d.Name = nu.Email, "", ""
		h.web.Render(w, r, http.StatusCreated, "portal_test_users.html", web.Page{Title: "Test users", Notice: "Test user " + nu.Email + " created: sign in with it in a private window to try your app.", Data: d})
		return
	case errors.Is(err, identity.ErrEmailTaken):
		d.FieldErrors["email"] = "An account with this email already exists."
	case errors.Is(err, identity.ErrInvalidEmail):
		d.FieldErrors["email"] = "Enter an email address, like test1@example.com."
	case errors.Is(err, identity.ErrInvalidName):
		d.FieldErrors["name"] = "Use at most 100 characters, without control characters."
	case errors.As(err, &pe):
		d.FieldErrors["password"] = pe.Message
	default:
		h.serverError(w, r, err)
		return
	}
	h.web.Render(w, r, http.StatusBadRequest, "portal_test_users.html", web.Page{Title: "Test users", Error: "Please correct the highlighted fields.", Data: d})
}

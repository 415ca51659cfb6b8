package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TokenPages serves the personal-access-token page of the account settings,
// /account/tokens: list, create (with the password and, when two-factor is
// on, a current TOTP code — the same proof POST /v0/me/tokens asks for) and
// revoke.
type TokenPages struct {
	h    *Handler
	pats *pat.Service
}

// NewTokenPages returns the area; mount it next to the account pages.
func NewTokenPages(h *Handler, pats *pat.Service) *TokenPages {
	return &TokenPages{h: h, pats: pats}
}

// Routes implements server.Area.
func (tp *TokenPages) Routes(mux *http.ServeMux) {
	mux.Handle("GET /account/tokens", tp.h.Wrap(http.HandlerFunc(tp.page)))
	mux.Handle("POST /account/tokens", tp.h.Wrap(http.HandlerFunc(tp.create)))
	mux.Handle("POST /account/tokens/revoke", tp.h.Wrap(http.HandlerFunc(tp.revoke)))
}

type tokenView struct {
	ID          string
	Description string
	Scopes      []string
	Created     time.Time
	LastUsed    *time.Time
	Expires     *time.Time
	Expired     bool
}

type scopeOption struct {
	Name, Description string
	Checked           bool
}

type expiryOption struct {
	Value, Label string
	Selected     bool
}

type newToken struct {
	Token, Description string
}

type tokensData struct {
	Tokens      []tokenView
	Scopes      []scopeOption
	Expiries    []expiryOption
	Description string
	TwoFactor   bool
	FieldErrors map[string]string
	New         *newToken
}

// expiryChoices are the lifetimes offered (days; "" = no expiry).
var expiryChoices = []struct{ value, label string }{
	{"30", "30 days"}, {"90", "90 days"}, {"365", "1 year"}, {"", "No expiry"},
}

var tokenNotices = map[string]string{
	"revoked": "The token was revoked. Scripts using it will get 401 from now on.",
}

func (tp *TokenPages) page(w http.ResponseWriter, r *http.Request) {
	u, _, ok := tp.h.RequireUser(w, r)
	if !ok {
		return
	}
	d := &tokensData{FieldErrors: map[string]string{}}
	tp.fillForm(d, u, nil, "90")
	tp.render(w, r, u, http.StatusOK, Page{Notice: tokenNotices[r.URL.Query().Get("msg")]}, d)
}

func (tp *TokenPages) fillForm(d *tokensData, u *store.User, checked []string, expiry string) {
	d.TwoFactor = u.TOTPEnabled
	d.Scopes = d.Scopes[:0]
	for _, sc := range tp.pats.Catalog().For(scope.PAT) {
		if sc.AdminOnly && !u.Admin {
			continue
		}
		// Administrator-only scopes are never ticked by default.
		on := (checked == nil && !sc.AdminOnly) || contains(checked, sc.Name)
		d.Scopes = append(d.Scopes, scopeOption{Name: sc.Name, Description: sc.Description, Checked: on})
	}
	d.Expiries = d.Expiries[:0]
	for _, c := range expiryChoices {
		d.Expiries = append(d.Expiries, expiryOption{Value: c.value, Label: c.label, Selected: c.value == expiry})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (tp *TokenPages) render(w http.ResponseWriter, r *http.Request, u *store.User, status int, p Page, d *tokensData) {
	list, err := tp.pats.List(r.Context(), u.ID)
	if err != nil {
		tp.h.serverError(w, r, err)
		return
	}
	now := tp.h.now()
	for _, t := range list {
		d.Tokens = append(d.Tokens, tokenView{
			ID: t.ID, Description: t.Description, Scopes: t.Scopes, Created: t.CreatedAt,
			LastUsed: t.LastUsedAt, Expires: t.ExpiresAt, Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt),
		})
	}
	p.Title = "Personal access tokens"
	p.User = u
	p.Data = d
	tp.h.Render(w, r, status, "tokens.html", p)
}

func (tp *TokenPages) create(w http.ResponseWriter, r *http.Request) {
	if !tp.h.VerifyCSRF(r) {
		tp.h.CSRFFailed(w, r)
		return
	}
	u, _, ok := tp.h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, LoginURL("/account/tokens", false), http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		tp.h.serverError(w, r, err)
		return
	}
	d := &tokensData{Description: r.PostFormValue("description"), FieldErrors: map[string]string{}}
	scopes := r.PostForm["scope"]
	if scopes == nil {
		scopes = []string{}
	}
	expiry := r.PostFormValue("expires_days")
	tp.fillForm(d, u, scopes, expiry)
	fail := func(status int, msg string) {
		tp.render(w, r, u, status, Page{Error: msg}, d)
	}

	// The same proof as the API: password, plus a TOTP code when two-factor
	// is on (recovery codes are for signing in only).
	_, err := tp.h.id.AuthenticateBasic(r.Context(), u.Email, r.PostFormValue("password"), r.PostFormValue("otp"), tp.h.clientIP(r))
	if status, msg, ok := tp.h.notNow(w, err); ok {
		fail(status, msg)
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrInvalidCredentials):
		d.FieldErrors["password"] = "That password is not right."
		fail(http.StatusUnauthorized, "Please correct the highlighted fields.")
		return
	case errors.Is(err, identity.ErrOTPRequired):
		d.FieldErrors["otp"] = "Enter the current code from your authenticator app."
		fail(http.StatusUnauthorized, "Please correct the highlighted fields.")
		return
	case errors.Is(err, identity.ErrInvalidCode), errors.Is(err, identity.ErrCodeReused):
		d.FieldErrors["otp"] = "That code is not right, or it was already used. Wait for the next code and try again."
		fail(http.StatusUnauthorized, "Please correct the highlighted fields.")
		return
	default:
		tp.h.serverError(w, r, err)
		return
	}

	// The rule every credential-minting path asks (authn.InPerson): here the
	// owner is present as a signed-in session on a CSRF-checked form, who has
	// just typed the password (and code) again.
	if err := authn.InPerson(&authn.Principal{UserID: u.ID, Method: authn.MethodSession}); err != nil {
		tp.h.serverError(w, r, err)
		return
	}
	req := pat.CreateRequest{UserID: u.ID, Description: d.Description, Scopes: scopes}
	if expiry != "" {
		days, err := strconv.Atoi(expiry)
		if err != nil || days <= 0 {
			d.FieldErrors["expires_days"] = "Choose one of the offered lifetimes."
			fail(http.StatusBadRequest, "Please correct the highlighted fields.")
			return
		}
		req.ExpiresIn = time.Duration(days) * 24 * time.Hour
	}
	c, err := tp.pats.Create(r.Context(), req)
	var ie *pat.InvalidError
	switch {
	case errors.As(err, &ie):
		field := map[string]string{"scopes": "scope", "expires_in": "expires_days"}[ie.Field]
		if field == "" {
			field = ie.Field
		}
		d.FieldErrors[field] = ie.Message
		fail(http.StatusBadRequest, "Please correct the highlighted fields.")
		return
	case errors.Is(err, pat.ErrTooMany):
		fail(http.StatusConflict, "You have too many personal access tokens. Revoke some you no longer use first.")
		return
	case err != nil:
		tp.h.serverError(w, r, err)
		return
	}
	// Shown on this response only (Render sends Cache-Control: no-store);
	// a fresh form below.
	nd := &tokensData{FieldErrors: map[string]string{}, New: &newToken{Token: c.Token, Description: c.PAT.Description}}
	tp.fillForm(nd, u, nil, "90")
	tp.render(w, r, u, http.StatusOK, Page{}, nd)
}

func (tp *TokenPages) revoke(w http.ResponseWriter, r *http.Request) {
	if !tp.h.VerifyCSRF(r) {
		tp.h.CSRFFailed(w, r)
		return
	}
	u, _, ok := tp.h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, LoginURL("/account/tokens", false), http.StatusSeeOther)
		return
	}
	err := tp.pats.Revoke(r.Context(), u.ID, r.PostFormValue("id"))
	switch {
	case errors.Is(err, pat.ErrNotFound):
		d := &tokensData{FieldErrors: map[string]string{}}
		tp.fillForm(d, u, nil, "90")
		tp.render(w, r, u, http.StatusNotFound, Page{Error: "That token does not exist or was already revoked."}, d)
		return
	case err != nil:
		tp.h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/tokens?msg=revoked", http.StatusSeeOther)
}

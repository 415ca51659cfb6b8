package web

import (
	"net/http"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// OAuthUI draws the OAuth pages — consent, authorization errors, authorized
// apps — and gives the OAuth handlers the session and CSRF helpers. It
// implements oauth.UI.
type OAuthUI struct{ h *Handler }

// OAuthUI returns the oauth.UI of these pages.
func (h *Handler) OAuthUI() *OAuthUI { return &OAuthUI{h: h} }

var _ oauth.UI = (*OAuthUI)(nil)

// Wrap implements oauth.UI.
func (u *OAuthUI) Wrap(next http.Handler) http.Handler { return u.h.Wrap(next) }

// CurrentUser implements oauth.UI: the user of a fully signed-in session and
// when the session was created (the time of sign-in).
func (u *OAuthUI) CurrentUser(r *http.Request) (string, time.Time, bool) {
	usr, sess, ok := u.h.CurrentUser(r)
	if !ok {
		return "", time.Time{}, false
	}
	return usr.ID, sess.CreatedAt, true
}

// RedirectToLogin implements oauth.UI.
func (u *OAuthUI) RedirectToLogin(w http.ResponseWriter, r *http.Request, returnTo string, signup bool) {
	u.h.RedirectToLogin(w, r, returnTo, signup)
}

// Reauthenticate implements oauth.UI (prompt=login): the browser goes to the
// sign-in page, which asks for the password (and second factor) again. The
// current session is left alone — this runs on a GET, which any other site
// can trigger, so it must not sign the user out — and is replaced only once
// the new sign-in succeeds.
func (u *OAuthUI) Reauthenticate(w http.ResponseWriter, r *http.Request, returnTo string) {
	http.Redirect(w, r, ReauthURL(returnTo), http.StatusSeeOther)
}

// VerifyCSRF implements oauth.UI.
func (u *OAuthUI) VerifyCSRF(r *http.Request) bool { return u.h.VerifyCSRF(r) }

// CSRFFailed implements oauth.UI.
func (u *OAuthUI) CSRFFailed(w http.ResponseWriter, r *http.Request) { u.h.CSRFFailed(w, r) }

type hiddenField struct{ Name, Value string }

type consentData struct {
	View   *oauth.ConsentView
	Fields []hiddenField
	Action string
	// NotYouReturnTo is the authorization request itself: "Not you?" signs
	// out and comes back to it, so the right person can sign in and decide.
	NotYouReturnTo string
}

// RenderConsent implements oauth.UI.
func (u *OAuthUI) RenderConsent(w http.ResponseWriter, r *http.Request, v *oauth.ConsentView) {
	var fields []hiddenField
	for name, vals := range v.Fields {
		for _, val := range vals {
			fields = append(fields, hiddenField{name, val})
		}
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	u.h.Render(w, r, http.StatusOK, "oauth_consent.html", Page{
		Title: "Allow " + v.ClientName + " to use your account?",
		Data: consentData{View: v, Fields: fields, Action: oauth.PathConsent,
			NotYouReturnTo: SafeReturnTo(oauth.PathAuthorize + "?" + v.Fields.Encode())},
	})
}

type oauthErrorData struct {
	Code        string
	Description string
}

// RenderError implements oauth.UI. The page names the problem but offers no
// link back to the application: its redirect URI is not trusted.
func (u *OAuthUI) RenderError(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	status := http.StatusBadRequest
	title := "This authorization request is not valid"
	if e.Status >= 500 {
		status = e.Status
		title = "Something went wrong"
	}
	u.h.Render(w, r, status, "oauth_error.html", Page{
		Title: title,
		Data:  oauthErrorData{Code: e.Code, Description: e.Description},
	})
}

// RenderApps implements oauth.UI.
func (u *OAuthUI) RenderApps(w http.ResponseWriter, r *http.Request, apps []oauth.AuthorizedApp, notice string) {
	u.h.Render(w, r, http.StatusOK, "oauth_apps.html", Page{
		Title: "Authorized apps", Notice: notice, Data: apps,
	})
}

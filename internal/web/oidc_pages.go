package web

import (
	"net/http"
	"net/url"
	"strings"
)

// RedirectToLoginAs implements oauth.UI: the sign-in page with the email
// field filled in (OpenID Connect login_hint). The hint is only a prefill:
// the user may sign in as anyone.
func (u *OAuthUI) RedirectToLoginAs(w http.ResponseWriter, r *http.Request, returnTo, email string, signup bool) {
	loc := LoginURL(returnTo, signup && !u.h.cfg.DisableSignup)
	if e := prefillEmail(email); e != "" {
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		loc += sep + "email=" + url.QueryEscape(e)
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// SignOut implements oauth.UI (RP-initiated logout with a valid
// id_token_hint): it ends the browser's session, as the sign-out form does.
func (u *OAuthUI) SignOut(w http.ResponseWriter, r *http.Request) error {
	h := u.h
	h.endPending(w, r)
	h.clearCodesCookie(w)
	if st := h.state(r); st.sess != nil {
		if err := h.id.EndSession(r.Context(), st.sess.ID); err != nil {
			return err
		}
	}
	h.clearSessionCookie(w)
	return nil
}

// ConfirmLogout implements oauth.UI: without proof of which app asks, the
// user confirms on the sign-out page, which has its own CSRF-protected form.
func (u *OAuthUI) ConfirmLogout(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/logout", http.StatusSeeOther)
}

package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/store"
)

// signInFailed is the one message for an unknown email, a wrong password, a
// disabled account and a locked one (enumeration resistance).
const signInFailed = "Sign-in failed. Check your email address and password and try again."

// notices are the fixed messages a redirect can ask for with ?msg=… (never
// free text from the URL).
var notices = map[string]string{
	"welcome":                  "Your account is ready, and you are signed in.",
	"account_exists":           "This email address already has an account. Sign in with its password to continue.",
	"signed_out":               "You have signed out.",
	"password_changed":         "Your password was changed. All your other sessions were ended.",
	"2fa_off":                  "Two-factor authentication is now off.",
	"session_ended":            "The session was ended.",
	"password_reset":           "Your password was changed and every session ended. Sign in with the new password.",
	"verification_sent":        "A confirmation link is on its way to your email address.",
	"sessions_ended":           "All your other sessions were ended.",
	"password_change_required": "An administrator requires you to choose a new password before you continue. Change it below.",
}

func (h *Handler) clientIP(r *http.Request) string { return h.cfg.ClientIP(r) }

func withReturnTo(p, returnTo string) string {
	if rt := SafeReturnTo(returnTo); rt != "" {
		return p + "?return_to=" + url.QueryEscape(rt)
	}
	return p
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrInvalidText) {
		// The database refused text the form check should have caught: the
		// input is at fault, not the server.
		h.log.Warn("web: text refused by the database", "path", r.URL.Path, "err", err)
		h.Render(w, r, http.StatusBadRequest, "error.html", Page{
			Title: "This form could not be accepted",
			Error: "A field holds characters that cannot be accepted. Nothing was changed. Go back, correct it and try again.",
		})
		return
	}
	h.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	h.Render(w, r, http.StatusInternalServerError, "error.html", Page{
		Title: "Something went wrong",
		Error: "Something went wrong on our side. Please try again in a moment.",
	})
}

func (h *Handler) throttled(w http.ResponseWriter, te *identity.ThrottledError) string {
	w.Header().Set("Retry-After", te.RetryAfterSeconds())
	return "Too many attempts. Wait " + humanDuration(te.RetryAfter) + " before trying again."
}

// busyMessage is what a page says when the password could not be checked
// because the server is computing as many password hashes as it allows.
const busyMessage = "The server is busy checking other passwords. Nothing was changed; try again in a few seconds."

// notNow maps the account service's two "not now" answers: too many
// attempts (429) and no password-hashing capacity (503), both with
// Retry-After. ok is false for every other error.
func (h *Handler) notNow(w http.ResponseWriter, err error) (status int, msg string, ok bool) {
	var (
		te *identity.ThrottledError
		be *identity.BusyError
	)
	switch {
	case errors.As(err, &te):
		return http.StatusTooManyRequests, h.throttled(w, te), true
	case errors.As(err, &be):
		w.Header().Set("Retry-After", be.RetryAfterSeconds())
		return http.StatusServiceUnavailable, busyMessage, true
	}
	return 0, "", false
}

func humanDuration(d time.Duration) string {
	switch s := int((d + time.Second - 1) / time.Second); {
	case s <= 1:
		return "a second"
	case s < 60:
		return itoa(s) + " seconds"
	case s < 120:
		return "a minute"
	default:
		return itoa((s+59)/60) + " minutes"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// ---------------------------------------------------------------- sign in

type loginData struct {
	Email         string
	SignupEnabled bool
	// AppName is the application that sent the person here ("" when none).
	AppName string
	// SignupHref links to sign-up with return_to and the email typed so far
	// (pages.js adds the email typed after the page was drawn).
	SignupHref string
}

func (h *Handler) loginData(r *http.Request, rt, email string) loginData {
	return loginData{
		Email: email, SignupEnabled: !h.cfg.DisableSignup, AppName: h.appName(r, rt),
		SignupHref: loginLink("/signup", rt, email, ""),
	}
}

// appName names the application whose authorization request rt is, or ""
// when rt is not one (or no namer was configured).
func (h *Handler) appName(r *http.Request, rt string) string {
	if h.cfg.AppNames == nil || rt == "" {
		return ""
	}
	return h.cfg.AppNames.AppName(r.Context(), rt)
}

// loginPage shows the sign-in form. A signed-in user is sent on to return_to,
// unless the page was asked to re-authenticate (reauth=1, from prompt=login):
// then the form is shown and the session stays as it is — a GET changes
// nothing — until the new sign-in succeeds.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rt := SafeReturnTo(q.Get("return_to"))
	d := h.loginData(r, rt, prefillEmail(q.Get("email")))
	notice := notices[q.Get("msg")]
	if u, _, ok := h.CurrentUser(r); ok {
		if q.Get("reauth") != "1" {
			http.Redirect(w, r, returnToOr(rt, "/account"), http.StatusSeeOther)
			return
		}
		d = h.loginData(r, rt, u.Email)
		notice = "Sign in again to continue. You stay signed in until you do."
	}
	h.Render(w, r, http.StatusOK, "login.html", Page{Title: "Sign in", ReturnTo: rt, Notice: notice, Data: d})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	rt := SafeReturnTo(r.PostFormValue("return_to"))
	page := Page{Title: "Sign in", ReturnTo: rt, Data: h.loginData(r, rt, email)}
	u, err := h.id.CheckPassword(r.Context(), email, r.PostFormValue("password"), h.clientIP(r))
	if status, msg, ok := h.notNow(w, err); ok {
		// A throttled attempt is refused before the password is looked at,
		// so the message must not send the person to re-check a password
		// that may well have been right.
		page.Error = msg
		if status == http.StatusTooManyRequests {
			page.Error = "Your password was not checked: there have been too many sign-in attempts. " + msg
		}
		h.Render(w, r, status, "login.html", page)
		return
	}
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		page.Error = signInFailed
		h.Render(w, r, http.StatusUnauthorized, "login.html", page)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	// An earlier sign-in still owing its second factor is superseded.
	h.endPending(w, r)
	if u.TOTPEnabled {
		// Half signed in: the pending session lives in its own cookie, so
		// a session this browser already has (re-authentication) is
		// replaced only when the second factor is given, and stays as it
		// was if it never is.
		cookie, pending, err := h.id.StartSession(r.Context(), u.ID, true, r.UserAgent(), h.clientIP(r))
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.setPendingCookie(w, cookie, pending.ExpiresAt)
		http.Redirect(w, r, withReturnTo("/login/2fa", rt), http.StatusSeeOther)
		return
	}
	h.replaceSession(w, r, u.ID, rt, nil)
}

// replaceSession completes a sign-in: a new session with a new id replaces
// whatever session this browser had (and, after a second factor, the
// pending one), then the browser goes on to rt.
func (h *Handler) replaceSession(w http.ResponseWriter, r *http.Request, userID, rt string, pending *store.Session) {
	var (
		cookie string
		sess   *store.Session
		err    error
	)
	if pending != nil {
		cookie, sess, err = h.id.CompleteSignIn(r.Context(), pending, r.UserAgent(), h.clientIP(r))
	} else {
		cookie, sess, err = h.id.StartSession(r.Context(), userID, false, r.UserAgent(), h.clientIP(r))
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if st := h.state(r); st.sess != nil {
		if err := h.id.EndSession(r.Context(), st.sess.ID); err != nil {
			h.log.Error("web: ending previous session", "err", err)
		}
	}
	if pending != nil {
		h.clearPendingCookie(w)
	}
	h.setSessionCookie(w, cookie, sess.ExpiresAt)
	h.signedIn(r, sess.UserID)
	http.Redirect(w, r, returnToOr(rt, "/account"), http.StatusSeeOther)
}

// ---------------------------------------------------------------- second factor

// pendingSession returns the sign-in of this browser that still owes its
// second factor, or nil.
func (h *Handler) pendingSession(r *http.Request) *store.Session {
	if c, err := r.Cookie(h.pendingCookie); err == nil {
		sess, _, err := h.id.Session(r.Context(), c.Value)
		switch {
		case err == nil && sess.MFAPending:
			return sess
		case err != nil && !errors.Is(err, identity.ErrNoSession):
			h.log.Error("web: pending session lookup", "err", err)
		}
	}
	// A pending session in the session cookie: set by an earlier version.
	if st := h.state(r); st.sess != nil && st.sess.MFAPending {
		return st.sess
	}
	return nil
}

// endPending ends the browser's pending sign-in, if any, and clears its
// cookie.
func (h *Handler) endPending(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(h.pendingCookie); err != nil {
		return
	}
	if sess := h.pendingSession(r); sess != nil {
		if err := h.id.EndSession(r.Context(), sess.ID); err != nil {
			h.log.Error("web: ending pending sign-in", "err", err)
		}
	}
	h.clearPendingCookie(w)
}

func (h *Handler) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	rt := SafeReturnTo(r.URL.Query().Get("return_to"))
	if h.pendingSession(r) == nil {
		if _, _, ok := h.CurrentUser(r); ok {
			http.Redirect(w, r, returnToOr(rt, "/account"), http.StatusSeeOther)
		} else {
			http.Redirect(w, r, withReturnTo("/login", rt), http.StatusSeeOther)
		}
		return
	}
	h.Render(w, r, http.StatusOK, "login_2fa.html", Page{Title: "Two-factor authentication", ReturnTo: rt})
}

func (h *Handler) secondFactor(w http.ResponseWriter, r *http.Request) {
	rt := SafeReturnTo(r.PostFormValue("return_to"))
	pending := h.pendingSession(r)
	if pending == nil {
		http.Redirect(w, r, withReturnTo("/login", rt), http.StatusSeeOther)
		return
	}
	page := Page{Title: "Two-factor authentication", ReturnTo: rt}
	_, err := h.id.VerifySecondFactor(r.Context(), pending.UserID, r.PostFormValue("code"), h.clientIP(r))
	var te *identity.ThrottledError
	switch {
	case errors.As(err, &te):
		page.Error = h.throttled(w, te)
		h.Render(w, r, http.StatusTooManyRequests, "login_2fa.html", page)
		return
	case errors.Is(err, identity.ErrInvalidCode), errors.Is(err, identity.ErrCodeReused):
		page.Error = "That code is not right, or it was already used. Enter the current code from your authenticator app, or one of your recovery codes."
		h.Render(w, r, http.StatusUnauthorized, "login_2fa.html", page)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	h.replaceSession(w, r, pending.UserID, rt, pending)
}

// ---------------------------------------------------------------- sign up

type signupData struct {
	Email, Name string
	FieldErrors map[string]string
	AppName     string // the application that sent the person here, or ""
	LoginHref   string // sign-in with return_to and the email typed so far
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	if h.cfg.DisableSignup {
		h.Render(w, r, http.StatusNotFound, "error.html", Page{Title: "Sign-up is closed", Error: "New accounts are created by an administrator on this server."})
		return
	}
	rt := SafeReturnTo(r.URL.Query().Get("return_to"))
	if _, _, ok := h.CurrentUser(r); ok {
		http.Redirect(w, r, returnToOr(rt, "/account"), http.StatusSeeOther)
		return
	}
	email := prefillEmail(r.URL.Query().Get("email"))
	d := signupData{AppName: h.appName(r, rt), Email: email, LoginHref: loginLink("/login", rt, email, "")}
	h.Render(w, r, http.StatusOK, "signup.html", Page{Title: "Create your account", ReturnTo: rt, Data: d})
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if h.cfg.DisableSignup {
		h.Render(w, r, http.StatusNotFound, "error.html", Page{Title: "Sign-up is closed", Error: "New accounts are created by an administrator on this server."})
		return
	}
	rt := SafeReturnTo(r.PostFormValue("return_to"))
	d := signupData{
		Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), FieldErrors: map[string]string{},
		AppName: h.appName(r, rt), LoginHref: loginLink("/login", rt, r.PostFormValue("email"), ""),
	}
	page := Page{Title: "Create your account", ReturnTo: rt, Data: &d}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		d.FieldErrors["password_confirm"] = "The two passwords are not the same."
		page.Error = "Please correct the highlighted fields."
		h.Render(w, r, http.StatusBadRequest, "signup.html", page)
		return
	}
	u, err := h.id.SignUp(r.Context(), identity.NewUser{Email: d.Email, Name: d.Name, Password: password}, h.clientIP(r))
	var pe *identity.PolicyError
	if status, msg, ok := h.notNow(w, err); ok {
		page.Error = msg
		h.Render(w, r, status, "signup.html", page)
		return
	}
	switch {
	case err == nil:
		// A new account is signed straight in and goes on to where the
		// person was headed (the app that sent them, or the account page).
		h.signedUp(r, u.ID)
		h.replaceSession(w, r, u.ID, returnToOr(rt, "/account?msg=welcome"), nil)
		return
	case errors.Is(err, identity.ErrEmailTaken):
		// The account is not theirs until they prove it: on to sign-in,
		// with the email filled in. Signing new accounts in makes this
		// answer differ from a success, so sign-up does tell that an
		// address is registered (as at most sites); the work done is the
		// same (the password was hashed) and sign-ups are throttled per
		// address.
		http.Redirect(w, r, loginLink("/login", rt, d.Email, "account_exists"), http.StatusSeeOther)
		return
	case errors.As(err, &pe):
		d.FieldErrors["password"] = pe.Message
	case errors.Is(err, identity.ErrInvalidEmail):
		d.FieldErrors["email"] = "Enter an email address like name@example.com."
	case errors.Is(err, identity.ErrInvalidName):
		d.FieldErrors["name"] = "Use at most 100 characters, without control characters."
	default:
		h.serverError(w, r, err)
		return
	}
	page.Error = "Please correct the highlighted fields."
	h.Render(w, r, http.StatusBadRequest, "signup.html", page)
}

// loginLink is the sign-in (or sign-up) page p with return_to, the email to
// fill in and a notice (msg), each when set.
func loginLink(p, rt, email, msg string) string {
	v := url.Values{}
	if rt := SafeReturnTo(rt); rt != "" {
		v.Set("return_to", rt)
	}
	if email = prefillEmail(email); email != "" {
		v.Set("email", email)
	}
	if msg != "" {
		v.Set("msg", msg)
	}
	if len(v) == 0 {
		return p
	}
	return p + "?" + v.Encode()
}

// prefillEmail is the email carried between the sign-in and sign-up pages,
// or "" when it is not short, acceptable text (it comes from the URL and is
// only ever shown back in the form field, escaped).
func prefillEmail(s string) string {
	if safetext.Check(s, 254) != nil {
		return ""
	}
	return s
}

// ---------------------------------------------------------------- sign out

func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request) {
	if st := h.state(r); st.sess == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.Render(w, r, http.StatusOK, "logout.html", Page{Title: "Sign out"})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.endPending(w, r)
	h.clearCodesCookie(w)
	if st := h.state(r); st.sess != nil {
		if err := h.id.SignOut(r.Context(), st.sess); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w)
	// A return_to (the consent page's "Not you?") goes back to the request
	// the previous person was deciding, which now asks the next to sign in.
	if rt := SafeReturnTo(r.PostFormValue("return_to")); rt != "" {
		http.Redirect(w, r, rt, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login?msg=signed_out", http.StatusSeeOther)
}

// ---------------------------------------------------------------- account

type sessionView struct {
	Handle    string
	Current   bool
	UserAgent string
	Browser   string // browserSummary(UserAgent)
	IP        string
	Created   time.Time
	LastSeen  time.Time
}

type accountData struct {
	Sessions          []sessionView
	RecoveryCodesLeft int
	FieldErrors       map[string]string
	// EmailVerified: the address was confirmed by a link (or by the
	// operator); MailEnabled: links can be sent from here.
	EmailVerified bool
	MailEnabled   bool
	// Notices are the recent security notices (with MailEnabled).
	Notices []noticeView
}

type noticeView struct {
	identity.Notice
	Browser string // browserSummary(UserAgent)
}

// requireUserPost is RequireUser for form posts: without a session the
// browser goes to sign in and then to the account page.
func (h *Handler) requireUserPost(w http.ResponseWriter, r *http.Request) (*store.User, *store.Session, bool) {
	u, s, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, LoginURL("/account", false), http.StatusSeeOther)
	}
	return u, s, ok
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.RequireUser(w, r)
	if !ok {
		return
	}
	h.renderAccount(w, r, u, sess, http.StatusOK, Page{Notice: notices[r.URL.Query().Get("msg")]}, nil)
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, u *store.User, cur *store.Session, status int, p Page, fieldErrors map[string]string) {
	all, err := h.id.ListSessions(r.Context(), u.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := accountData{FieldErrors: fieldErrors}
	for i := range all {
		s := &all[i]
		v := sessionView{
			Handle: h.id.SessionHandle(s), Current: s.ID == cur.ID,
			UserAgent: s.UserAgent, Browser: browserSummary(s.UserAgent), IP: s.IP, Created: s.CreatedAt, LastSeen: s.LastSeenAt,
		}
		// This browser's session comes first: it is the one people look
		// for, to tell it apart from the ones they may want to end.
		if v.Current {
			d.Sessions = append([]sessionView{v}, d.Sessions...)
		} else {
			d.Sessions = append(d.Sessions, v)
		}
	}
	if d.EmailVerified, err = h.id.EmailVerified(r.Context(), u.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	d.MailEnabled = h.cfg.Mail != nil
	if d.MailEnabled {
		notices, err := h.cfg.Mail.Notices(r.Context(), u.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		for _, n := range notices {
			d.Notices = append(d.Notices, noticeView{Notice: n, Browser: browserSummary(n.UserAgent)})
		}
	}
	if u.TOTPEnabled {
		if d.RecoveryCodesLeft, err = h.id.RecoveryCodesLeft(r.Context(), u.ID); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	p.Title = "Your account"
	p.User = u
	p.Data = d
	h.Render(w, r, status, "account.html", p)
}

// accountFailure renders the account page for a failed form, mapping the
// service's errors to messages.
func (h *Handler) accountFailure(w http.ResponseWriter, r *http.Request, u *store.User, sess *store.Session, err error, field string) {
	var pe *identity.PolicyError
	fe := map[string]string{}
	status := http.StatusBadRequest
	if st, msg, ok := h.notNow(w, err); ok {
		status = st
		fe[field] = msg
		err = nil
	}
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrInvalidCredentials):
		fe[field] = "Your current password is not right."
	case errors.As(err, &pe):
		fe["new_password"] = pe.Message
	default:
		h.serverError(w, r, err)
		return
	}
	h.renderAccount(w, r, u, sess, status, Page{Error: "The change was not made: see the message below."}, fe)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("new_password_confirm") {
		h.renderAccount(w, r, u, sess, http.StatusBadRequest, Page{Error: "The change was not made: see the message below."},
			map[string]string{"new_password_confirm": "The two new passwords are not the same."})
		return
	}
	if err := h.id.ChangePassword(r.Context(), u.ID, r.PostFormValue("current_password"), next, h.clientIP(r)); err != nil {
		h.accountFailure(w, r, u, sess, err, "current_password")
		return
	}
	h.securityNotice(r, u.ID, identity.NoticePasswordChanged)
	// Every session ended with the change; this browser gets a fresh one.
	cookie, ns, err := h.id.StartSession(r.Context(), u.ID, false, r.UserAgent(), h.clientIP(r))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.setSessionCookie(w, cookie, ns.ExpiresAt)
	http.Redirect(w, r, "/account?msg=password_changed", http.StatusSeeOther)
}

// ---------------------------------------------------------------- two-factor

type totpSetupData struct {
	QR      template.URL // data: URL of the PNG QR code
	Secret  string       // grouped in fours
	Account string
	Issuer  string
}

func (h *Handler) totpStart(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	if _, err := h.id.BeginTOTP(r.Context(), u.ID); err != nil && !errors.Is(err, identity.ErrTOTPEnabled) {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
}

func (h *Handler) totpSetupPage(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.RequireUser(w, r)
	if !ok {
		return
	}
	h.renderTOTPSetup(w, r, u, http.StatusOK, "")
}

func (h *Handler) renderTOTPSetup(w http.ResponseWriter, r *http.Request, u *store.User, status int, errMsg string) {
	key, err := h.id.PendingTOTP(r.Context(), u.ID)
	if errors.Is(err, identity.ErrNoPendingTOTP) || errors.Is(err, identity.ErrTOTPEnabled) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	png, err := key.QRCodePNG(240)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.Render(w, r, status, "totp_setup.html", Page{
		Title: "Set up two-factor authentication",
		Error: errMsg,
		Data: totpSetupData{
			// Built here from our own PNG bytes, so marking it safe is sound.
			QR:      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
			Secret:  key.FormattedSecret(),
			Account: u.Email,
			Issuer:  h.id.Config().TOTPIssuer,
		},
	})
}

type recoveryCodesData struct {
	Codes   []string
	Enabled bool // shown right after enrolment
}

func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	codes, err := h.id.ConfirmTOTP(r.Context(), u.ID, r.PostFormValue("code"), h.clientIP(r))
	var te *identity.ThrottledError
	switch {
	case errors.As(err, &te):
		h.renderTOTPSetup(w, r, u, http.StatusTooManyRequests, h.throttled(w, te))
		return
	case errors.Is(err, identity.ErrInvalidCode), errors.Is(err, identity.ErrCodeReused):
		h.renderTOTPSetup(w, r, u, http.StatusBadRequest, "That code is not right. Check that your authenticator shows the account above and enter its current 6-digit code.")
		return
	case errors.Is(err, identity.ErrTOTPEnabled), errors.Is(err, identity.ErrNoPendingTOTP):
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	h.showRecoveryCodes(w, r, sess, codes, true)
}

func (h *Handler) totpDisable(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	if err := h.id.DisableTOTP(r.Context(), u.ID, r.PostFormValue("password"), h.clientIP(r)); err != nil {
		h.accountFailure(w, r, u, sess, err, "disable_password")
		return
	}
	h.securityNotice(r, u.ID, identity.NoticeSecondFactorDisabled)
	http.Redirect(w, r, "/account?msg=2fa_off", http.StatusSeeOther)
}

func (h *Handler) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	codes, err := h.id.RegenerateRecoveryCodes(r.Context(), u.ID, r.PostFormValue("password"), h.clientIP(r))
	if errors.Is(err, identity.ErrTOTPNotEnabled) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.accountFailure(w, r, u, sess, err, "recovery_password")
		return
	}
	h.showRecoveryCodes(w, r, sess, codes, false)
}

// showRecoveryCodes answers the form that made codes with a redirect to the
// page that shows them (post/redirect/get): reloading that page, or going
// back to it, must not resubmit the form — which would make yet another set
// and void the one just saved. The codes travel in a cookie sealed to this
// session and held for identity.RecoveryCodesViewTTL, long enough to save,
// download or copy them; "I have saved my codes" and signing out drop it.
func (h *Handler) showRecoveryCodes(w http.ResponseWriter, r *http.Request, sess *store.Session, codes []string, enrolled bool) {
	sealed, err := h.id.SealShownCodes(sess, codes, enrolled)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.codesCookie, Value: sealed, Path: "/", MaxAge: int(identity.RecoveryCodesViewTTL / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/account/recovery-codes", http.StatusSeeOther)
}

func (h *Handler) clearCodesCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.codesCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	})
}

// shownCodes returns the recovery codes this session may still see, or
// redirects to the account page (they were saved, have expired, or belong
// to another session) and returns nil.
func (h *Handler) shownCodes(w http.ResponseWriter, r *http.Request) (*store.User, *identity.ShownCodes) {
	u, sess, ok := h.RequireUser(w, r)
	if !ok {
		return nil, nil
	}
	var sealed string
	if c, err := r.Cookie(h.codesCookie); err == nil {
		sealed = c.Value
	}
	sc, err := h.id.OpenShownCodes(sess, sealed)
	if err != nil {
		h.clearCodesCookie(w)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil, nil
	}
	return u, sc
}

func (h *Handler) recoveryCodesPage(w http.ResponseWriter, r *http.Request) {
	u, sc := h.shownCodes(w, r)
	if sc == nil {
		return
	}
	p := Page{
		Title: "Your new recovery codes", User: u,
		Notice: "New recovery codes were made; the old ones no longer work.",
		Data:   recoveryCodesData{Codes: sc.Codes, Enabled: sc.Enrolled},
	}
	if sc.Enrolled {
		p.Title, p.Notice = "Save your recovery codes", "Two-factor authentication is now on."
	}
	h.Render(w, r, http.StatusOK, "recovery_codes.html", p)
}

// recoveryCodesDownload serves the codes as a text file to save. Never
// cached: like the page, it holds credentials.
func (h *Handler) recoveryCodesDownload(w http.ResponseWriter, r *http.Request) {
	u, sc := h.shownCodes(w, r)
	if sc == nil {
		return
	}
	var b strings.Builder
	b.WriteString(h.cfg.SiteName + " recovery codes for " + u.Email + "\n")
	b.WriteString("Each code works once, in place of a code from your authenticator app.\n\n")
	for _, c := range sc.Codes {
		b.WriteString(c + "\n")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="recovery-codes.txt"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(b.String()))
}

// recoveryCodesDone drops the codes: they are not shown again.
func (h *Handler) recoveryCodesDone(w http.ResponseWriter, r *http.Request) {
	h.clearCodesCookie(w)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// ---------------------------------------------------------------- sessions

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	handle := r.PostFormValue("session")
	current := handle == h.id.SessionHandle(sess)
	err := h.id.EndSessionByHandle(r.Context(), u.ID, handle)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.serverError(w, r, err)
		return
	}
	if current {
		h.clearSessionCookie(w)
		http.Redirect(w, r, "/login?msg=signed_out", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account?msg=session_ended", http.StatusSeeOther)
}

func (h *Handler) endOtherSessions(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.requireUserPost(w, r)
	if !ok {
		return
	}
	if err := h.id.EndOtherSessions(r.Context(), u.ID, sess.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?msg=sessions_ended", http.StatusSeeOther)
}

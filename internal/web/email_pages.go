package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// AccountMail is what the email-driven pages need from the account flows
// (identity.AccountMail implements it).
type AccountMail interface {
	SendVerification(ctx context.Context, userID string) error
	VerifyEmail(ctx context.Context, token string) error
	RequestPasswordReset(ctx context.Context, address string) error
	ResetPassword(ctx context.Context, token, password string) error
	RequestEmailChange(ctx context.Context, userID, password, newAddress, ip string) error
	ConfirmEmailChange(ctx context.Context, token string) error
	RememberDevice(ctx context.Context, userID, device, describe string, notify bool) error
	Notify(ctx context.Context, userID string, kind identity.NoticeKind) error
	// Notices are the user's recent security notices, newest first.
	Notices(ctx context.Context, userID string) ([]identity.Notice, error)
}

// EmailPages serves the pages reached from email links (verification,
// password reset, address change) and the forms that send them.
//
// A link's GET only shows a page with a button; the POST consumes the
// link. Mail scanners and link previews fetch links, and must not use up a
// single-use link or change an account.
type EmailPages struct {
	h    *Handler
	mail AccountMail
}

// NewEmailPages builds the pages over the account pages' handler.
func NewEmailPages(h *Handler, mail AccountMail) *EmailPages { return &EmailPages{h: h, mail: mail} }

// Routes implements server.Area.
func (p *EmailPages) Routes(mux *http.ServeMux) {
	h := p.h
	get := func(path string, f http.HandlerFunc) { mux.Handle("GET "+path, h.Wrap(f)) }
	post := func(path string, f http.HandlerFunc) { mux.Handle("POST "+path, h.Wrap(h.RequireCSRF(f))) }
	get("/forgot-password", p.forgotPage)
	post("/forgot-password", p.forgot)
	get("/reset-password", p.resetPage)
	post("/reset-password", p.reset)
	get("/verify-email", p.linkPage("verify.html", "Confirm your email address"))
	post("/verify-email", p.verify)
	post("/account/verify-email", p.resendVerification)
	get("/account/email", p.changePage)
	post("/account/email", p.change)
	get("/confirm-email", p.linkPage("confirm_email.html", "Confirm your new email address"))
	post("/confirm-email", p.confirm)
}

type emailPageData struct {
	Token       string
	Email       string
	Sent        bool
	FieldErrors map[string]string
}

const invalidLink = "This link is not valid any more: it was used already, has expired, or was replaced by a newer one."

// forgotSent is the one answer to a reset request, whether or not the
// address has an account.
const forgotSent = "If an account uses this address, a link to choose a new password is on its way. It works once, for 30 minutes."

func (p *EmailPages) forgotPage(w http.ResponseWriter, r *http.Request) {
	d := emailPageData{Email: prefillEmail(r.URL.Query().Get("email"))}
	p.h.Render(w, r, http.StatusOK, "forgot_password.html", Page{Title: "Reset your password", Data: d})
}

// forgot answers identically (status, body) for known and unknown
// addresses: the request does the same work either way, and the message
// itself is sent later, from the outbox.
func (p *EmailPages) forgot(w http.ResponseWriter, r *http.Request) {
	if err := p.mail.RequestPasswordReset(r.Context(), r.PostFormValue("email")); err != nil {
		p.h.serverError(w, r, err)
		return
	}
	p.h.Render(w, r, http.StatusOK, "forgot_password.html", Page{Title: "Reset your password", Notice: forgotSent, Data: emailPageData{Sent: true}})
}

func (p *EmailPages) resetPage(w http.ResponseWriter, r *http.Request) {
	d := emailPageData{Token: r.URL.Query().Get("token")}
	p.h.Render(w, r, http.StatusOK, "reset_password.html", Page{Title: "Choose a new password", Data: d})
}

func (p *EmailPages) reset(w http.ResponseWriter, r *http.Request) {
	d := emailPageData{Token: r.PostFormValue("token"), FieldErrors: map[string]string{}}
	page := Page{Title: "Choose a new password", Data: d}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		d.FieldErrors["password_confirm"] = "The two passwords are not the same."
		page.Error = "Please correct the highlighted fields."
		p.h.Render(w, r, http.StatusBadRequest, "reset_password.html", page)
		return
	}
	err := p.mail.ResetPassword(r.Context(), d.Token, password)
	var pe *identity.PolicyError
	if status, msg, ok := p.h.notNow(w, err); ok {
		page.Error = msg
		p.h.Render(w, r, status, "reset_password.html", page)
		return
	}
	switch {
	case err == nil:
		// Every session ended, this browser's too: sign in afresh.
		p.h.clearSessionCookie(w)
		http.Redirect(w, r, "/login?msg=password_reset", http.StatusSeeOther)
	case errors.Is(err, identity.ErrInvalidLink):
		p.h.Render(w, r, http.StatusGone, "error.html", Page{Title: "Link not valid", Error: invalidLink})
	case errors.As(err, &pe):
		d.FieldErrors["password"] = pe.Message
		page.Error = "Please correct the highlighted fields."
		p.h.Render(w, r, http.StatusBadRequest, "reset_password.html", page)
	default:
		p.h.serverError(w, r, err)
	}
}

// linkPage shows the button that consumes the link in the URL.
func (p *EmailPages) linkPage(tmpl, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.h.Render(w, r, http.StatusOK, tmpl, Page{Title: title, Data: emailPageData{Token: r.URL.Query().Get("token")}})
	}
}

func (p *EmailPages) verify(w http.ResponseWriter, r *http.Request) {
	switch err := p.mail.VerifyEmail(r.Context(), r.PostFormValue("token")); {
	case err == nil:
		p.h.Render(w, r, http.StatusOK, "error.html", Page{Title: "Email address confirmed", Notice: "Thank you: your email address is confirmed."})
	case errors.Is(err, identity.ErrInvalidLink):
		p.h.Render(w, r, http.StatusGone, "error.html", Page{Title: "Link not valid", Error: invalidLink})
	default:
		p.h.serverError(w, r, err)
	}
}

func (p *EmailPages) resendVerification(w http.ResponseWriter, r *http.Request) {
	u, _, ok := p.h.requireUserPost(w, r)
	if !ok {
		return
	}
	if err := p.mail.SendVerification(r.Context(), u.ID); err != nil {
		p.h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?msg=verification_sent", http.StatusSeeOther)
}

func (p *EmailPages) changePage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := p.h.RequireUser(w, r); !ok {
		return
	}
	p.h.Render(w, r, http.StatusOK, "account_email.html", Page{Title: "Change your email address", Data: emailPageData{}})
}

func (p *EmailPages) change(w http.ResponseWriter, r *http.Request) {
	u, _, ok := p.h.requireUserPost(w, r)
	if !ok {
		return
	}
	d := emailPageData{Email: r.PostFormValue("email"), FieldErrors: map[string]string{}}
	page := Page{Title: "Change your email address", Data: d, Error: "The address was not changed: see the message below."}
	err := p.mail.RequestEmailChange(r.Context(), u.ID, r.PostFormValue("current_password"), d.Email, p.h.clientIP(r))
	if status, msg, ok := p.h.notNow(w, err); ok {
		page.Error = msg
		p.h.Render(w, r, status, "account_email.html", page)
		return
	}
	switch {
	case err == nil:
		page.Error, page.Notice = "", "A confirmation link is on its way to "+d.Email+". Your address changes once you open it."
		d.Sent = true
		page.Data = d
		p.h.Render(w, r, http.StatusOK, "account_email.html", page)
		return
	case errors.Is(err, identity.ErrInvalidCredentials):
		d.FieldErrors["current_password"] = "Your current password is not right."
	case errors.Is(err, identity.ErrInvalidEmail):
		d.FieldErrors["email"] = "Enter an email address like name@example.com."
	case errors.Is(err, identity.ErrEmailTaken):
		d.FieldErrors["email"] = "Another account uses this address."
	default:
		p.h.serverError(w, r, err)
		return
	}
	p.h.Render(w, r, http.StatusBadRequest, "account_email.html", page)
}

func (p *EmailPages) confirm(w http.ResponseWriter, r *http.Request) {
	switch err := p.mail.ConfirmEmailChange(r.Context(), r.PostFormValue("token")); {
	case err == nil:
		p.h.Render(w, r, http.StatusOK, "error.html", Page{Title: "Email address changed", Notice: "Your account now uses this address."})
	case errors.Is(err, identity.ErrInvalidLink):
		p.h.Render(w, r, http.StatusGone, "error.html", Page{Title: "Link not valid", Error: invalidLink})
	case errors.Is(err, identity.ErrEmailTaken):
		p.h.Render(w, r, http.StatusConflict, "error.html", Page{Title: "Address taken", Error: "Another account uses this address now."})
	default:
		p.h.serverError(w, r, err)
	}
}

// device is what tells one sign-in's device from another in the
// new-device notices: the browser family and the client's address.
func (h *Handler) device(r *http.Request) (key, describe string) {
	b, ip := browserSummary(r.UserAgent()), h.clientIP(r)
	return b + "|" + ip, b + " from " + ip
}

// signedUp sends the verification link of a new account and remembers its
// first device (no notice: it is the account's own sign-up). A failure is
// logged, not shown: the account exists, and the link can be sent again
// from the account page.
func (h *Handler) signedUp(r *http.Request, userID string) {
	if h.cfg.Mail == nil {
		return
	}
	if err := h.cfg.Mail.SendVerification(r.Context(), userID); err != nil {
		h.log.Error("web: sending verification link", "user_id", userID, "err", err)
	}
	key, describe := h.device(r)
	if err := h.cfg.Mail.RememberDevice(r.Context(), userID, key, describe, false); err != nil {
		h.log.Error("web: remembering device", "user_id", userID, "err", err)
	}
}

// signedIn tells the user of a sign-in from a device not seen before.
func (h *Handler) signedIn(r *http.Request, userID string) {
	if h.cfg.Mail == nil {
		return
	}
	key, describe := h.device(r)
	if err := h.cfg.Mail.RememberDevice(r.Context(), userID, key, describe, true); err != nil {
		h.log.Error("web: new-device notice", "user_id", userID, "err", err)
	}
}

// securityNotice queues a notice of a change already made (logged on
// failure: the change stands either way).
func (h *Handler) securityNotice(r *http.Request, userID string, kind identity.NoticeKind) {
	if h.cfg.Mail == nil {
		return
	}
	if err := h.cfg.Mail.Notify(r.Context(), userID, kind); err != nil {
		h.log.Error("web: security notice", "user_id", userID, "err", err)
	}
}

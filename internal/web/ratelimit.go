package web

import "net/http"

// RateLimited answers a form post the rate limiter refused with a page
// saying when to try again (status 429, or 503 when the limiter cannot
// decide and fails closed).
func (h *Handler) RateLimited(w http.ResponseWriter, r *http.Request, status int, message string) {
	title := "Too many attempts"
	if status == http.StatusServiceUnavailable {
		title = "Temporarily unavailable"
	}
	h.Render(w, r, status, "error.html", Page{Title: title, Error: message + " Nothing was changed."})
}

// PendingAccount is the id of the account whose sign-in awaits its second
// factor in r's cookies, or "": second-factor attempts are limited per
// account as well as per address.
func (h *Handler) PendingAccount(r *http.Request) string {
	if s := h.pendingSession(r); s != nil {
		return s.UserID
	}
	return ""
}

package web

import "net/http"

// BrowserFallback answers a browser's request for a path no route serves
// (internal/server decides, from the Accept header, that it is a browser):
// the landing page at "/", which leads to sign-in or the account, and an
// HTML "page not found" elsewhere, so a person who types a URL never meets
// a JSON error.
func (h *Handler) BrowserFallback() http.Handler {
	return h.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			h.Render(w, r, http.StatusOK, "landing.html", Page{Title: "Welcome to " + h.cfg.SiteName})
			return
		}
		h.Render(w, r, http.StatusNotFound, "not_found.html", Page{Title: "Page not found"})
	}))
}

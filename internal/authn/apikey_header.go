package authn

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/credential"
)

// APIKeyHeader is middleware, installed once around the API, that
//
//   - accepts an API key in the X-API-Key header (seed 000) by presenting it
//     to Require as "Authorization: Bearer <key>", so it is validated by the
//     API-key validator exactly like a bearer key;
//   - refuses API keys in the query string (?api_key=, ?apikey=) with 400, as
//     Require refuses ?access_token=: URLs leak into logs, browser history and
//     Referer headers.
//
// X-API-Key carries API keys only (gthk_…): any other value is invalid_token,
// and sending both X-API-Key and Authorization is invalid_request.
func (a *Authenticator) APIKeyHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			q := r.URL.Query()
			if q.Has("api_key") || q.Has("apikey") {
				a.invalidRequest(w, "Send the API key in the X-API-Key header or as Authorization: Bearer <key>; keys in the URL are refused because URLs leak into logs, history and Referer headers.")
				return
			}
		}
		keys := r.Header.Values("X-API-Key")
		if len(keys) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(keys) > 1 {
			a.invalidRequest(w, "Send exactly one X-API-Key header.")
			return
		}
		if len(r.Header.Values("Authorization")) > 0 {
			a.invalidRequest(w, "Send either X-API-Key or Authorization, not both.")
			return
		}
		key := strings.TrimSpace(keys[0])
		if p, err := credential.Parse(key); err != nil || p.Kind != credential.APIKey {
			a.invalidToken(w, "The X-API-Key header does not hold a valid API key.")
			return
		}
		// Rewritten in place, not on a clone: the server's metrics read the
		// route pattern the mux sets on this same *Request.
		r.Header.Del("X-API-Key")
		r.Header.Set("Authorization", "Bearer "+key)
		next.ServeHTTP(w, r)
	})
}
